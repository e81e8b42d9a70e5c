"""GitHub's OAuth device flow, at `https://github.com` (its own base URL, not the API's).

```
start()  ──> DeviceCode(user_code, verification_uri, interval)   show these to the user
wait()   ──> polls /login/oauth/access_token every `interval` s ──> SecretStr token
             authorization_pending: keep polling    slow_down: interval += 5 s
             expired_token / access_denied / others: ProviderError with the next step
```

GitHub reports every outcome as HTTP 200 with an `error` field, and answers
form-encoded unless asked for JSON, so each request sends `Accept: application/json`.
"""

from __future__ import annotations

from urllib.parse import urlencode

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr

from tools.clients._http import HttpApi, Retry, as_dict
from tools.clients.errors import AuthError, InvalidRequest, ProviderError, Timeout
from tools.clients.github import GITHUB

__all__ = ["DeviceCode", "GitHubDeviceFlow"]

_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


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
        """Ask GitHub for a user code to show."""
        form = {"client_id": self._client_id, "scope": " ".join(scopes)}
        data = await self._post("/login/device/code", form)
        return self._api.model(DeviceCode, data)

    async def wait(self, code: DeviceCode) -> SecretStr:
        """Poll until the user approves; return the access token."""
        interval = float(code.interval)
        deadline = self._api.retry.clock().timestamp() + code.expires_in
        form = {"client_id": self._client_id, "device_code": code.device_code, "grant_type": _GRANT}
        while True:
            await self._api.retry.sleep(interval)
            data = await self._post("/login/oauth/access_token", form)
            if token := data.get("access_token"):
                return SecretStr(str(token))
            error = str(data.get("error", ""))
            if error == "slow_down":
                advised = data.get("interval")
                interval = float(advised) if isinstance(advised, int | float) else interval + 5
            elif error != "authorization_pending":
                raise _device_error(error)
            if self._api.retry.clock().timestamp() >= deadline:
                raise _device_error("expired_token")

    async def _post(self, path: str, form: dict[str, str]) -> dict[str, object]:
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        body = urlencode(form).encode()
        data = await self._api.call(
            "POST", path, content=body, headers=headers, idempotent=True, what="the sign-in"
        )
        return as_dict(data)


def _device_error(error: str) -> ProviderError:
    if error == "expired_token":
        return Timeout(
            "The GitHub sign-in code expired before it was approved. Start the sign-in again.",
            provider=GITHUB.name,
        )
    if error == "access_denied":
        return AuthError(
            "The GitHub sign-in was cancelled. Start it again and choose Authorize.",
            provider=GITHUB.name,
        )
    if error == "device_flow_disabled":
        return InvalidRequest(
            "GitHub sign-in by device code is disabled for this OAuth app. Enable Device Flow in "
            "the app's settings on GitHub, then try again.",
            provider=GITHUB.name,
        )
    return InvalidRequest(
        f"GitHub refused the sign-in ({error or 'no reason given'}). Start it again.",
        provider=GITHUB.name,
    )
