"""Keeping a new connection: validate its token at once with the provider's free check
(as a pasted key is), then store it with what the check found, and say so in one sentence.

```
validate_key(provider, token)
  ok                       connect (audit "connected"), record the check ("validated")
  rejected                 revoke where the provider allows it; nothing is stored: OAuthFailed
  could not tell (network) store it unvalidated; the next check or use tells
```
"""

from __future__ import annotations

import logging
from typing import Any

import httpx

from tools.clients._http import Retry
from tools.clients.errors import OAuthFailed, ProviderError
from tools.clients.validate import KeyCheck, validate_key
from tools.connect.apps import Apps
from tools.connect.models import Connected, title
from vault import CredentialView, Settings, Validation, Vault
from vault.oauth_grants import OAuthGrant, StoredGrant

__all__ = ["connected_message", "store_connection"]

log = logging.getLogger(__name__)

_VIA = {"device": "GitHub's device flow", "github_app": "the GitHub App", "oauth": "OAuth",
        "pkce": "OpenRouter's key exchange"}  # fmt: skip


def _money(value: object) -> str | None:
    return f"${value:.2f}" if isinstance(value, int | float) else None


def _limits_words(limits: dict[str, Any]) -> str:
    """OpenRouter's key: its limit and what is left of it, as the chat shows them."""
    limit, left, used = (_money(limits.get(k)) for k in ("limit", "limit_remaining", "usage"))
    if limit is None and "limit" in limits:
        return f"no spending limit, {used or '$0.00'} used"
    if limit is None:
        return ""
    return f"limit {limit}, {left or '$0.00'} left, {used or '$0.00'} used"


def connected_message(provider: str, view: CredentialView) -> str:
    """ "GitHub connected as octo (scopes repo, write:packages)", and what else matters."""
    parts = [f"{title(provider)} connected"]
    if view.identity:
        parts.append(f" as {view.identity}")
    if view.connected_via in _VIA:
        parts.append(f" through {_VIA[view.connected_via]}")
    details: list[str] = []
    if view.scopes:
        details.append(f"scopes {', '.join(view.scopes)}")
    if words := _limits_words(view.limits):
        details.append(words)
    if view.expires_at is not None:
        details.append("its token is refreshed automatically before it expires")
    tail = f" ({'; '.join(details)})" if details else ""
    if view.last_validated_at is None:
        tail += "; not validated yet (the provider did not answer), checked on first use"
    return "".join(parts) + tail + "."


async def _revoke_quietly(apps: Apps, provider: str, grant: OAuthGrant, tail: str) -> None:
    stored = StoredGrant(
        access=grant.access, refresh=grant.refresh, expires_at=grant.expires_at,
        refresh_expires_at=grant.refresh_expires_at, scopes=list(grant.scopes), via=grant.via,
        needs_reconnect=False, identity=None, tail=tail,
    )  # fmt: skip
    try:
        await apps.revoke(provider, stored)
    except ProviderError:
        log.warning("could not revoke a rejected %s token", provider)


async def store_connection(
    vault: Vault, settings: Settings, http: httpx.AsyncClient, apps: Apps, *,
    user_id: str, provider: str, grant: OAuthGrant, retry: Retry | None,
) -> Connected:  # fmt: skip
    """Validate `grant`'s token, then store it (see the module docstring)."""
    check: KeyCheck | None
    try:
        check = await validate_key(provider, grant.access, settings=settings, http=http,
                                   retry=retry)  # fmt: skip
    except ProviderError:
        check = None
    if check is not None and not check.ok:
        await _revoke_quietly(apps, provider, grant, grant.access.get_secret_value()[-4:])
        raise OAuthFailed(
            f"{check.message.rstrip('.')}. The connection was not kept; nothing was stored.",
            provider=title(provider), code="rejected",
        )  # fmt: skip
    view = await vault.credentials.connect(user_id, provider, grant)
    if check is not None:
        verdict = Validation(
            ok=True, message=check.message, identity=check.identity,
            scopes=list(check.scopes) or list(grant.scopes), limits=dict(check.limits),
        )  # fmt: skip
        view = await vault.credentials.record_validation(user_id, provider, verdict)
    return Connected(
        provider=provider, tail=view.tail, identity=view.identity, scopes=list(view.scopes),
        expires_at=view.expires_at, limits=dict(view.limits),
        message=connected_message(provider, view),
    )  # fmt: skip
