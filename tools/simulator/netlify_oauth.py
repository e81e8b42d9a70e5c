"""Netlify OAuth 2.0 (authorization code, no PKCE), for the Netlify fake (`NetlifyFake`
mixes this in). Not in `netlify.swagger.json`, so the routes are unchecked and follow
Netlify's OAuth documentation (its server is Doorkeeper, so errors are RFC 6749's):

- `GET /authorize` (app.netlify.com) `?client_id&response_type=code&redirect_uri&state`:
  auto-approves as the signed-in account (`fake.oauth_account`) and redirects 302 to
  `redirect_uri?code&state`; `?error=access_denied&state` after `fake.oauth.deny_next`.
  An unknown client or an unregistered redirect URI gets a 400 page (no redirect).
- `POST /oauth/token` (api.netlify.com, form: `grant_type=authorization_code`, `code`,
  `client_id`, `client_secret`, `redirect_uri`) -> `{access_token: "nfo_...",
  token_type: "Bearer", scope: "public", created_at}`. The token does not expire and has
  no refresh token. A used or unknown code, or another redirect URI -> 400
  `invalid_grant`; bad client credentials -> 401 `invalid_client`.

Netlify documents no revocation endpoint for OAuth apps, so the fake has none; a test
revokes with `fake.oauth.revoke(token)`. Issued tokens work on every `/api/v1` route.
Knobs: `fake.oauth` (see `_oauth`), `fake.oauth_client` (`NetlifyOAuthApp`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode

from starlette.responses import RedirectResponse, Response

from tools.simulator._base import FakeRequest, json_response, route
from tools.simulator._oauth import OAuthServer, TokenShape

__all__ = ["NETLIFY_OAUTH_TOKENS", "OAUTH_PATHS", "NetlifyOAuthApp", "NetlifyOAuthRoutes"]

NETLIFY_OAUTH_TOKENS = TokenShape("nfo_", 40)  # no expiry, no refresh token
OAUTH_PATHS = ("/authorize", "/oauth/")


@dataclass
class NetlifyOAuthApp:
    """The fake's registered Netlify OAuth application."""

    client_id: str = "fakeNetlifyOAuthClientId000000000000000000"
    client_secret: str = "fake-netlify-oauth-secret-000000000000000"


class NetlifyOAuthRoutes:
    """The routes in the module docstring."""

    oauth: OAuthServer
    oauth_client: NetlifyOAuthApp
    oauth_account: dict[str, Any]

    if TYPE_CHECKING:  # NetlifyFake's own

        def error(
            self, status: int, message: str, *, headers: dict[str, str] | None = None
        ) -> Response: ...

    @route("GET", "/authorize", checked=False)
    async def oauth_authorize(self, req: FakeRequest) -> Response:
        q = req.query
        redirect, state = q.get("redirect_uri", ""), q.get("state", "")
        if q.get("client_id") != self.oauth_client.client_id:
            return self.error(400, "Client authentication failed due to unknown client.")
        if not self.oauth.redirect_allowed(redirect):
            return self.error(400, "The redirect uri included is not valid.")
        back: dict[str, str] = {"state": state}
        if q.get("response_type") != "code":
            back["error"] = "unsupported_response_type"
        elif self.oauth.take_denial():
            back |= {"error": "access_denied",
                     "error_description": "The resource owner or authorization server denied the request."}  # fmt: skip
        else:
            back["code"] = self.oauth.new_code(
                account=dict(self.oauth_account), client_id=self.oauth_client.client_id,
                redirect_uri=redirect, scopes=("public",), shape=NETLIFY_OAUTH_TOKENS,
            )  # fmt: skip
        return RedirectResponse(f"{redirect}?{urlencode(back)}", status_code=302)

    @route("POST", "/oauth/token", checked=False)
    async def oauth_token(self, req: FakeRequest) -> Response:
        form = {k: v[0] for k, v in parse_qs(req.body.decode()).items()}
        app = self.oauth_client
        if (form.get("client_id"), form.get("client_secret")) != (app.client_id, app.client_secret):
            return json_response({"error": "invalid_client",
                                  "error_description": "Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method."}, 401)  # fmt: skip
        if form.get("grant_type") != "authorization_code":
            return json_response({"error": "unsupported_grant_type"}, 400)
        row = self.oauth.redeem(form.get("code", ""), client_id=app.client_id,
                                redirect_uri=form.get("redirect_uri", ""), verifier=None)  # fmt: skip
        if row is None:
            return json_response({"error": "invalid_grant",
                                  "error_description": "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client."}, 400)  # fmt: skip
        return json_response(self.oauth.answer(row, bearer="Bearer", created_at=int(time.time())))
