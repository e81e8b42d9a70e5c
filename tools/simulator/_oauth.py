"""The authorization server behind the fakes' OAuth routes: codes, PKCE checks, tokens,
refresh-token rotation, revocation, and the knobs tests turn (`fake.oauth`).

Knobs (every fake with OAuth routes has one `OAuthServer` as `fake.oauth`):
- `deny_next = True`: the next authorization is refused as if the person chose Cancel
  (redirect with `error=access_denied`, or a device flow answering `access_denied`).
- `grant_scopes = ("repo",)`: the next grant gets these scopes instead of those asked
  (a person who unticks a scope, or an app configured with fewer).
- `redirect_uris = {...}`: the registered callback URLs; None (default) accepts any
  http(s) URL on a loopback host.
- `revoke_refresh(token)`: that refresh token stops working (the refresh grant answers
  the provider's revoked-token error).
- `expire_access(token)`: that access token stops working on the fake's API routes (401),
  as once its lifetime has passed.
- `issued` (list of `Issued`), `live(token)`: what was issued, and whether a token works.

Codes are single use and bound to the client, the redirect URI and the PKCE challenge.
Refresh tokens rotate: a used one stops working. Revoking either token of a pair revokes
both (RFC 7009 section 2.1 allows it; providers do it for a disconnect).
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import string
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

__all__ = ["Issued", "OAuthServer", "TokenShape"]

_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")  # RFC 7636 section 4.1
_BASE62 = string.ascii_letters + string.digits


@dataclass(frozen=True)
class TokenShape:
    """How a provider's tokens look and live (prefix + random characters)."""

    access_prefix: str
    access_chars: int = 36
    refresh_prefix: str | None = None  # None: no refresh token
    refresh_chars: int = 76
    expires_in: int | None = None  # None: the access token does not expire
    refresh_expires_in: int | None = None
    alphabet: str = _BASE62

    def mint(self, prefix: str, chars: int) -> str:
        return prefix + "".join(secrets.choice(self.alphabet) for _ in range(chars))


@dataclass
class Issued:
    """One issued token pair and what it grants."""

    access: str
    refresh: str | None
    scopes: tuple[str, ...]
    account: Any
    client_id: str
    shape: TokenShape
    access_dead: bool = False  # expired or revoked
    refresh_dead: bool = False


@dataclass
class _Code:
    account: Any
    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    shape: TokenShape
    challenge: str | None = None
    method: str | None = None
    extra: dict[str, Any] = field(default_factory=dict[str, Any])


class OAuthServer:
    """Codes, tokens and the knobs in the module docstring, for one fake."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.deny_next = False
        self.grant_scopes: tuple[str, ...] | None = None
        self.redirect_uris: set[str] | None = None
        self.issued: list[Issued] = []
        self._codes: dict[str, _Code] = {}

    # ---- knobs ---------------------------------------------------------------------
    def revoke_refresh(self, token: str) -> None:
        """Make the refresh token `token` fail from now on."""
        self._find(token, refresh=True).refresh_dead = True

    def expire_access(self, token: str) -> None:
        """Make the access token `token` fail on the API routes from now on."""
        self._find(token, refresh=False).access_dead = True

    def live(self, token: str) -> bool:
        """Whether `token` (access or refresh) still works."""
        for row in self.issued:
            if token == row.access:
                return not row.access_dead
            if token == row.refresh:
                return not row.refresh_dead
        return False

    def account(self, token: str) -> Any | None:
        """The account behind a working access token, for the fake's `authenticate`."""
        row = next((r for r in self.issued if r.access == token), None)
        return None if row is None or row.access_dead else row.account

    # ---- the flows -----------------------------------------------------------------
    def take_denial(self) -> bool:
        """True once after `deny_next` was set (the person chose Cancel)."""
        denied, self.deny_next = self.deny_next, False
        return denied

    def redirect_allowed(self, uri: str) -> bool:
        """Whether `uri` is a registered callback (any loopback URL when none are set)."""
        if self.redirect_uris is not None:
            return uri in self.redirect_uris
        parts = urlsplit(uri)
        return parts.scheme in ("http", "https") and parts.hostname in _LOOPBACK

    def new_code(
        self, *, account: Any, client_id: str, redirect_uri: str, scopes: tuple[str, ...],
        shape: TokenShape, challenge: str | None = None, method: str | None = None,
        **extra: Any,
    ) -> str:  # fmt: skip
        """A single-use authorization code for what the person approved."""
        code = secrets.token_hex(10)
        self._codes[code] = _Code(account, client_id, redirect_uri, scopes, shape,
                                  challenge, method, dict(extra))  # fmt: skip
        return code

    def redeem(
        self, code: str, *, client_id: str, redirect_uri: str | None, verifier: str | None
    ) -> Issued | None:
        """The tokens for `code`, or None (unknown, used, another client's, another
        redirect URI, or a PKCE verifier that does not match the challenge)."""
        found = self._codes.pop(code, None)
        if found is None or found.client_id != client_id:
            return None
        if redirect_uri is not None and redirect_uri != found.redirect_uri:
            return None
        if found.challenge is not None and not _pkce_ok(found.challenge, found.method, verifier):
            return None
        return self.issue(account=found.account, client_id=client_id, scopes=found.scopes,
                          shape=found.shape)  # fmt: skip

    def code_extra(self, code: str) -> dict[str, Any]:
        """What the route stored with a pending code (e.g. OpenRouter's key limit)."""
        found = self._codes.get(code)
        return found.extra if found else {}

    def pending_method(self, code: str) -> str | None:
        """The PKCE method a pending code's challenge was made with, if any."""
        found = self._codes.get(code)
        return found.method if found and found.challenge else None

    def issue(
        self, *, account: Any, client_id: str, scopes: tuple[str, ...], shape: TokenShape
    ) -> Issued:
        """A new token pair (with `grant_scopes` applied once, when set)."""
        if self.grant_scopes is not None:
            scopes, self.grant_scopes = self.grant_scopes, None
        refresh = None
        if shape.refresh_prefix is not None:
            refresh = shape.mint(shape.refresh_prefix, shape.refresh_chars)
        row = Issued(shape.mint(shape.access_prefix, shape.access_chars), refresh, scopes,
                     account, client_id, shape)  # fmt: skip
        self.issued.append(row)
        return row

    def refresh(self, token: str, *, client_id: str) -> Issued | None:
        """A new pair for a working refresh token of `client_id`; the old one is spent."""
        row = next((r for r in self.issued if r.refresh == token), None)
        if row is None or row.refresh_dead or row.client_id != client_id:
            return None
        row.refresh_dead = True  # rotation: single use
        return self.issue(account=row.account, client_id=client_id, scopes=row.scopes,
                          shape=row.shape)  # fmt: skip

    def revoke(self, token: str, *, client_id: str | None = None) -> bool:
        """Revoke the pair that `token` belongs to; False when no live pair has it."""
        for row in self.issued:
            if token in (row.access, row.refresh) and client_id in (None, row.client_id):
                was_live = not (row.access_dead and row.refresh_dead)
                row.access_dead = row.refresh_dead = True
                return was_live
        return False

    def answer(
        self, row: Issued, *, scope_sep: str = " ", bearer: str = "bearer", **extra: Any
    ) -> dict[str, Any]:
        """The RFC 6749 token response for `row`: `bearer` is how the provider spells the
        token type; GitHub joins scopes with ","."""
        data: dict[str, Any] = {"access_token": row.access, "token_type": bearer, **extra,
                                "scope": scope_sep.join(row.scopes)}  # fmt: skip
        if row.shape.expires_in is not None:
            data["expires_in"] = row.shape.expires_in
        if row.refresh is not None:
            data["refresh_token"] = row.refresh
            if row.shape.refresh_expires_in is not None:
                data["refresh_token_expires_in"] = row.shape.refresh_expires_in
        return data

    def _find(self, token: str, *, refresh: bool) -> Issued:
        for row in self.issued:
            if token == (row.refresh if refresh else row.access):
                return row
        raise KeyError("no such token was issued by this fake")


def s256(verifier: str) -> str:
    """The S256 PKCE challenge of `verifier` (RFC 7636 section 4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _pkce_ok(challenge: str, method: str | None, verifier: str | None) -> bool:
    if verifier is None or not _VERIFIER.match(verifier):
        return False
    # RFC 7636 section 4.3: no method means "plain".
    expected = s256(verifier) if method == "S256" else verifier
    return secrets.compare_digest(expected, challenge)
