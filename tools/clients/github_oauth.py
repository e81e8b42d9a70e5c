"""GitHub's OAuth flows for connecting an account: the device flow of an OAuth app, a
GitHub App's web flow with expiring user tokens, and token revocation.

```
GitHubDeviceFlow (github.com, OAuth app; no client secret)
  start(scopes)  ──> DeviceCode(user_code, verification_uri, interval)   show these
  poll(code)     ──> TokenSet | float     one poll; a float is the wait before the next
                     authorization_pending: same interval   slow_down: GitHub's new one
                     expired_token / access_denied / ...: OAuthFailed(code=...)
  wait(code)     ──> TokenSet             polls until approved, denied or expired
GitHubAppAuth (github.com; fine-grained ghu_ tokens, 8 h, refresh ghr_ tokens, 6 months)
  authorize_url / install_url ──> exchange(code) ──> TokenSet ──> refresh(ghr_) ──> TokenSet
revoke_github_token (api.github.com)  DELETE /applications/{client_id}/token  204: revoked
```

GitHub reports every token-endpoint outcome as HTTP 200 with an `error` field, and
answers form-encoded unless asked for JSON; `HttpApi` sends `Accept: application/json`.
"""

from __future__ import annotations

import base64
from urllib.parse import urlencode

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr

from tools.clients._http import HttpApi, Retry, path_segment
from tools.clients.github import GITHUB
from tools.clients.oauth_tokens import TokenSet, oauth_error, post_token_form, token_set

__all__ = ["DeviceCode", "GitHubAppAuth", "GitHubDeviceFlow", "revoke_github_token"]

_DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
_GRANT_PATH = "/login/oauth/access_token"


class DeviceCode(BaseModel):
    """What to show the user: go to `verification_uri` and type `user_code`."""

    model_config = ConfigDict(frozen=True)

    device_code: str
    user_code: str
    verification_uri: str
    expires_in: int
    interval: int = 5


class GitHubDeviceFlow:
    """The device flow for one OAuth app.

    Args:
        http: The process-wide HTTP client.
        base_url: `https://github.com` (settings: github_web_base_url).
        client_id: The OAuth app's client id (the flow must be enabled in its settings).
        timeout_s: Per-request timeout.
        retry: Retry policy; its `sleep` and `clock` also pace the polling.
    """

    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        base_url: str,
        client_id: str,
        timeout_s: float = 30.0,
        retry: Retry | None = None,
    ) -> None:
        self._api = HttpApi(
            http=http, base_url=base_url, info=GITHUB, token=None, timeout_s=timeout_s, retry=retry
        )
        self._client_id = client_id

    def __repr__(self) -> str:
        return f"GitHubDeviceFlow(base_url={self._api.base_url!r})"

    async def start(self, *, scopes: tuple[str, ...] = ("repo", "workflow")) -> DeviceCode:
        """Ask GitHub for a user code to show, for a token with `scopes`."""
        form = {"client_id": self._client_id, "scope": " ".join(scopes)}
        data, _ = await post_token_form(self._api, "/login/device/code", form)
        if "device_code" not in data:
            raise oauth_error(str(data.get("error") or "no_device_code"), provider=GITHUB.name)
        return self._api.model(DeviceCode, data)

    async def poll(self, code: DeviceCode, *, interval: float | None = None) -> TokenSet | float:
        """Poll once. Returns the token set, or the seconds to wait before the next poll.

        Args:
            code: What `start` returned.
            interval: The interval in use (after a `slow_down`); `code.interval` by default.

        Raises:
            OAuthFailed: `expired_token`, `access_denied`, `device_flow_disabled`, ...
        """
        current = float(code.interval if interval is None else interval)
        form = {"client_id": self._client_id, "device_code": code.device_code,
                "grant_type": _DEVICE_GRANT}  # fmt: skip
        data, status = await post_token_form(self._api, _GRANT_PATH, form)
        if "access_token" in data:
            return token_set((data, status), provider=GITHUB.name)
        error = str(data.get("error", ""))
        if error == "authorization_pending":
            return current
        if error == "slow_down":  # GitHub sends the new interval; RFC 8628 says add 5 s.
            advised = data.get("interval")
            return float(advised) if isinstance(advised, int | float) else current + 5
        raise oauth_error(error or "no_token", provider=GITHUB.name)

    async def wait(self, code: DeviceCode) -> TokenSet:
        """Poll at GitHub's pace until the user approves; the token set."""
        interval = float(code.interval)
        deadline = self._api.retry.clock().timestamp() + code.expires_in
        while True:
            await self._api.retry.sleep(interval)
            result = await self.poll(code, interval=interval)
            if isinstance(result, TokenSet):
                return result
            interval = result
            if self._api.retry.clock().timestamp() >= deadline:
                raise oauth_error("expired_token", provider=GITHUB.name)


class GitHubAppAuth:
    """A GitHub App's user-to-server tokens through the web flow (expiring, refreshable).

    Args:
        http: The process-wide HTTP client.
        web_base_url: `https://github.com` (settings: github_web_base_url).
        api_base_url: `https://api.github.com` (settings: github_api_base_url).
        client_id: The GitHub App's client id (`Iv23...`).
        client_secret: The GitHub App's client secret.
        slug: The App's URL name, for its installation page; None to skip installing.
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
        slug: str | None,
        timeout_s: float = 30.0,
        retry: Retry | None = None,
    ) -> None:
        self._web = HttpApi(http=http, base_url=web_base_url, info=GITHUB, token=None,
                            timeout_s=timeout_s, retry=retry)  # fmt: skip
        self._http, self._api_base_url = http, api_base_url
        self._client_id, self._secret, self._slug = client_id, client_secret, slug

    def __repr__(self) -> str:
        return f"GitHubAppAuth(base_url={self._web.base_url!r}, slug={self._slug!r})"

    def authorize_url(self, *, state: str, redirect_uri: str) -> str:
        """Where to send the browser to authorise the App for the user."""
        query = urlencode(
            {"client_id": self._client_id, "redirect_uri": redirect_uri, "state": state}
        )
        return f"{self._web.base_url}/login/oauth/authorize?{query}"

    def install_url(self, *, state: str) -> str | None:
        """The App's installation page (pick the repositories), when a slug is configured."""
        if not self._slug:
            return None
        query = urlencode({"state": state})
        return f"{self._web.base_url}/apps/{path_segment(self._slug)}/installations/new?{query}"

    async def exchange(self, code: str, *, redirect_uri: str) -> TokenSet:
        """The user's token set for the `code` GitHub sent to `redirect_uri`."""
        form = {"client_id": self._client_id, "client_secret": self._secret.get_secret_value(),
                "code": code, "redirect_uri": redirect_uri}  # fmt: skip
        return token_set(await post_token_form(self._web, _GRANT_PATH, form), provider=GITHUB.name)

    async def refresh(self, refresh_token: SecretStr) -> TokenSet:
        """A new token set (GitHub rotates the refresh token too).

        Raises:
            OAuthFailed: `bad_refresh_token` when it was revoked, used or expired.
        """
        form = {"client_id": self._client_id, "client_secret": self._secret.get_secret_value(),
                "grant_type": "refresh_token",
                "refresh_token": refresh_token.get_secret_value()}  # fmt: skip
        return token_set(await post_token_form(self._web, _GRANT_PATH, form), provider=GITHUB.name)

    async def revoke(self, token: SecretStr) -> bool:
        """Revoke `token` at GitHub (see `revoke_github_token`)."""
        return await revoke_github_token(
            self._http, api_base_url=self._api_base_url, client_id=self._client_id,
            client_secret=self._secret, token=token, timeout_s=self._web.timeout_s,
        )  # fmt: skip


async def revoke_github_token(
    http: httpx.AsyncClient,
    *,
    api_base_url: str,
    client_id: str,
    client_secret: SecretStr,
    token: SecretStr,
    timeout_s: float = 30.0,
) -> bool:
    """Revoke one OAuth (or GitHub App) token: `DELETE /applications/{client_id}/token`,
    authenticated as the app (basic auth). True when revoked; False when GitHub does not
    know the token any more (404 / 422), which leaves nothing to revoke."""
    pair = f"{client_id}:{client_secret.get_secret_value()}".encode()
    basic = SecretStr(base64.b64encode(pair).decode("ascii"))
    api = HttpApi(http=http, base_url=api_base_url, info=GITHUB, token=basic,
                  timeout_s=timeout_s, scheme="Basic")  # fmt: skip
    resp, _ = await api.exchange(
        "DELETE", f"/applications/{path_segment(client_id)}/token",
        json={"access_token": token.get_secret_value()}, ok={204, 404, 422},
        what="the connected GitHub token", parse=False,
    )  # fmt: skip
    return resp.status_code == 204
