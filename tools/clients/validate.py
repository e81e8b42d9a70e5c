"""Check a provider key with that provider's free, read-only call.

```
validate_key(provider, secret) ──> KeyCheck(ok=True,  identity, scopes, limits, message)
                                   KeyCheck(ok=False, message=<what to do next>)   bad key
                                   raises ProviderError (RateLimited, Upstream,
                                     Timeout, Unreachable ...)          could not tell
```

`ok=False` means the provider answered and the key will not do (rejected, or lacking
the access KripTik needs). When the provider could not give an answer (network, 5xx,
429), the `ProviderError` propagates: its message says to try again, and the caller must
not record the key as invalid. The secret never appears in a `KeyCheck`, a log line or
an exception. AWS credentials (JSON) are checked for shape, then with STS through boto3:
a key pair with `GetCallerIdentity`; a role is assumed (proving its trust policy names
KripTik's principal and the user's external id), then IAM's policy simulator says whether
it allows every step of a deployment (`tools.clients.aws_iam`). GCP service-account
files get a local check of shape and of the private key only (no SDK here), and say so.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from tools.clients import _structured
from tools.clients._http import Retry
from tools.clients.aws_credentials import (
    AwsKeyCredential,
    InvalidAwsCredential,
    parse_aws_credential,
)
from tools.clients.aws_iam import check_permissions
from tools.clients.aws_permissions import AwsNames, plan_checks
from tools.clients.aws_session import AwsSession
from tools.clients.errors import AuthError, ProviderPermissionError
from tools.clients.github import GITHUB, GitHubClient
from tools.clients.huggingface import HuggingFaceClient
from tools.clients.netlify import NetlifyClient
from tools.clients.openrouter import OpenRouterClient
from tools.clients.runpod import RunPodClient
from tools.clients.vercel import VercelClient
from vault.settings import Settings

__all__ = ["PROVIDERS", "KeyCheck", "validate_key"]

Limits = dict[str, float | int | str | None]


class KeyCheck(BaseModel):
    """The verdict on one key. `message` is written for the user."""

    model_config = ConfigDict(frozen=True)

    ok: bool
    identity: str | None = None
    scopes: list[str] = Field(default_factory=list[str])
    limits: Limits = Field(default_factory=Limits)
    message: str


_Check = Callable[[SecretStr, Settings, httpx.AsyncClient, Retry], Awaitable[KeyCheck]]
_C = TypeVar("_C")
_C_co = TypeVar("_C_co", covariant=True)
# A person is waiting: one retry, and no sitting through a long Retry-After.
_QUICK = Retry(max_attempts=2, max_retry_after_s=5.0)


class _RestClient(Protocol[_C_co]):
    """How every REST client is built (`ProviderClient`, and `HuggingFaceClient`)."""

    def __call__(
        self, *, http: httpx.AsyncClient, base_url: str, token: SecretStr, timeout_s: float,
        retry: Retry | None,
    ) -> _C_co: ...  # fmt: skip


def _rest(
    client: _RestClient[_C], base_url: Callable[[Settings], str],
    verdict: Callable[[_C], Awaitable[KeyCheck]],
) -> _Check:  # fmt: skip
    """A check that builds `client` for the key and asks it for a `verdict`."""

    async def check(key: SecretStr, s: Settings, http: httpx.AsyncClient, retry: Retry) -> KeyCheck:
        built = client(http=http, base_url=base_url(s), token=key, timeout_s=s.http_timeout_s,
                       retry=retry)  # fmt: skip
        return await verdict(built)

    return check


async def _openrouter(c: OpenRouterClient) -> KeyCheck:
    info = await c.key()
    limits: Limits = {
        "limit": info.limit,
        "limit_remaining": info.limit_remaining,
        "usage": info.usage,
    }
    if info.limit_remaining is not None and info.limit_remaining <= 0:
        return KeyCheck(ok=False, identity=info.label, limits=limits, message=(
            "OpenRouter accepted the key, but its credit limit is used up. Raise the limit or "
            "add credit at https://openrouter.ai/settings/keys, then try again."))  # fmt: skip
    left = (
        "no spending limit"
        if info.limit is None
        else f"${info.limit_remaining or 0:.2f} of ${info.limit:.2f} left"
    )
    return KeyCheck(
        ok=True, identity=info.label, limits=limits, message=f"OpenRouter key validated ({left})."
    )


async def _huggingface(c: HuggingFaceClient) -> KeyCheck:
    me = await c.whoami()
    role = me.token_role or "unknown"
    message = f"Hugging Face token validated for {me.name} (role: {role})."
    return KeyCheck(
        ok=True, identity=me.name, scopes=[role], limits={"role": role}, message=message
    )


async def _runpod(c: RunPodClient) -> KeyCheck:
    endpoints = await c.list_endpoints()
    return KeyCheck(ok=True, limits={"endpoints": len(endpoints)}, message=(
        f"RunPod key validated: it can read your serverless endpoints ({len(endpoints)}). "
        "Write access is confirmed by the first deployment."))  # fmt: skip


async def _github(c: GitHubClient) -> KeyCheck:
    me = await c.user()
    if me.scopes is None:  # Fine-grained tokens report no scopes; pushing will show.
        return KeyCheck(ok=True, identity=me.login, message=(
            f"GitHub token validated for {me.login}. It is fine-grained, so its repository "
            "permissions are checked when KripTik first pushes."))  # fmt: skip
    scopes = list(me.scopes)
    if not {"repo", "public_repo"} & set(scopes):
        message = (
            f"GitHub accepted the token for {me.login}, but it lacks the `repo` scope that "
            f"pushing code needs. Create one with `repo` and `workflow` at {GITHUB.keys_url}, "
            "then paste it here."
        )
        return KeyCheck(ok=False, identity=me.login, scopes=scopes, message=message)
    message = f"GitHub token validated for {me.login} (scopes: {', '.join(scopes)})."
    return KeyCheck(ok=True, identity=me.login, scopes=scopes, message=message)


async def _vercel(c: VercelClient) -> KeyCheck:
    me = await c.user()
    who = me.username or me.email or me.id
    return KeyCheck(ok=True, identity=who, message=f"Vercel token validated for {who}.")


async def _netlify(c: NetlifyClient) -> KeyCheck:
    me = await c.user()
    who = me.email or me.full_name or me.id
    return KeyCheck(ok=True, identity=who, message=f"Netlify token validated for {who}.")


async def _aws(key: SecretStr, s: Settings, http: httpx.AsyncClient, retry: Retry) -> KeyCheck:
    try:
        credential = parse_aws_credential(key)
    except InvalidAwsCredential as err:
        return KeyCheck(ok=False, message=str(err))
    if isinstance(credential, AwsKeyCredential) and not (shape := _structured.check_aws(key))[0]:
        return KeyCheck(ok=False, message=shape[2])
    session = AwsSession.from_settings(credential, settings=s, retry=retry,
                                       region=credential.region or "us-east-1",
                                       session_name="kriptik-key-check")  # fmt: skip
    try:
        me = await session.identity()
        if isinstance(credential, AwsKeyCredential):
            return KeyCheck(ok=True, identity=me.arn, limits={"account": me.account},
                            message=f"AWS credentials validated for {me.arn}.")  # fmt: skip
        if not await session.external_id_enforced():
            return KeyCheck(ok=False, identity=credential.role_arn, message=(
                f"KripTik could assume the AWS role {credential.role_arn} without your external "
                "id, so anyone's KripTik account could too. Update its trust policy from the "
                "CloudFormation template KripTik generated (it requires your external id), "
                "then try again."))  # fmt: skip
        names = AwsNames.for_external_id(credential.external_id)
        checks = plan_checks(names, me.account, session.region)
        report = await check_permissions(session, checks, principal_arn=credential.role_arn)
    finally:
        await session.aclose()
    message = f"KripTik assumed the AWS role {credential.role_arn}. {report.note}"
    return KeyCheck(ok=report.ok or not report.checked, identity=credential.role_arn,
                    limits={"account": me.account}, message=message)  # fmt: skip


async def _gcp(key: SecretStr, s: Settings, http: httpx.AsyncClient, retry: Retry) -> KeyCheck:
    ok, identity, message = _structured.check_gcp(key)
    return KeyCheck(ok=ok, identity=identity, message=message)


# Provider -> its check: which client (on which base URL) and what it asks for free.
PROVIDERS: dict[str, _Check] = {
    "openrouter": _rest(OpenRouterClient, lambda s: s.openrouter_base_url, _openrouter),
    "huggingface": _rest(HuggingFaceClient, lambda s: s.huggingface_base_url, _huggingface),
    "runpod": _rest(RunPodClient, lambda s: s.runpod_rest_base_url, _runpod),
    "github": _rest(GitHubClient, lambda s: s.github_api_base_url, _github),
    "vercel": _rest(VercelClient, lambda s: s.vercel_base_url, _vercel),
    "netlify": _rest(NetlifyClient, lambda s: s.netlify_base_url, _netlify),
    "aws": _aws,  # JSON: a role to assume, or a key pair (boto3)
    "gcp": _gcp,  # a local check only
}


async def validate_key(
    provider: str,
    secret: SecretStr,
    *,
    settings: Settings,
    http: httpx.AsyncClient,
    retry: Retry | None = None,
) -> KeyCheck:
    """Validate `secret` for `provider` with the provider's free, read-only call.

    Args:
        provider: One of `PROVIDERS` ("openrouter", "huggingface", "runpod", "github",
            "vercel", "netlify", "aws", "gcp").
        secret: The key (for aws and gcp, their JSON).
        settings: Base URLs and the timeout.
        http: The process-wide HTTP client.
        retry: Retry policy; by default one quick retry.

    Returns:
        `ok=True` with identity, scopes and limits; or `ok=False` with the next step.

    Raises:
        ProviderError: The provider could not give an answer (network, 5xx, 429); the
            message says to try again. The key's validity is then unknown.
        ValueError: Unknown provider.
    """
    check = PROVIDERS.get(provider)
    if check is None:
        raise ValueError(f"unknown provider {provider!r}; expected one of {sorted(PROVIDERS)}")
    try:
        return await check(secret, settings, http, retry or _QUICK)
    except (AuthError, ProviderPermissionError) as err:
        return KeyCheck(ok=False, message=err.message)
