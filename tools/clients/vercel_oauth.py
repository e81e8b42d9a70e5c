"""Sign in with Vercel (OAuth 2.0 with PKCE): connect a Vercel account, refresh its
short-lived token, and revoke it.

```
authorize_url(state, redirect_uri, pkce, scopes)   vercel.com/oauth/authorize  (browser)
exchange(code, redirect_uri, pkce) ──> TokenSet     api.vercel.com/login/oauth/token
refresh(refresh_token)             ──> TokenSet     same endpoint, grant_type=refresh_token
revoke(token)                      ──> bool         api.vercel.com/login/oauth/token/revoke
```

Access tokens live 1 h; the refresh token (30 d) comes with the `offline_access` scope,
and rotates on each use. A wrong PKCE verifier, a used or expired code and a revoked
refresh token all answer 400 `invalid_grant` -> `OAuthFailed(code="invalid_grant")`.
The client authenticates with its id and secret in the form (client_secret_post).
"""

from __future__ import annotations

from urllib.parse import urlencode

import httpx
from pydantic import SecretStr

from tools.clients._http import HttpApi, Retry
from tools.clients.oauth_tokens import Pkce, TokenSet, post_token_form, token_set
from tools.clients.vercel import VERCEL

__all__ = ["VercelOAuth"]

_GRANT_PATH = "/login/oauth/token"


class VercelOAuth:
    """One registered Vercel App ("Sign in with Vercel").

    Args:
        http: The process-wide HTTP client.
        web_base_url: `https://vercel.com` (settings: vercel_web_base_url).
        api_base_url: `https://api.vercel.com` (settings: vercel_base_url).
        client_id: The App's client id.
        client_secret: The App's client secret.
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
        self._api = HttpApi(http=http, base_url=api_base_url, info=VERCEL, token=None,
                            timeout_s=timeout_s, retry=retry)  # fmt: skip
        self._client_id, self._secret = client_id, client_secret

    def __repr__(self) -> str:
        return f"VercelOAuth(base_url={self._api.base_url!r})"

    def authorize_url(
        self, *, state: str, redirect_uri: str, pkce: Pkce, scopes: tuple[str, ...]
    ) -> str:
        """Where to send the browser; `scopes` empty asks for all the App is configured for."""
        params = {"client_id": self._client_id, "redirect_uri": redirect_uri,
                  "response_type": "code", "state": state, "code_challenge": pkce.challenge,
                  "code_challenge_method": pkce.method}  # fmt: skip
        if scopes:
            params["scope"] = " ".join(scopes)
        return f"{self._web_base_url}/oauth/authorize?{urlencode(params)}"

    async def exchange(self, code: str, *, redirect_uri: str, pkce: Pkce) -> TokenSet:
        """The token set for the `code` Vercel sent to `redirect_uri`."""
        form = self._client_form() | {
            "grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
            "code_verifier": pkce.verifier.get_secret_value(),
        }  # fmt: skip
        return token_set(await post_token_form(self._api, _GRANT_PATH, form), provider=VERCEL.name)

    async def refresh(self, refresh_token: SecretStr) -> TokenSet:
        """A new token set; the old refresh token stops working (rotation)."""
        form = self._client_form() | {
            "grant_type": "refresh_token", "refresh_token": refresh_token.get_secret_value()
        }  # fmt: skip
        return token_set(await post_token_form(self._api, _GRANT_PATH, form), provider=VERCEL.name)

    async def revoke(self, token: SecretStr) -> bool:
        """Revoke an access or refresh token (RFC 7009: 200 also for an unknown token)."""
        form = self._client_form() | {"token": token.get_secret_value()}
        resp, _ = await self._api.exchange(
            "POST", f"{_GRANT_PATH}/revoke", content=urlencode(form).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            idempotent=True, ok={200, 204, 400, 404}, parse=False, what="the Vercel connection",
        )  # fmt: skip
        return resp.status_code in (200, 204)

    def _client_form(self) -> dict[str, str]:
        return {"client_id": self._client_id, "client_secret": self._secret.get_secret_value()}
