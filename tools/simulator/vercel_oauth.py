"""Sign in with Vercel (OAuth 2.0 + PKCE), for the Vercel fake (`VercelFake` mixes this
in). Vercel publishes no description of these routes that is kept here, so they are
unchecked and follow Vercel's "Authorization Server API" documentation:

- `GET /oauth/authorize` (vercel.com) `?client_id&redirect_uri&response_type=code&state
  &scope&code_challenge&code_challenge_method=S256`: auto-approves as the signed-in
  account (`fake.oauth_account`, the default token's user) and redirects 302 to
  `redirect_uri?code&state`; `?error=access_denied&state` after `fake.oauth.deny_next`.
  An unknown client or unregistered redirect URI gets a 400 page (no redirect); a
  missing PKCE challenge or a response type other than `code` redirects with `error`.
  Scopes are those asked among the App's (`openid email profile offline_access`), all
  of them when none are asked. A refresh token comes only with `offline_access`.
- `POST /login/oauth/token` (api.vercel.com, form, client_secret_post or basic auth):
  `authorization_code` (with `code_verifier`) or `refresh_token` ->
  `{access_token: "vca_...", token_type: "Bearer", expires_in: 3600, scope,
  refresh_token: "vcr_..."}`. A wrong verifier, a used code, another redirect URI, or a
  revoked / used refresh token -> 400 `invalid_grant`; bad client credentials -> 401
  `invalid_client`.
- `POST /login/oauth/token/revoke` (`token`, client credentials): 200; the pair stops
  working (RFC 7009: 200 also for an unknown token).

Issued access tokens work on every Vercel route of the fake (deploys included) until
revoked or `fake.oauth.expire_access(token)`. Knobs: `fake.oauth` (see `_oauth`),
`fake.oauth_client` (`VercelOAuthApp`: client id, secret, configured scopes).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from tools.simulator._base import FakeRequest, json_response, route
from tools.simulator._oauth import OAuthServer, TokenShape

__all__ = ["VERCEL_OAUTH_TOKENS", "VercelOAuthApp", "VercelOAuthRoutes"]

# 1 h access tokens; 30 d refresh tokens that rotate on use.
VERCEL_OAUTH_TOKENS = TokenShape("vca_", 40, "vcr_", 40, 3600, 2592000)
OAUTH_PATHS = ("/oauth/", "/login/oauth/")


@dataclass
class VercelOAuthApp:
    """The fake's registered Vercel App."""

    client_id: str = "cl_FAKEvercelApp0000000"
    client_secret: str = "fake-vercel-app-secret-0000000000000000"
    scopes: tuple[str, ...] = ("openid", "email", "profile", "offline_access")


def _form(body: bytes) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(body.decode()).items()}


def _oauth_error(status: int, code: str, description: str) -> Response:
    return json_response({"error": code, "error_description": description}, status)


class VercelOAuthRoutes:
    """The routes in the module docstring."""

    oauth: OAuthServer
    oauth_client: VercelOAuthApp
    oauth_account: dict[str, Any]

    if TYPE_CHECKING:  # VercelFake's own

        def error(
            self, status: int, message: str, *, headers: dict[str, str] | None = None
        ) -> Response: ...

    @route("GET", "/oauth/authorize", checked=False)
    async def oauth_authorize(self, req: FakeRequest) -> Response:
        q, app = req.query, self.oauth_client
        redirect, state = q.get("redirect_uri", ""), q.get("state", "")
        if q.get("client_id") != app.client_id or not self.oauth.redirect_allowed(redirect):
            return self.error(400, "Invalid client_id or redirect_uri")
        back: dict[str, str] = {"state": state}
        if q.get("response_type") != "code":
            back["error"] = "unsupported_response_type"
        elif not q.get("code_challenge") or q.get("code_challenge_method", "S256") != "S256":
            back |= {"error": "invalid_request", "error_description": "PKCE (S256) is required"}
        elif self.oauth.take_denial():
            back |= {"error": "access_denied", "error_description": "The user denied access"}
        else:
            asked = tuple(s for s in q.get("scope", "").split() if s in app.scopes)
            back["code"] = self.oauth.new_code(
                account=dict(self.oauth_account), client_id=app.client_id, redirect_uri=redirect,
                scopes=asked or app.scopes, shape=VERCEL_OAUTH_TOKENS,
                challenge=q.get("code_challenge"), method="S256",
            )  # fmt: skip
        return RedirectResponse(f"{redirect}?{urlencode(back)}", status_code=302)

    @route("POST", "/login/oauth/token", checked=False)
    async def oauth_token(self, req: FakeRequest) -> Response:
        form = _form(req.body)
        if not self._client_ok(req.raw, form):
            return _oauth_error(401, "invalid_client", "Client authentication failed")
        grant, client_id = form.get("grant_type"), self.oauth_client.client_id
        if grant == "authorization_code":
            row = self.oauth.redeem(form.get("code", ""), client_id=client_id,
                                    redirect_uri=form.get("redirect_uri", ""),
                                    verifier=form.get("code_verifier"))  # fmt: skip
        elif grant == "refresh_token":
            row = self.oauth.refresh(form.get("refresh_token", ""), client_id=client_id)
        else:
            return _oauth_error(400, "unsupported_grant_type", f"Unsupported grant {grant!r}")
        if row is None:
            return _oauth_error(400, "invalid_grant", "The grant is invalid, expired or revoked")
        if "offline_access" not in row.scopes:
            row.refresh = None  # Vercel issues a refresh token only for offline_access
        return json_response(self.oauth.answer(row, bearer="Bearer"))

    @route("POST", "/login/oauth/token/revoke", checked=False)
    async def oauth_revoke(self, req: FakeRequest) -> Response:
        form = _form(req.body)
        if not self._client_ok(req.raw, form):
            return _oauth_error(401, "invalid_client", "Client authentication failed")
        self.oauth.revoke(form.get("token", ""), client_id=self.oauth_client.client_id)
        return Response(status_code=200)

    def _client_ok(self, request: Request, form: dict[str, str]) -> bool:
        app = self.oauth_client
        pair = (form.get("client_id"), form.get("client_secret"))
        scheme, _, blob = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "basic":
            try:
                user, _, password = base64.b64decode(blob).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return False
            pair = (user, password)
        return pair == (app.client_id, app.client_secret)
