"""Saving and checking a user's provider keys: validate with the provider's free,
read-only check, then store encrypted and record the result.

The CLI (`kriptik keys`), the chat's secure key entry and the agent's `check_credential`
all go through here, so validation is rate-limited in one place per user and provider.
Each store and check is an audit row (written by `vault.credentials`); `actor` says who
made it: the user (the default) or "cli".
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

import httpx
from pydantic import BaseModel, SecretStr

from tools.aws_onboarding import aws_secret
from tools.clients.errors import ProviderError
from tools.metrics import Metrics
from vault import CredentialView, Settings, Validation, Vault, parse_provider, redact
from vault.providers import check_secret

# A provider's key check is free but not unlimited (HF's whoami is "intentionally strict").
# A person re-typing a rejected key needs a few checks in a row; a script hammering the
# provider through us does not get more than that.
MIN_CHECK_INTERVAL_S = 30.0  # the window
CHECKS_PER_WINDOW = 3

Outcome = Literal["saved", "saved-unvalidated", "rejected", "unreachable", "rate-limited"]


class SaveResult(BaseModel):
    outcome: Outcome
    message: str
    view: CredentialView | None = None


class Limiter:
    """At most CHECKS_PER_WINDOW checks per user and provider in any sliding window.

    Args:
        clock: Seconds, monotonic.
        window_s: The window; None reads MIN_CHECK_INTERVAL_S at each check. A scripted
            session (`kriptik chat`) takes its own limiter with 0, and leaves the process's
            limit alone.
    """

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, *, window_s: float | None = None
    ) -> None:
        self._clock = clock
        self._window_s = window_s
        self._recent: dict[tuple[str, str], list[float]] = {}

    def allow(self, user_id: str, provider: str) -> bool:
        now = self._clock()
        window = MIN_CHECK_INTERVAL_S if self._window_s is None else self._window_s
        recent = [t for t in self._recent.get((user_id, provider), []) if now - t < window]
        if len(recent) >= CHECKS_PER_WINDOW:
            self._recent[(user_id, provider)] = recent
            return False
        self._recent[(user_id, provider)] = [*recent, now]
        return True


LIMITER = Limiter()


def _title(provider: str) -> str:
    return {
        "openrouter": "OpenRouter",
        "huggingface": "HuggingFace",
        "runpod": "RunPod",
        "github": "GitHub",
        "vercel": "Vercel",
        "netlify": "Netlify",
        "aws": "AWS",
        "gcp": "GCP",
    }[provider]


async def _validate(
    settings: Settings, http: httpx.AsyncClient, provider: str, secret: SecretStr,
    metrics: Metrics | None,
) -> Validation | str:  # fmt: skip
    """The provider's verdict, or a message saying why it could not be reached; counted
    in `metrics` (`kriptik_key_validations_total`) when given."""
    # Imported here: `--no-validate` and listing should not pay for every provider client.
    from tools.clients.validate import validate_key

    try:
        check = await validate_key(provider, secret, settings=settings, http=http)
    except (ProviderError, httpx.HTTPError) as error:
        if metrics is not None:
            metrics.key_validation(provider, "unreachable")
        return redact(f"could not validate the {_title(provider)} key: {str(error).rstrip('.')}")
    if metrics is not None:
        metrics.key_validation(provider, "valid" if check.ok else "rejected")
    return Validation(
        ok=check.ok,
        message=check.message,
        identity=check.identity,
        scopes=list(check.scopes),
        limits=dict(check.limits),
    )


async def save_key(
    vault: Vault,
    settings: Settings,
    http: httpx.AsyncClient,
    *,
    user_id: str,
    provider: str,
    secret: SecretStr,
    label: str = "default",
    validate: bool = True,
    limiter: Limiter = LIMITER,
    actor: str = "user",
    metrics: Metrics | None = None,
) -> SaveResult:
    """Validate (unless told not to), then store. A rejected key is never stored."""
    name = parse_provider(provider)
    title = _title(name)
    if name == "aws":  # a pasted role ARN gets the user's external id (`tools.aws_onboarding`)
        secret = aws_secret(user_id, secret)
    if not validate:
        view = await vault.credentials.add(user_id, name, secret, label=label, actor=actor)
        return SaveResult(
            outcome="saved-unvalidated",
            view=view,
            message=f"{title} key saved, ends in {view.tail}, not validated",
        )
    check_secret(name, secret.get_secret_value())  # refuse junk before spending a check
    if not limiter.allow(user_id, name):
        return SaveResult(
            outcome="rate-limited",
            message=(
                f"{title} keys were checked {CHECKS_PER_WINDOW} times in the last"
                f" {MIN_CHECK_INTERVAL_S:.0f} s; wait a little and try again"
            ),
        )
    verdict = await _validate(settings, http, name, secret, metrics)
    if isinstance(verdict, str):
        return SaveResult(
            outcome="unreachable",
            message=(
                f"{verdict}. Nothing was stored; try again, or store it without checking with"
                f" `kriptik keys add {name} --no-validate`"
            ),
        )
    if not verdict.ok:
        return SaveResult(
            outcome="rejected", message=f"{verdict.message.rstrip('.')}. Nothing was stored."
        )
    await vault.credentials.add(user_id, name, secret, label=label, actor=actor)
    view = await vault.credentials.record_validation(
        user_id, name, verdict, label=label, actor=actor
    )
    who = f" as {verdict.identity}" if verdict.identity else ""
    return SaveResult(
        outcome="saved",
        view=view,
        message=f"{title} key saved, ends in {view.tail}, validated{who}",
    )


async def check_stored_key(
    vault: Vault,
    settings: Settings,
    http: httpx.AsyncClient,
    *,
    user_id: str,
    provider: str,
    label: str = "default",
    limiter: Limiter = LIMITER,
    actor: str = "user",
    metrics: Metrics | None = None,
) -> SaveResult:
    """Re-validate a stored key and record the result."""
    name = parse_provider(provider)
    secret = await vault.credentials.get(user_id, name, label=label)
    if not limiter.allow(user_id, name):
        view = await vault.credentials.describe(user_id, name, label=label)
        return SaveResult(
            outcome="rate-limited",
            view=view,
            message=f"{_title(name)} was checked moments ago; showing that result",
        )
    verdict = await _validate(settings, http, name, secret, metrics)
    if isinstance(verdict, str):
        view = await vault.credentials.describe(user_id, name, label=label)
        return SaveResult(outcome="unreachable", view=view, message=verdict)
    view = await vault.credentials.record_validation(
        user_id, name, verdict, label=label, actor=actor
    )
    return SaveResult(
        outcome="saved" if verdict.ok else "rejected", view=view, message=verdict.message
    )
