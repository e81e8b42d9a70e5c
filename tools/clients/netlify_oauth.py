"""Netlify OAuth 2.0 (authorization code, no PKCE): connect a Netlify account.

```
authorize_url(state, redirect_uri)  app.netlify.com/authorize          (browser)
exchange(code, redirect_uri)        api.netlify.com/oauth/token  ──> TokenSet
```

Netlify's OAuth tokens do not expire and come without a refresh token. Netlify documents
no revocation endpoint for OAuth applications, so this client has no `revoke`: the user
revokes the app under "Applications" in the Netlify user settings. A used, expired or
foreign code answers 400 `invalid_grant`; wrong app credentials 401 `invalid_client`.
"""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

import httpx
from pydantic import SecretStr

from tools.clients._http import HttpApi, Retry
from tools.clients.netlify import NETLIFY
from tools.clients.oauth_tokens import TokenSet, post_token_form, token_set

__all__ = ["NetlifyOAuth"]


class NetlifyOAuth:
    """One registered Netlify OAuth application.

    Args:
        http: The process-wide HTTP client.
        web_base_url: `https://app.netlify.com` (settings: netlify_web_base_url).
        api_base_url: `https://api.netlify.com/api/v1` (settings: netlify_base_url); the
            token endpoint is that host's `/oauth/token`.
        client_id: The OAuth application's client id.
        client_secret: Its secret.
        timeout_s: Per-request timeout.
        retry: Retry policy (token requests are never retried: codes are single use).
    """

    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        web_base_url: str,
        api_base_url: str,
        client_id: str,
        client_secret: SecretStr,
        timeout_s: float = 30.0,
        retry: Retry | None = None,
    ) -> None:
        self._web_base_url = web_base_url.rstrip("/")
        parts = urlsplit(api_base_url)
        self._api = HttpApi(http=http, base_url=f"{parts.scheme}://{parts.netloc}",
                            info=NETLIFY, token=None, timeout_s=timeout_s, retry=retry)  # fmt: skip
        self._client_id, self._secret = client_id, client_secret

    def __repr__(self) -> str:
        return f"NetlifyOAuth(base_url={self._api.base_url!r})"

    def authorize_url(self, *, state: str, redirect_uri: str) -> str:
        """Where to send the browser to authorise the application."""
        query = urlencode({"client_id": self._client_id, "response_type": "code",
                           "redirect_uri": redirect_uri, "state": state})  # fmt: skip
        return f"{self._web_base_url}/authorize?{query}"

    async def exchange(self, code: str, *, redirect_uri: str) -> TokenSet:
        """The token for the `code` Netlify sent to `redirect_uri`."""
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
                "client_id": self._client_id,
                "client_secret": self._secret.get_secret_value()}  # fmt: skip
        answer = await post_token_form(self._api, "/oauth/token", form)
        return token_set(answer, provider=NETLIFY.name)
