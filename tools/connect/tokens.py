"""Token use: every provider call takes its token from `token()`, which refreshes a
connected account's token before it expires, and `require_scopes()` checks, before any
spend, that the credential can do the next step.

```
token(user, provider)
  pasted key, or a token with more than 5 min left          -> it
  less than 5 min left, refreshable                         -> refresh, store, -> the new one
  refresh refused for good (revoked, expired refresh token) -> needs_reconnect (audited),
                                                               ReconnectNeeded
  refresh failed for now (network, 5xx)                     -> the old token while it lasts,
                                                               else the ProviderError
  marked needs_reconnect                                    -> ReconnectNeeded
require_scopes(user, provider, features)
  a live, free check (validate_key): rejected -> ReconnectNeeded; a scope missing -> MissingScopes
```

One refresh at a time per user and provider in this process (a lock), and a refresh that
another instance won (its rotated refresh token makes ours fail) is taken from the vault
instead of being read as a revoked grant.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Final

import httpx
from pydantic import SecretStr

from tools.clients._http import Retry
from tools.clients.errors import OAuthFailed, ProviderError
from tools.clients.validate import KeyCheck, validate_key
from tools.connect.apps import Apps, grant_of
from tools.connect.models import Feature, MissingScopes, ReconnectNeeded
from vault import Settings, Validation, Vault
from vault.oauth_grants import StoredGrant

__all__ = ["REFRESH_MARGIN", "TokenKeeper"]

# Refresh when less than this is left: a deploy step started now must not see it expire.
REFRESH_MARGIN: Final = timedelta(minutes=5)
# Token-endpoint answers that mean the grant is gone for good (the rest may pass).
_PERMANENT: Final = frozenset(
    {"invalid_grant", "bad_refresh_token", "invalid_token", "unauthorized_client", "no_token"}
)


def _github_scopes(check: KeyCheck, features: set[Feature]) -> None:
    """`repo` (validate_key refuses a classic token without it), and `write:packages` for
    GHCR, which takes classic OAuth tokens only: a fine-grained or GitHub App token lists
    no scopes at all."""
    if not check.ok:
        raise MissingScopes("github", ("repo",), why="pushing the app's code needs")
    if "ghcr" in features and "write:packages" not in check.scopes:
        why = "pushing worker images to GHCR needs"
        if not check.scopes:
            why += " (GHCR takes classic tokens only: connect through the device flow)"
        raise MissingScopes("github", ("write:packages",), why=why)


class TokenKeeper:
    """`token` and `require_scopes` of `tools.connect.Connections`."""

    def __init__(
        self, vault: Vault, settings: Settings, http: httpx.AsyncClient, apps: Apps, *,
        clock: Callable[[], datetime], retry: Retry | None,
    ) -> None:  # fmt: skip
        self._vault, self._settings, self._http, self._apps = vault, settings, http, apps
        self._clock, self._retry = clock, retry
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    def _fresh(self, grant: StoredGrant) -> bool:
        return grant.expires_at is None or grant.expires_at - self._clock() > REFRESH_MARGIN

    async def token(self, user_id: str, provider: str) -> SecretStr:
        """The credential's token, refreshed when it has less than five minutes left.

        Raises:
            CredentialNotFound: None is stored.
            ReconnectNeeded: It needs connecting again (the refresh failed for good).
            ProviderError: A refresh was needed and the provider could not be reached.
        """
        grant = await self._vault.credentials.grant(user_id, provider)
        if grant.needs_reconnect:
            raise ReconnectNeeded(provider, "a refresh failed earlier")
        if self._fresh(grant):
            return grant.access
        lock = self._locks.setdefault((user_id, provider), asyncio.Lock())
        async with lock:
            grant = await self._vault.credentials.grant(user_id, provider)  # refreshed meanwhile?
            if grant.needs_reconnect:
                raise ReconnectNeeded(provider, "a refresh failed earlier")
            if self._fresh(grant):
                return grant.access
            return await self._refresh(user_id, provider, grant)

    async def _refresh(self, user_id: str, provider: str, grant: StoredGrant) -> SecretStr:
        refresh = self._apps.refresher(provider, grant.via)
        now = self._clock()
        gone = grant.refresh_expires_at is not None and grant.refresh_expires_at <= now
        if refresh is None or grant.refresh is None or gone:
            if grant.expires_at is not None and grant.expires_at > now:
                return grant.access  # not refreshable, but it still works for a while
            why = "its refresh token expired" if gone else "the token expired"
            return await self._give_up(user_id, provider, why)
        try:
            tokens = await refresh(grant.refresh)
        except OAuthFailed as err:
            if err.code not in _PERMANENT:
                raise
            latest = await self._vault.credentials.grant(user_id, provider)
            if latest.access != grant.access and not latest.needs_reconnect:
                return latest.access  # another instance refreshed first (rotation)
            return await self._give_up(user_id, provider, f"{err.code}: {err.message}")
        except ProviderError:
            if grant.expires_at is not None and grant.expires_at > now:
                return grant.access  # try again next time, while the token still works
            raise
        fresh = grant_of(tokens, grant.via or "oauth", self._clock())
        await self._vault.credentials.refreshed(user_id, provider, fresh)
        return fresh.access

    async def _give_up(self, user_id: str, provider: str, reason: str) -> SecretStr:
        await self._vault.credentials.needs_reconnect(user_id, provider, reason)
        raise ReconnectNeeded(provider, reason)

    async def require_scopes(self, user_id: str, provider: str, features: set[Feature]) -> None:
        """Check, with the provider's free read-only call, that the credential works and has
        the scopes `features` need. Call it before anything is spent.

        Raises:
            CredentialNotFound: None is stored.
            ReconnectNeeded: The provider rejects it (or its refresh failed for good).
            MissingScopes: It works but lacks a scope (GHCR's `write:packages`).
            ProviderError: The provider could not be reached (nothing is recorded).
        """
        token = await self.token(user_id, provider)
        check = await validate_key(provider, token, settings=self._settings, http=self._http,
                                   retry=self._retry)  # fmt: skip
        if check.ok or (provider == "github" and check.identity is not None):
            if provider == "github":
                _github_scopes(check, features)
            return
        await self._rejected(user_id, provider, check)

    async def _rejected(self, user_id: str, provider: str, check: KeyCheck) -> None:
        grant = await self._vault.credentials.grant(user_id, provider)
        if grant.via is not None:
            await self._vault.credentials.needs_reconnect(user_id, provider, check.message)
        else:
            verdict = Validation(ok=False, message=check.message)
            await self._vault.credentials.record_validation(user_id, provider, verdict)
        raise ReconnectNeeded(provider, check.message)
