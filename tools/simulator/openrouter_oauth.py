"""OpenRouter's PKCE key exchange, for the OpenRouter fake (`OpenRouterFake` mixes this
in), following OpenRouter's "OAuth PKCE" guide:

- `GET /auth?callback_url&code_challenge&code_challenge_method` (openrouter.ai, the
  browser): the signed-in person approves a new key (with the limit in
  `fake.new_key_limit`, USD; None for no limit) and is redirected 302 to
  `callback_url?code=...`. After `fake.oauth.deny_next` the fake redirects with
  `?error=access_denied` instead (OpenRouter documents no denial redirect; a client
  then simply never gets a code). A callback URL that is neither https nor loopback
  gets a 400 page.
- `POST /api/v1/auth/keys` {code, code_verifier, code_challenge_method} (operation
  `exchangeAuthCodeForAPIKey` in `openrouter.subset.openapi.json`: checked) -> 200
  `{key: "sk-or-v1-<64 hex>", user_id}`. An unknown or used code, or a verifier that
  does not match the challenge -> 403; a method other than the one the challenge was
  made with -> 400.

The issued key works on every route of the fake: `GET /api/v1/key` shows its limit and
usage (0). Knobs: `fake.oauth` (see `_oauth`), `fake.new_key_limit`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from starlette.responses import RedirectResponse, Response

from tools.simulator._base import FakeRequest, json_response, route
from tools.simulator._oauth import OAuthServer, TokenShape

__all__ = ["OAUTH_PATHS", "OPENROUTER_KEYS", "OpenRouterOAuthRoutes"]

OPENROUTER_KEYS = TokenShape("sk-or-v1-", 64, alphabet="0123456789abcdef")
OAUTH_PATHS = ("/auth", "/api/v1/auth/keys")
_CLIENT = "openrouter-pkce"  # no app registration: every exchange is the same "client"
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


class OpenRouterOAuthRoutes:
    """The routes in the module docstring."""

    oauth: OAuthServer
    new_key_limit: float | None

    if TYPE_CHECKING:  # OpenRouterFake's own

        def error(
            self, status: int, message: str, *, headers: dict[str, str] | None = None
        ) -> Response: ...
        def new_key_account(self, key: str, limit: float | None) -> object: ...

    @route("GET", "/auth", checked=False)
    async def auth_page(self, req: FakeRequest) -> Response:
        q = req.query
        callback = q.get("callback_url", "")
        parts = urlsplit(callback)
        if not (parts.scheme == "https" or parts.hostname in _LOOPBACK):
            return self.error(400, "callback_url must use https (or localhost)")
        sep = "&" if parts.query else "?"  # our callback URL carries its state already
        if self.oauth.take_denial():
            return RedirectResponse(f"{callback}{sep}{urlencode({'error': 'access_denied'})}", 302)
        code = self.oauth.new_code(
            account=None, client_id=_CLIENT, redirect_uri=callback, scopes=(),
            shape=OPENROUTER_KEYS, challenge=q.get("code_challenge") or None,
            method=q.get("code_challenge_method") or None, limit=self.new_key_limit,
        )  # fmt: skip
        return RedirectResponse(f"{callback}{sep}{urlencode({'code': code})}", status_code=302)

    @route("POST", "/api/v1/auth/keys")
    async def exchange_keys(self, req: FakeRequest) -> Response:
        body: dict[str, Any] = req.json() or {}
        code = str(body.get("code", ""))
        extra = self.oauth.code_extra(code)
        pending = self.oauth.pending_method(code)
        if pending is not None and body.get("code_challenge_method") not in (pending, None):
            return self.error(400, "Invalid code_challenge_method")
        row = self.oauth.redeem(code, client_id=_CLIENT, redirect_uri=None,
                                verifier=body.get("code_verifier"))  # fmt: skip
        if row is None:
            return self.error(403, "Invalid code or code_verifier or already used code")
        row.account = self.new_key_account(row.access, extra.get("limit"))
        return json_response({"key": row.access, "user_id": "user_fake"})
