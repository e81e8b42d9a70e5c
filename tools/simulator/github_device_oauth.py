"""GitHub's OAuth device flow at `github.com`, for the GitHub fake (`GitHubFake` mixes
this in). Not in the REST description, so the routes are unchecked and follow GitHub's
documented shapes (errors are HTTP 200 with an `error` field):

- `POST /login/device/code` (`client_id`, `scope`) -> `device_code`, `user_code`,
  `verification_uri` (the fake's own `/login/device`), `expires_in` 900, `interval` 5.
- `POST /login/oauth/access_token` with the device grant: `authorization_pending` until
  approved, then a new `gho_` token with exactly the scopes asked (they show in
  `X-OAuth-Scopes` of `GET /user`, and the token pushes repos when `repo` is among them).
- `GET /login/device`: the page where a person types the code; `POST /login/device`
  (`user_code`, and `authorize` or `cancel`) approves or denies it, as on github.com.

Knobs: `fake.device_policy` (a `DevicePolicy`) sets how each new flow behaves:
`approve_after` polls answered `authorization_pending` before approval (None: wait for
the page or `fake.approve_device(user_code)`), `slow_down_at` (the poll that answers
`slow_down` with interval 10), `outcome` ("approve", or the error to end with:
`access_denied`, `expired_token`, `device_flow_disabled`). `fake.device[device_code]`
holds one flow's own copy (`polls`, `approve_after`, `slow_down`, `outcome`, `scope`).
`fake.oauth.deny_next` / `grant_scopes` apply too (see `_oauth`).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from html import escape
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from starlette.responses import HTMLResponse, Response

from tools.simulator._base import FakeRequest, json_response, route
from tools.simulator._oauth import OAuthServer, TokenShape

if TYPE_CHECKING:
    from tools.simulator.github_oauth import GitHubUser

__all__ = ["OAUTH_APP_TOKENS", "DevicePolicy", "GitHubDeviceRoutes"]

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
OAUTH_APP_TOKENS = TokenShape("gho_", 36)  # an OAuth app's token: no expiry, no refresh
_USER_CODE_LETTERS = "BCDFGHJKLMNPQRSTVWXZ"  # GitHub's codes avoid vowels and look-alikes


@dataclass
class DevicePolicy:
    """How a new device flow behaves (see the module docstring)."""

    approve_after: int | None = 2
    slow_down_at: int | None = None
    outcome: str = "approve"


def _form(req: FakeRequest) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(req.body.decode()).items()}


class GitHubDeviceRoutes:
    """The routes in the module docstring, over the fake's `users` and `oauth`."""

    client_id: str
    oauth: OAuthServer
    device: dict[str, dict[str, Any]]
    device_policy: DevicePolicy

    if TYPE_CHECKING:  # GitHubFake's own

        def signed_in_user(self) -> GitHubUser: ...

    def approve_device(self, user_code: str, *, outcome: str = "approve") -> None:
        """The person typed `user_code` at github.com and chose Authorize (or `outcome`)."""
        flow = next(f for f in self.device.values() if f["user_code"] == user_code)
        flow["approve_after"], flow["outcome"] = flow["polls"], outcome

    @route("POST", "/login/device/code", checked=False)
    async def device_code(self, req: FakeRequest) -> Response:
        form = _form(req)
        if form.get("client_id") != self.client_id:
            return json_response({"error": "incorrect_client_credentials"})
        policy = self.device_policy
        outcome = "access_denied" if self.oauth.take_denial() else policy.outcome
        code, user_code = secrets.token_hex(20), self._user_code()
        self.device[code] = {"polls": 0, "approve_after": policy.approve_after,
                             "slow_down": policy.slow_down_at, "outcome": outcome,
                             "scope": form.get("scope", ""), "user_code": user_code}  # fmt: skip
        return json_response({"device_code": code, "user_code": user_code,
                              "verification_uri": f"{req.base_url}/login/device",
                              "expires_in": 900, "interval": 5})  # fmt: skip

    def device_token(self, req: FakeRequest) -> Response:
        """The device grant of `POST /login/oauth/access_token`."""
        form = _form(req)
        if form.get("client_id") != self.client_id:
            return json_response({"error": "incorrect_client_credentials"})
        flow = self.device.get(form.get("device_code", ""))
        if flow is None:
            return json_response({"error": "incorrect_device_code"})
        flow["polls"] += 1
        if flow.get("slow_down") == flow["polls"]:
            return json_response({"error": "slow_down", "interval": 10,
                                  "error_description": "Too many requests have been made in the same timeframe."})  # fmt: skip
        waiting = flow["approve_after"] is None or flow["polls"] <= flow["approve_after"]
        if waiting and flow["outcome"] == "approve":
            return json_response({"error": "authorization_pending"})
        if flow["outcome"] != "approve":
            return json_response({"error": flow["outcome"]})
        if flow.get("token"):  # the code was already exchanged
            return json_response({"error": "incorrect_device_code"})
        scopes = tuple(s for s in flow["scope"].replace(",", " ").split() if s)
        row = self.oauth.issue(account=self.signed_in_user(), client_id=self.client_id,
                               scopes=scopes, shape=OAUTH_APP_TOKENS)  # fmt: skip
        row.account = replace(row.account, scopes=", ".join(row.scopes))
        flow["token"] = row.access
        return json_response(self.oauth.answer(row, scope_sep=","))

    @route("GET", "/login/device", checked=False)
    async def device_page(self, req: FakeRequest) -> Response:
        return HTMLResponse(
            "<!doctype html><title>Device activation</title><h1>Device activation</h1>"
            '<form method="post"><label>Code <input name="user_code" autofocus></label>'
            '<button name="authorize" value="1">Authorize</button>'
            '<button name="cancel" value="1">Cancel</button></form>'
        )

    @route("POST", "/login/device", checked=False)
    async def device_page_submit(self, req: FakeRequest) -> Response:
        form = _form(req)
        user_code = form.get("user_code", "").strip().upper()
        if not any(f["user_code"] == user_code for f in self.device.values()):
            return HTMLResponse("<h1>Unknown code</h1><p>Check the code and try again.</p>", 404)
        self.approve_device(user_code, outcome="access_denied" if "cancel" in form else "approve")
        done = "cancelled" if "cancel" in form else "authorized"
        return HTMLResponse(f"<h1>Device {escape(done)}</h1><p>You can close this tab.</p>")

    def _user_code(self) -> str:
        taken = {f["user_code"] for f in self.device.values()}
        while True:
            letters = "".join(secrets.choice(_USER_CODE_LETTERS) for _ in range(8))
            code = f"{letters[:4]}-{letters[4:]}"
            if code not in taken:
                return code
