"""A Google service account's JSON key -> short-lived tokens, over plain httpx.

The JWT-bearer grant Google documents for service accounts (RFC 7523): sign an RS256 JWT
with the key (`cryptography`), POST it to the token endpoint, and get back
- an **access token** for Google's APIs (claim `scope`: cloud-platform), or
- an **ID token** for one audience (claim `target_audience`: the Cloud Run service URL),
  which is how a server calls a private Cloud Run service.

Both are cached per key until five minutes before they expire, on an injectable clock.
The token URL is KripTik's setting (`google_oauth_token_url`), never the key file's own
`token_uri`: a pasted file must not choose where a signed assertion is sent.

Secrets: the private key lives only in `ServiceAccount.private_key` (a `SecretStr`); the
assertion is sent in the form body and never logged; tokens are `SecretStr`; errors carry
Google's error code and description only, scrubbed of the key and tokens.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from pydantic import SecretStr

from tools.clients import _messages
from tools.clients._http import Clock, HttpApi, Retry, as_dict
from tools.clients._messages import ProviderInfo
from tools.clients.errors import AuthError, OAuthFailed

__all__ = ["CLOUD_PLATFORM", "GOOGLE_INFO", "GcpAuth", "ServiceAccount"]

CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_KEYS_URL = "https://console.cloud.google.com/iam-admin/serviceaccounts"
GOOGLE_INFO = ProviderInfo(
    name="Google Cloud",
    keys_url=_KEYS_URL,
    status_url="https://status.cloud.google.com",
    permission_hint=(
        "The service account needs the Cloud Run Admin (roles/run.admin) and Service "
        "Account User (roles/iam.serviceAccountUser) roles on the project."
    ),
)
_LIFETIME_S = 3600  # the longest assertion Google accepts
_MARGIN = timedelta(minutes=5)  # ask again this long before a token expires
_HINT = f"Create a new JSON key at {_KEYS_URL}, then paste the whole file here."


@dataclass(frozen=True)
class ServiceAccount:
    """The parts of a service-account JSON key that KripTik uses."""

    email: str
    project_id: str
    private_key: SecretStr = field(repr=False)

    @classmethod
    def parse(cls, secret: SecretStr) -> ServiceAccount:
        """Read the stored `gcp` credential; AuthError (without its text) if unusable."""
        try:
            data = as_dict(json.loads(secret.get_secret_value()))
        except ValueError:
            data = {}
        email, project, pem = (
            data.get("client_email"),
            data.get("project_id"),
            data.get("private_key"),
        )
        if data.get("type") != "service_account" or not all(
            isinstance(v, str) and v for v in (email, project, pem)
        ):
            raise AuthError(
                f"The stored GCP credential is not a service-account JSON key. {_HINT}",
                provider=GOOGLE_INFO.name,
            )
        return cls(str(email), str(project), SecretStr(str(pem)))

    def fingerprint(self) -> str:
        """A stable id of this key (not the key): cache entries die with a replaced key."""
        return hashlib.sha256(self.private_key.get_secret_value().encode()).hexdigest()[:16]


class GcpAuth:
    """Mints and caches Google access and ID tokens for service accounts."""

    def __init__(
        self, *, http: httpx.AsyncClient, token_url: str, retry: Retry | None = None,
        clock: Clock | None = None, timeout_s: float = 30.0,
    ) -> None:  # fmt: skip
        self._token_url = token_url
        self._retry = retry or Retry()
        self._clock = clock or self._retry.clock
        self._api = HttpApi(http=http, base_url=token_url, info=GOOGLE_INFO, token=None,
                            timeout_s=timeout_s, retry=self._retry)  # fmt: skip
        self._cache: dict[tuple[str, str, str], tuple[SecretStr, datetime]] = {}

    def __repr__(self) -> str:
        return f"GcpAuth(token_url={self._token_url!r}, cached={len(self._cache)})"

    async def access_token(self, account: ServiceAccount) -> SecretStr:
        """An access token with the cloud-platform scope, cached until near its expiry."""
        return await self._cached(account, "access", CLOUD_PLATFORM)

    async def id_token(self, account: ServiceAccount, audience: str) -> SecretStr:
        """An ID token whose `aud` is `audience` (a Cloud Run service URL)."""
        return await self._cached(account, "id", audience)

    def forget(self, account: ServiceAccount) -> None:
        """Drop this key's cached tokens (after Google refused one of them)."""
        for key in [k for k in self._cache if k[0] == account.fingerprint()]:
            del self._cache[key]

    async def _cached(self, account: ServiceAccount, kind: str, target: str) -> SecretStr:
        key = (account.fingerprint(), kind, target)
        now = self._clock()
        if (hit := self._cache.get(key)) and hit[1] - _MARGIN > now:
            return hit[0]
        claims: dict[str, Any] = (
            {"scope": target} if kind == "access" else {"target_audience": target}
        )
        body = await self._exchange(account, claims, now)
        if kind == "access":
            token = SecretStr(str(body.get("access_token", "")))
            expires = now + timedelta(seconds=float(body.get("expires_in", 3600)))
        else:
            token = SecretStr(str(body.get("id_token", "")))
            expires = _jwt_expiry(token.get_secret_value()) or now + timedelta(seconds=_LIFETIME_S)
        if not token.get_secret_value():
            raise _messages.malformed(GOOGLE_INFO, 200, request_id=None)
        self._cache[key] = (token, expires)
        return token

    async def _exchange(
        self, account: ServiceAccount, claims: dict[str, Any], now: datetime
    ) -> dict[str, Any]:
        iat = int(now.timestamp())
        assertion = _sign(account, {
            "iss": account.email, "sub": account.email, "aud": self._token_url,
            "iat": iat, "exp": iat + _LIFETIME_S, **claims,
        })  # fmt: skip
        form = {"grant_type": JWT_BEARER, "assertion": assertion}
        resp, _ = await self._api.exchange(
            "POST", "", content=urlencode(form).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            idempotent=True, ok={200, 400, 401}, parse=False, what="the token",
        )  # fmt: skip
        body = _body(resp)
        if resp.status_code != 200:
            raise _refused(
                resp.status_code, body, [assertion, account.private_key.get_secret_value()]
            )
        return body


def _sign(account: ServiceAccount, claims: dict[str, Any]) -> str:
    try:
        key = serialization.load_pem_private_key(
            account.private_key.get_secret_value().encode(), password=None
        )
    except (ValueError, TypeError):
        key = None
    if not isinstance(key, RSAPrivateKey):
        # from None, and no key text: the PEM parser's message could quote it.
        raise AuthError(
            f"The private key in the GCP key file cannot be read. {_HINT}",
            provider=GOOGLE_INFO.name,
        ) from None
    header = _b64(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signature = key.sign(f"{header}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{header}.{payload}.{_b64(signature)}"


def _refused(status: int, body: dict[str, Any], secrets: list[str]) -> OAuthFailed:
    """Google's refusal of the key: `invalid_grant` (key deleted or disabled, clock skew)
    or `invalid_client`. An `OAuthFailed` is not an `AuthError`, so both are raised as the
    subclass below, which is both."""
    code = str(body.get("error") or "unknown_error")
    said = _messages.scrub(str(body.get("error_description") or code), secrets)[:200]
    return RevokedKey(
        f"Google refused the service-account key ({status} {code}: {said.rstrip('.')}). The "
        f"key was deleted, or the service account disabled. {_HINT}",
        provider=GOOGLE_INFO.name, code=code, status=status,
    )  # fmt: skip


class RevokedKey(OAuthFailed, AuthError):
    """Google's token endpoint refused the service-account key."""


def _body(resp: httpx.Response) -> dict[str, Any]:
    try:
        return as_dict(resp.json())
    except ValueError:
        return {}


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _jwt_expiry(token: str) -> datetime | None:
    """The `exp` claim of a JWT (read, not verified: only to know when to ask again)."""
    try:
        part = token.split(".")[1]
        exp = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))["exp"]
        return datetime.fromtimestamp(int(exp), tz=UTC)
    except (IndexError, KeyError, ValueError, TypeError):
        return None
