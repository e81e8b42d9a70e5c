"""What every OAuth client here shares: the token set a flow yields, PKCE, and the
token-endpoint round trip with error messages a user can act on.

```
new_pkce()          ──> Pkce(verifier: SecretStr, challenge = BASE64URL(SHA256(verifier)))
post_token_form()   ──> the token endpoint's JSON, error answers included (GitHub says
                        200 + {"error"}, RFC 6749 servers say 400/401 + {"error"})
token_set()         ──> TokenSet, or OAuthFailed(code=<the provider's error code>)
```

A token, a refresh token, a PKCE verifier, a client secret or an authorization code never
appears in a message, a repr or a log line: the messages are fixed text per error code.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import urlencode

from pydantic import BaseModel, ConfigDict, SecretStr

from tools.clients._http import HttpApi, as_dict
from tools.clients.errors import OAuthFailed

__all__ = [
    "OAuthFailed",
    "Pkce",
    "TokenSet",
    "new_pkce",
    "oauth_error",
    "pkce_challenge",
    "post_token_form",
    "split_scopes",
    "token_set",
]

# Statuses at which RFC 6749 token endpoints answer with an `{"error": ...}` body.
_TOKEN_ANSWERS = frozenset({200, 201, 400, 401, 403})


class TokenSet(BaseModel):
    """The tokens an OAuth flow yields. Its repr masks every token (`SecretStr`).

    Attributes:
        access_token: The bearer token for the provider's API.
        token_type: "bearer" as the provider spells it.
        scopes: The scopes as granted (may differ from those asked).
        expires_in: Seconds the access token lives; None when it does not expire.
        refresh_token: The token that gets a new access token, when the provider issues one.
        refresh_token_expires_in: Seconds the refresh token lives, when the provider says.
    """

    model_config = ConfigDict(frozen=True)

    access_token: SecretStr
    token_type: str = "bearer"  # noqa: S105 (the token type's name, not a secret)
    scopes: tuple[str, ...] = ()
    expires_in: int | None = None
    refresh_token: SecretStr | None = None
    refresh_token_expires_in: int | None = None


class Pkce(BaseModel):
    """A PKCE pair (RFC 7636): the verifier stays with us, the challenge goes in the URL."""

    model_config = ConfigDict(frozen=True)

    verifier: SecretStr
    challenge: str
    method: Literal["S256"] = "S256"


def pkce_challenge(verifier: str) -> str:
    """BASE64URL(SHA256(verifier)) without padding (the S256 method)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def new_pkce() -> Pkce:
    """A fresh verifier (64 random URL-safe characters, 384 bits) and its S256 challenge."""
    verifier = secrets.token_urlsafe(48)  # its alphabet is a subset of RFC 7636's
    return Pkce(verifier=SecretStr(verifier), challenge=pkce_challenge(verifier))


def split_scopes(raw: object) -> tuple[str, ...]:
    """Scopes as a provider lists them: GitHub "repo,write:packages", RFC 6749 "a b"."""
    if not isinstance(raw, str):
        return ()
    return tuple(s for s in re.split(r"[,\s]+", raw) if s)


async def post_token_form(
    api: HttpApi, path: str, form: Mapping[str, str], *, what: str = "the sign-in"
) -> tuple[dict[str, Any], int]:
    """POST `form` (urlencoded) to a token endpoint; its JSON (error answers included) and
    the HTTP status.

    Never retried: an authorization code and a rotating refresh token are single use, so a
    second attempt after a lost answer fails anyway, with a clearer error from the first.
    """
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    resp, data = await api.exchange(
        "POST", path, content=urlencode(dict(form)).encode(), headers=headers,
        idempotent=False, what=what, ok=_TOKEN_ANSWERS,
    )  # fmt: skip
    return as_dict(data), resp.status_code


def token_set(answer: tuple[Mapping[str, Any], int], *, provider: str) -> TokenSet:
    """The `TokenSet` in a token endpoint's answer (`post_token_form`'s), or `OAuthFailed`
    with the provider's error code and the HTTP status."""
    data, status = answer
    token = data.get("access_token")
    if not isinstance(token, str) or not token:
        code = str(data.get("error") or "no_token")
        raise oauth_error(code, provider=provider, status=status)
    refresh = data.get("refresh_token")
    return TokenSet(
        access_token=SecretStr(token),
        token_type=str(data.get("token_type") or "bearer"),
        scopes=split_scopes(data.get("scope")),
        expires_in=_seconds(data.get("expires_in")),
        refresh_token=SecretStr(refresh) if isinstance(refresh, str) and refresh else None,
        refresh_token_expires_in=_seconds(data.get("refresh_token_expires_in")),
    )


def _seconds(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        return int(value)
    except ValueError:
        return None


_AGAIN = "Connect {p} again."
_OPERATOR = "The operator must check the {p} app settings (see docs/connect.md)."
_NEXT_STEPS = {
    "access_denied": "The {p} connection was cancelled. Start it again and choose Authorize.",
    "expired_token": "The {p} sign-in code expired before it was approved. "
    "Start the sign-in again.",
    "authorization_pending": "The {p} sign-in is still waiting for approval. "
    "Approve it, then try again.",
    "invalid_grant": "{p} did not accept the sign-in (the code expired, was already used, "
    "or does not match this attempt). " + _AGAIN,
    "bad_verification_code": "{p} did not accept the sign-in code (it expired or was "
    "already used). " + _AGAIN,
    "bad_refresh_token": "{p} no longer accepts the saved connection (it was revoked or "
    "expired). " + _AGAIN,
    "incorrect_client_credentials": "{p} rejected this app's client id or secret. " + _OPERATOR,
    "invalid_client": "{p} rejected this app's client id or secret. " + _OPERATOR,
    "redirect_uri_mismatch": "{p} rejected the callback address. " + _OPERATOR,
    "device_flow_disabled": "{p} sign-in by device code is disabled for this OAuth app. "
    "Enable Device Flow in the app's settings on {p}, then try again.",
}


def oauth_error(code: str, *, provider: str, status: int = 0) -> OAuthFailed:
    """`OAuthFailed` for the provider's error `code`, with a fixed next-step message."""
    # Only a plain identifier is echoed back: the code comes from the provider's answer.
    shown = code if re.fullmatch(r"[a-z_]{1,64}", code) else "unknown_error"
    template = _NEXT_STEPS.get(shown, "{p} refused the sign-in ({c}). Start it again.")
    return OAuthFailed(
        template.format(p=provider, c=shown), provider=provider, code=shown, status=status
    )
