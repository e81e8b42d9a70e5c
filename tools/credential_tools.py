"""Agent tools for provider keys: is one stored and valid, and ask the user for one.

Neither tool ever returns a key or any part of one. `request_api_key` is a question to
the user (`CallDeferred(kind='question')`): the chat shows the onboarding content beside
a password field, the key goes from there into the vault, and the model learns only the
placeholder "RUNPOD_API_KEY stored".
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, assert_never

from pydantic import BaseModel, Field
from pydantic_ai import CallDeferred, ModelRetry, RunContext

from tools.credentials import Outcome
from tools.deps import Deps
from tools.onboarding import AskableProvider, onboarding
from tools.targets.base import TARGET_CREDENTIALS

__all__ = ["CredentialStatus", "check_credential", "request_api_key"]

Status = Literal["missing", "valid", "rejected", "unchecked", "unreachable", "rate-limited"]


def _absent(value: object) -> bool:
    return value is None or value == []


class CredentialStatus(BaseModel):
    provider: str
    status: Status
    # Left out of what the model reads when there is nothing to say (no key stored yet):
    # the status and message already say so.
    identity: str | None = Field(default=None, exclude_if=_absent)
    scopes: list[str] = Field(default_factory=list[str], exclude_if=_absent)
    last_checked: datetime | None = Field(default=None, exclude_if=_absent)
    message: str
    # On RunPod's status only: the other deploy targets the user holds a key for, so the
    # model offers them (compare_targets) without one more request to find out.
    other_targets: list[str] = Field(default_factory=list[str], exclude_if=_absent)


def _status(outcome: Outcome) -> Status:
    match outcome:
        case "saved":
            return "valid"
        case "saved-unvalidated":
            return "unchecked"
        case "rejected" | "unreachable" | "rate-limited":
            return outcome
        case _:
            assert_never(outcome)


_LAST_CHECK: dict[bool | None, Status] = {True: "valid", False: "rejected", None: "unchecked"}
_NEXT = "Call request_api_key to ask the user for a {what}key."


async def check_credential(
    ctx: RunContext[Deps], provider: AskableProvider, recheck: bool = False
) -> CredentialStatus:
    """Whether the user has a valid key for a provider (never the key).

    Args:
        provider: Whose key.
        recheck: Ask the provider now, not the last check.

    A recheck is free and rate-limited.
    """
    deps = ctx.deps
    if not await deps.keys.has(deps.user_id, provider):
        message = f"No {onboarding(provider).title} key is stored. " + _NEXT.format(what="")
        return CredentialStatus(provider=provider, status="missing", message=message)
    if recheck:
        result = await deps.key_service.recheck(deps.user_id, provider)
        status = _status(result.outcome)
        message = result.message + (" " + _NEXT.format(what="new ") if status == "rejected" else "")
        view = result.view
    else:
        view = await deps.keys.describe(deps.user_id, provider)
        status = _LAST_CHECK[view.validation_ok]
        message = view.validation_message or "Stored; not validated yet."
    return CredentialStatus(
        provider=provider, status=status, identity=view.identity if view else None,
        scopes=list(view.scopes) if view else [],
        last_checked=view.last_validated_at if view else None, message=message,
        other_targets=await _other_targets(deps) if provider == "runpod" else [],
    )  # fmt: skip


async def _other_targets(deps: Deps) -> list[str]:
    """The deploy targets beside RunPod whose key the user holds (`TARGET_CREDENTIALS`)."""
    return [
        name for name, key in TARGET_CREDENTIALS.items()
        if name != "runpod" and await deps.keys.has(deps.user_id, key)
    ]  # fmt: skip


async def request_api_key(ctx: RunContext[Deps], provider: AskableProvider, reason: str) -> str:
    """Ask the user for a provider key in a secure field you never see.

    Args:
        provider: Whose key.
        reason: One sentence for the user: what it is for.

    The key is stored encrypted; the model only learns that it was stored.
    """
    if not reason.strip():
        raise ModelRetry("Give the user a one-sentence reason for needing the key.")
    info = onboarding(provider)
    raise CallDeferred(
        {"provider": provider, "reason": reason.strip()[:300], "env_name": info.env_name},
        kind="question",
    )
