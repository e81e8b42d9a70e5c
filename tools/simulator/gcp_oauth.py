"""Google's OAuth2 token endpoint (`POST https://oauth2.googleapis.com/token`) for service
accounts, and the Google Cloud state that the Cloud Run and Artifact Registry fakes share.

The JWT-bearer grant (RFC 7523, as Google documents it for service accounts):
`grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<RS256 JWT>`. The JWT's
signature is verified with the public half of the key the test registered, and its claims
are checked (`iss` = the account, `aud` = this endpoint, `exp` - `iat` <= 1 h). With a
`scope` claim the answer is an access token; with `target_audience` it is an ID token for
that audience (how a server calls a private Cloud Run service).

Faults: a revoked key (`state.revoke(email)`) answers as Google does for a deleted key,
400 `{"error": "invalid_grant"}`; `fail("POST /token", 401)` answers `invalid_client`.
Token lifetimes are not enforced by time: the fake has no clock of its own, so a client's
injected clock decides when it asks again (tests count the calls).
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import parse_qs

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from starlette.responses import Response

from tools.simulator._base import Exchange, FakeProvider, FakeRequest, json_response, route

__all__ = [
    "ALL_PERMISSIONS", "GcpState", "GoogleOAuthFake", "ServiceAccountRecord", "json_object",
]  # fmt: skip

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
# What a Cloud Run deployer needs on the project (roles/run.admin +
# roles/iam.serviceAccountUser); the fake's accounts hold all of it unless told otherwise.
ALL_PERMISSIONS = frozenset({
    "run.services.create", "run.services.get", "run.services.delete", "run.services.update",
    "run.operations.get", "run.routes.invoke", "iam.serviceAccounts.actAs",
})  # fmt: skip


@dataclass
class ServiceAccountRecord:
    """One service account the fake knows: its key's public half and what it may do."""

    email: str
    project_id: str
    public_key: rsa.RSAPublicKey
    permissions: frozenset[str] = ALL_PERMISSIONS
    revoked: bool = False


@dataclass
class IssuedToken:
    email: str
    audience: str | None = None  # ID tokens only: the URL they were minted for


@dataclass
class GcpState:
    """Accounts and the tokens issued to them, shared by every Google fake."""

    accounts: dict[str, ServiceAccountRecord] = field(
        default_factory=dict[str, ServiceAccountRecord]
    )
    access_tokens: dict[str, IssuedToken] = field(default_factory=dict[str, IssuedToken])
    id_tokens: dict[str, IssuedToken] = field(default_factory=dict[str, IssuedToken])

    def reset(self) -> None:
        self.accounts.clear()
        self.access_tokens.clear()
        self.id_tokens.clear()

    def revoke(self, email: str) -> None:
        """The key was deleted: the next exchange fails, and issued tokens stop working."""
        self.accounts[email].revoked = True
        for tokens in (self.access_tokens, self.id_tokens):
            for token in [t for t, issued in tokens.items() if issued.email == email]:
                del tokens[token]

    def account_for(self, token: str | None) -> ServiceAccountRecord | None:
        issued = self.access_tokens.get(token or "")
        return None if issued is None else self.accounts.get(issued.email)

    def new_service_account(
        self,
        *,
        project_id: str = "kriptik-demo",
        name: str = "kriptik-deployer",
        permissions: frozenset[str] = ALL_PERMISSIONS,
        token_uri: str = "https://oauth2.googleapis.com/token",  # noqa: S107 (a URL)
    ) -> str:
        """Register a fresh account with a throwaway RSA key; returns its JSON key file."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        email = f"{name}@{project_id}.iam.gserviceaccount.com"
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        return self.register(json.dumps({
            "type": "service_account", "project_id": project_id,
            "private_key_id": secrets.token_hex(20), "private_key": pem,
            "client_email": email, "client_id": str(10**20 + len(self.accounts) + 1),
            "auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": token_uri,
            "universe_domain": "googleapis.com",
        }), permissions=permissions)  # fmt: skip

    def register(self, key_file: str, *, permissions: frozenset[str] = ALL_PERMISSIONS) -> str:
        """Register the account of an existing JSON key file (again after `reset`, so a key
        handed out once keeps working); returns the key file."""
        data = json_object(json.loads(key_file))
        private = serialization.load_pem_private_key(str(data["private_key"]).encode(), None)
        if not isinstance(private, rsa.RSAPrivateKey):
            raise ValueError("a service-account key holds an RSA private key")
        email = str(data["client_email"])
        self.accounts[email] = ServiceAccountRecord(
            email, str(data["project_id"]), private.public_key(), permissions
        )
        return key_file


class _TokenContract:
    """RFC 7523's documented request: a form POST with the grant type and one assertion."""

    def check_request(self, ex: Exchange) -> list[str]:
        problems: list[str] = []
        if not ex.content_type.startswith("application/x-www-form-urlencoded"):
            problems.append(f"not a form POST ({ex.content_type!r})")
        form = parse_qs(ex.body.decode(errors="replace"))
        if form.get("grant_type") != [JWT_BEARER]:
            problems.append(f"grant_type must be {JWT_BEARER}")
        assertion = form.get("assertion", [""])
        if len(assertion) != 1 or assertion[0].count(".") != 2:
            problems.append("assertion must be one compact JWT")
        if "authorization" in ex.headers:
            problems.append("the JWT-bearer grant carries no Authorization header")
        return problems

    def check_response(
        self, ex: Exchange, status: int, headers: dict[str, str], body: bytes
    ) -> list[str]:
        data = json_object(json.loads(body) if body else None)
        if status == 200:
            ok = isinstance(data.get("access_token") or data.get("id_token"), str)
            return [] if ok else ["200 without access_token or id_token"]
        return [] if isinstance(data.get("error"), str) else ["error body lacks 'error'"]


class GoogleOAuthFake(FakeProvider):
    """`POST /token` for the JWT-bearer grant of known service accounts."""

    name = "Google OAuth2"

    def __init__(self, state: GcpState | None = None) -> None:
        super().__init__(_TokenContract())
        self.state = state or GcpState()

    def reset_state(self) -> None:
        self.state.reset()

    def error(
        self, status: int, message: str, *, headers: dict[str, str] | None = None
    ) -> Response:
        code = "invalid_client" if status == 401 else "invalid_request"
        if status in (429, 500, 503):
            code = "temporarily_unavailable"
        body = {"error": code, "error_description": message}
        return Response(json.dumps(body), status, headers=headers, media_type="application/json")

    @route("POST", "/token")
    async def token(self, req: FakeRequest) -> Response:
        form = parse_qs(req.body.decode(errors="replace"))
        claims, problem = self._verified(form.get("assertion", [""])[0], f"{req.base_url}/token")
        if claims is None:
            body = {"error": "invalid_grant", "error_description": problem}
            return json_response(body, 400)
        email = str(claims["iss"])
        token = f"ya29.fake-{secrets.token_urlsafe(24)}"
        if audience := claims.get("target_audience"):
            id_token = _fake_id_token(email, str(audience), token, claims)
            self.state.id_tokens[id_token] = IssuedToken(email, str(audience))
            return json_response({"id_token": id_token})
        self.state.access_tokens[token] = IssuedToken(email)
        return json_response({"access_token": token, "expires_in": 3599, "token_type": "Bearer"})

    def _verified(self, assertion: str, audience: str) -> tuple[dict[str, object] | None, str]:
        """The assertion's claims if Google would accept it, else None and Google's words."""
        try:
            head, body, sig = assertion.split(".")
            header, claims = json.loads(_unb64(head)), json.loads(_unb64(body))
        except ValueError:
            return (
                None,
                "Invalid JWT: Token must be a short-lived token and in a reasonable timeframe.",
            )
        account = self.state.accounts.get(str(claims.get("iss")))
        if header.get("alg") != "RS256" or account is None or account.revoked:
            return None, "Invalid JWT Signature."
        try:
            account.public_key.verify(
                _unb64(sig), f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256()
            )
        except InvalidSignature:
            return None, "Invalid JWT Signature."
        iat, exp = claims.get("iat"), claims.get("exp")
        if not isinstance(iat, int) or not isinstance(exp, int) or not 0 < exp - iat <= 3600:
            return None, "Invalid JWT: Token must be a short-lived token (60 minutes)."
        if claims.get("aud") != audience:
            return None, "Invalid JWT: Failed audience check."
        if not claims.get("scope") and not claims.get("target_audience"):
            return None, "Invalid OAuth scope or ID token audience provided."
        return claims, ""


def json_object(value: object) -> dict[str, Any]:
    """`value` if it is a JSON object, else {} (for reading untrusted request bodies)."""
    return cast("dict[str, Any]", value) if isinstance(value, dict) else {}


def _unb64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _fake_id_token(email: str, audience: str, handle: str, claims: dict[str, object]) -> str:
    """A JWT-shaped ID token (readable claims, like Google's); its signature part is the
    handle the fake recognises it by, since nothing here verifies Google's keys."""
    header = _b64(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
    payload = {"iss": "https://accounts.google.com", "aud": audience, "email": email,
               "sub": email, "iat": claims["iat"], "exp": claims["exp"]}  # fmt: skip
    return f"{header}.{_b64(json.dumps(payload).encode())}.{_b64(handle.encode())}"
