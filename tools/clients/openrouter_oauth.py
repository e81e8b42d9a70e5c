"""OpenRouter's PKCE key exchange: the user approves at openrouter.ai and the app gets a
user-controlled API key (the user sets its limit, and can delete it there).

```
auth_url(callback_url, pkce)  openrouter.ai/auth?callback_url&code_challenge&...  (browser)
exchange(code, pkce)          POST {api}/auth/keys {code, code_verifier, code_challenge_method}
                              ──> SecretStr key (`sk-or-v1-...`)
```

A used or unknown code, or a verifier that does not match the challenge, answers 400 or
403 -> `OAuthFailed(code="invalid_grant")`. The key never expires by itself.
"""

from __future__ import annotations

from urllib.parse import urlencode

import httpx
from pydantic import SecretStr

from tools.clients._http import HttpApi, Retry, as_dict
from tools.clients.oauth_tokens import Pkce, oauth_error
from tools.clients.openrouter import OPENROUTER

__all__ = ["OpenRouterKeyExchange"]


class OpenRouterKeyExchange:
    """OpenRouter's PKCE flow (no app registration: the callback URL names the app).

    Args:
        http: The process-wide HTTP client.
        web_base_url: `https://openrouter.ai` (settings: openrouter_web_base_url).
        api_base_url: `https://openrouter.ai/api/v1` (settings: openrouter_base_url).
        timeout_s: Per-request timeout.
        retry: Retry policy (the exchange is never retried: a code is single use).
    """

    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        web_base_url: str,
        api_base_url: str,
        timeout_s: float = 30.0,
        retry: Retry | None = None,
    ) -> None:
        self._web_base_url = web_base_url.rstrip("/")
        self._api = HttpApi(http=http, base_url=api_base_url, info=OPENROUTER, token=None,
                            timeout_s=timeout_s, retry=retry)  # fmt: skip

    def __repr__(self) -> str:
        return f"OpenRouterKeyExchange(base_url={self._api.base_url!r})"

    def auth_url(self, *, callback_url: str, pkce: Pkce) -> str:
        """Where to send the browser; OpenRouter redirects to `callback_url?code=...`."""
        query = urlencode({"callback_url": callback_url, "code_challenge": pkce.challenge,
                           "code_challenge_method": pkce.method})  # fmt: skip
        return f"{self._web_base_url}/auth?{query}"

    async def exchange(self, code: str, *, pkce: Pkce) -> SecretStr:
        """The user's new API key for `code`."""
        body = {"code": code, "code_verifier": pkce.verifier.get_secret_value(),
                "code_challenge_method": pkce.method}  # fmt: skip
        resp, data = await self._api.exchange(
            "POST", "/auth/keys", json=body, idempotent=False, ok={200, 400, 403},
            what="the OpenRouter connection",
        )  # fmt: skip
        key = as_dict(data).get("key")
        if resp.status_code != 200 or not isinstance(key, str) or not key:
            raise oauth_error("invalid_grant", provider=OPENROUTER.name, status=resp.status_code)
        return SecretStr(key)
