"""A GitHub App's user-to-server tokens, for the GitHub fake (`GitHubFake` mixes this in):
the web flow with expiring tokens, the refresh grant, the installation page, and token
revocation. None is in the REST subset, so the routes are unchecked and follow GitHub's
documented shapes:

- `GET /login/oauth/authorize?client_id=<the App>&redirect_uri&state`: redirects back
  with `?code&state` as the signed-in person (or `?error=access_denied&state`).
- `POST /login/oauth/access_token` (`client_id`, `client_secret`, `code`, `redirect_uri`):
  `ghu_` token, `expires_in` 28800 (8 h), `ghr_` refresh token, `refresh_token_expires_in`
  15897600 (6 months), `scope` "". Errors are HTTP 200 with `error`:
  `bad_verification_code`, `incorrect_client_credentials`, `redirect_uri_mismatch`.
- the same route with `grant_type=refresh_token`: a new pair (the used refresh token is
  spent); a revoked, used or unknown one -> `bad_refresh_token`.
- `GET /apps/{slug}/installations/new?state`: installs the App (all repositories) and,
  when `fake.app.callback_url` is set, redirects there with `code`, `installation_id`,
  `setup_action=install` and `state` (GitHub's "request user authorization during
  installation"); else a small "installed" page.
- `DELETE /applications/{client_id}/token` (basic auth `client_id:client_secret`, JSON
  `{"access_token"}`): 204 and the token (and its refresh token) stop working; 404 for a
  token the app did not issue or already revoked; 401 for wrong app credentials.

`ghu_` tokens are fine-grained: `GET /user` sends no `X-OAuth-Scopes`. Knobs: `fake.app`
(`GitHubApp`: client id, secret, slug, `callback_url`, `installations`) and `fake.oauth`
(`_oauth.OAuthServer`: `deny_next`, `revoke_refresh`, `expire_access`, ...).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from tools.simulator._base import FakeRequest, route
from tools.simulator._oauth import OAuthServer, TokenShape
from tools.simulator.github_oauth import GitHubApp, GitHubUser

__all__ = ["GITHUB_APP_TOKENS", "GitHubApp", "GitHubAppRoutes"]

GITHUB_APP_TOKENS = TokenShape("ghu_", 36, "ghr_", 76, 28800, 15897600)


def _form(req: FakeRequest) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(req.body.decode()).items()}


class GitHubAppRoutes:
    """The routes in the module docstring, over the fake's `app` and `oauth`."""

    app: GitHubApp
    oauth: OAuthServer
    client_id: str  # the OAuth app's (device flow, sign-in)

    if TYPE_CHECKING:  # GitHubFake's own

        def signed_in_user(self) -> GitHubUser: ...
        def oauth_answer(self, req: FakeRequest, data: dict[str, Any]) -> Response: ...
        def error(
            self, status: int, message: str, *, headers: dict[str, str] | None = None
        ) -> Response: ...
        def client_secret_of(self, client_id: str) -> str | None: ...

    def app_authorize(self, req: FakeRequest) -> Response:
        """`GET /login/oauth/authorize` for the App's client id."""
        redirect, state = req.query.get("redirect_uri", ""), req.query.get("state", "")
        if not self.oauth.redirect_allowed(redirect):
            return self.error(400, "The redirect_uri is not associated with this application.")
        if self.oauth.take_denial():
            query = {"error": "access_denied", "state": state,
                     "error_description": "The user has denied your application access."}  # fmt: skip
            return RedirectResponse(f"{redirect}?{urlencode(query)}", status_code=302)
        code = self._app_code(redirect)
        return RedirectResponse(f"{redirect}?{urlencode({'code': code, 'state': state})}", 302)

    def _app_code(self, redirect_uri: str) -> str:
        account = replace(self.signed_in_user(), scopes=None)  # fine-grained: no scopes header
        return self.oauth.new_code(account=account, client_id=self.app.client_id,
                                   redirect_uri=redirect_uri, scopes=(), shape=GITHUB_APP_TOKENS)  # fmt: skip

    def app_exchange(self, req: FakeRequest) -> Response:
        """The code and refresh grants of `POST /login/oauth/access_token` for the App."""
        form = _form(req)
        if form.get("client_secret") != self.app.client_secret:
            return self.oauth_answer(req, {"error": "incorrect_client_credentials"})
        if form.get("grant_type") == "refresh_token":
            row = self.oauth.refresh(form.get("refresh_token", ""), client_id=self.app.client_id)
            if row is None:
                return self.oauth_answer(req, {"error": "bad_refresh_token",
                                               "error_description": "The refresh token passed is incorrect or expired."})  # fmt: skip
        else:
            row = self.oauth.redeem(form.get("code", ""), client_id=self.app.client_id,
                                    redirect_uri=form.get("redirect_uri"), verifier=None)  # fmt: skip
            if row is None:
                return self.oauth_answer(req, {"error": "bad_verification_code",
                                               "error_description": "The code passed is incorrect or expired."})  # fmt: skip
        return self.oauth_answer(req, self.oauth.answer(row, scope_sep=","))

    @route("GET", "/apps/{slug}/installations/new", checked=False)
    async def install_app(self, req: FakeRequest) -> Response:
        if req.params["slug"] != self.app.slug:
            return self.error(404, "Not Found")
        installation = 40_000_000 + len(self.app.installations) + 1
        self.app.installations.append(installation)
        if self.app.callback_url is None:
            return HTMLResponse(f"<h1>{self.app.slug} installed</h1>")
        query = {"code": self._app_code(self.app.callback_url), "installation_id": installation,
                 "setup_action": "install", "state": req.query.get("state", "")}  # fmt: skip
        return RedirectResponse(f"{self.app.callback_url}?{urlencode(query)}", 302)

    @route("DELETE", "/applications/{client_id}/token", checked=False)
    async def revoke_token(self, req: FakeRequest) -> Response:
        client_id = req.params["client_id"]
        secret = self.client_secret_of(client_id)
        if secret is None or _basic(req.raw) != (client_id, secret):
            return self.error(401, "Bad credentials")
        token = str(json.loads(req.body or b"{}").get("access_token", ""))
        if not self.oauth.revoke(token, client_id=client_id):
            return self.error(404, "Not Found")
        return Response(status_code=204)


def _basic(request: Request) -> tuple[str, str] | None:
    scheme, _, blob = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(blob).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user, password
