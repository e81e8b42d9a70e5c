"""GitHub's OAuth web flow, server half, at `https://github.com`: trade the code GitHub
sent back to the redirect URI for the user's access token (sign-in to the chat app; the
browser half is a redirect that Chainlit sends).

GitHub reports a refused exchange as HTTP 200 with an `error` field, and answers
form-encoded unless asked for JSON; `HttpApi` sends `Accept: application/json`.
"""

from __future__ import annotations

from urllib.parse import urlencode

import httpx
from pydantic import SecretStr

from tools.clients._http import HttpApi, as_dict
from tools.clients.errors import AuthError
from tools.clients.github import GITHUB

__all__ = ["GitHubWebFlow"]


class GitHubWebFlow:
    """The web flow's server half for one OAuth app: trade the code GitHub sent back to
    the redirect URI for the user's access token (the browser half is a redirect).

    Args:
        http: The process-wide HTTP client.
        base_url: `https://github.com` (settings: github_web_base_url).
        client_id: The OAuth app's client id.
        client_secret: The OAuth app's client secret.
        timeout_s: Per-request timeout.
    """

    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        base_url: str,
        client_id: str,
        client_secret: SecretStr,
        timeout_s: float = 30.0,
    ) -> None:
        self._api = HttpApi(
            http=http, base_url=base_url, info=GITHUB, token=None, timeout_s=timeout_s
        )
        self._client_id = client_id
        self._secret = client_secret

    def __repr__(self) -> str:
        return f"GitHubWebFlow(base_url={self._api.base_url!r})"

    async def exchange(self, code: str, redirect_uri: str) -> SecretStr:
        """The access token for `code` (single use: never retried)."""
        form = {"client_id": self._client_id, "client_secret": self._secret.get_secret_value(),
                "code": code, "redirect_uri": redirect_uri}  # fmt: skip
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        data = as_dict(await self._api.call(
            "POST", "/login/oauth/access_token", content=urlencode(form).encode(),
            headers=headers, idempotent=False, what="the sign-in",
        ))  # fmt: skip
        if token := data.get("access_token"):
            return SecretStr(str(token))
        raise AuthError(
            f"GitHub refused the sign-in ({data.get('error') or 'no token'}). Sign in again.",
            provider=GITHUB.name,
        )
