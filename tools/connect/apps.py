"""The registered OAuth apps, as provider clients built from the settings: who exchanges
a code, who refreshes a token, and who revokes one.

```
github  device     GitHubDeviceFlow (github_oauth_*)   no refresh   revoke: the OAuth app's
        github_app GitHubAppAuth (github_app_*)        refresh      revoke: the App's
vercel  oauth      VercelOAuth (vercel_oauth_*)        refresh      revoke
netlify oauth      NetlifyOAuth (netlify_oauth_*)      no refresh   no revoke (none documented)
openrouter pkce    OpenRouterKeyExchange               no refresh   no revoke (the user deletes
                                                                    the key at openrouter.ai)
```
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Final

import httpx
from pydantic import SecretStr

from tools.clients._http import Retry
from tools.clients.errors import OAuthFailed
from tools.clients.github_oauth import GitHubAppAuth, GitHubDeviceFlow, revoke_github_token
from tools.clients.netlify_oauth import NetlifyOAuth
from tools.clients.oauth_tokens import TokenSet
from tools.clients.openrouter_oauth import OpenRouterKeyExchange
from tools.clients.vercel_oauth import VercelOAuth
from tools.connect.models import title
from vault import Settings
from vault.oauth_grants import OAuthGrant, StoredGrant, Via

__all__ = ["NO_REVOKE", "Apps", "grant_of"]

Refresh = Callable[[SecretStr], Awaitable[TokenSet]]
# Where a user removes what we cannot revoke for them.
NO_REVOKE: Final[dict[str, str]] = {
    "netlify": "Netlify offers apps no way to revoke a token: remove KripTik under User "
    "settings > Applications at https://app.netlify.com/user/applications.",
    "openrouter": "The OpenRouter key stays active at OpenRouter until you delete it at "
    "https://openrouter.ai/settings/keys.",
}


def grant_of(tokens: TokenSet, via: Via, now: datetime) -> OAuthGrant:
    """The vault's `OAuthGrant` for a token set received at `now`."""

    def after(seconds: int | None) -> datetime | None:
        return now + timedelta(seconds=seconds) if seconds is not None else None

    return OAuthGrant(
        access=tokens.access_token, refresh=tokens.refresh_token, scopes=list(tokens.scopes),
        expires_at=after(tokens.expires_in),
        refresh_expires_at=after(tokens.refresh_token_expires_in), via=via,
    )  # fmt: skip


def _not_configured(provider: str, what: str) -> OAuthFailed:
    return OAuthFailed(
        f"{title(provider)} cannot be connected here: the operator has not registered {what} "
        "(docs/connect.md). Paste a key instead.",
        provider=title(provider), code="not_configured",
    )  # fmt: skip


class Apps:
    """The provider clients of the registered apps, over one HTTP client."""

    def __init__(self, settings: Settings, http: httpx.AsyncClient, retry: Retry | None) -> None:
        self._s, self._http, self._retry = settings, http, retry

    def device(self) -> GitHubDeviceFlow:
        s = self._s
        if not s.github_oauth_client_id:
            raise _not_configured("github", "a GitHub OAuth app with Device Flow")
        return GitHubDeviceFlow(http=self._http, base_url=s.github_web_base_url,
                                client_id=s.github_oauth_client_id,
                                timeout_s=s.http_timeout_s, retry=self._retry)  # fmt: skip

    def github_app(self) -> GitHubAppAuth:
        s = self._s
        if not s.github_app_client_id or s.github_app_client_secret is None:
            raise _not_configured("github", "a GitHub App")
        return GitHubAppAuth(
            http=self._http, web_base_url=s.github_web_base_url,
            api_base_url=s.github_api_base_url, client_id=s.github_app_client_id,
            client_secret=s.github_app_client_secret, slug=s.github_app_slug,
            timeout_s=s.http_timeout_s, retry=self._retry,
        )  # fmt: skip

    def vercel(self) -> VercelOAuth:
        s = self._s
        if not s.vercel_oauth_client_id or s.vercel_oauth_client_secret is None:
            raise _not_configured("vercel", "a Vercel App")
        return VercelOAuth(
            http=self._http, web_base_url=s.vercel_web_base_url, api_base_url=s.vercel_base_url,
            client_id=s.vercel_oauth_client_id, client_secret=s.vercel_oauth_client_secret,
            timeout_s=s.http_timeout_s, retry=self._retry,
        )  # fmt: skip

    def netlify(self) -> NetlifyOAuth:
        s = self._s
        if not s.netlify_oauth_client_id or s.netlify_oauth_client_secret is None:
            raise _not_configured("netlify", "a Netlify OAuth application")
        return NetlifyOAuth(
            http=self._http, web_base_url=s.netlify_web_base_url,
            api_base_url=s.netlify_base_url, client_id=s.netlify_oauth_client_id,
            client_secret=s.netlify_oauth_client_secret, timeout_s=s.http_timeout_s,
            retry=self._retry,
        )  # fmt: skip

    def openrouter(self) -> OpenRouterKeyExchange:
        s = self._s
        if not s.openrouter_connect:
            raise _not_configured("openrouter", "OpenRouter's key exchange (it is turned off)")
        return OpenRouterKeyExchange(
            http=self._http, web_base_url=s.openrouter_web_base_url,
            api_base_url=s.openrouter_base_url, timeout_s=s.http_timeout_s, retry=self._retry,
        )  # fmt: skip

    def refresher(self, provider: str, via: Via | None) -> Refresh | None:
        """Who refreshes this credential's token, or None when nothing can (a token that
        does not expire, or an app no longer configured)."""
        try:
            if provider == "github" and via == "github_app":
                return self.github_app().refresh
            if provider == "vercel" and via == "oauth":
                return self.vercel().refresh
        except OAuthFailed:
            return None
        return None

    async def revoke(self, provider: str, grant: StoredGrant) -> bool | None:
        """Revoke a connected credential at its provider: True when revoked, False when the
        provider no longer knew it, None when this provider (or a pasted key) offers no way.

        Raises:
            ProviderError: The provider could not be reached or refused the app.
        """
        if grant.via is None or provider in NO_REVOKE:
            return None
        if provider == "vercel":
            vercel = self.vercel()
            revoked = await vercel.revoke(grant.refresh) if grant.refresh else False
            return await vercel.revoke(grant.access) or revoked
        if provider == "github" and grant.via == "github_app":
            return await self.github_app().revoke(grant.access)
        s = self._s
        if provider == "github" and s.github_oauth_client_id and s.github_oauth_client_secret:
            return await revoke_github_token(
                self._http, api_base_url=s.github_api_base_url,
                client_id=s.github_oauth_client_id, client_secret=s.github_oauth_client_secret,
                token=grant.access, timeout_s=s.http_timeout_s,
            )  # fmt: skip
        return None
