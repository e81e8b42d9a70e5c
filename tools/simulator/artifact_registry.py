"""Artifact Registry's Docker endpoint (`https://{region}-docker.pkg.dev`), as far as the
token handshake of the OCI distribution spec that a push starts with:

- `GET /v2/` without a token -> 401 with `WWW-Authenticate: Bearer realm=".../v2/token"`;
- `GET /v2/token` with Basic `oauth2accesstoken:<Google access token>` (how Google
  documents `docker login` for Artifact Registry) -> `{"token": ...}`;
- `GET /v2/` with `Bearer <that token>` -> 200 `{}`.

Access tokens are the ones `gcp_oauth.GoogleOAuthFake` issued (the shared `GcpState`).
"""

from __future__ import annotations

import base64
import json
import secrets

from starlette.responses import Response

from tools.simulator._base import Exchange, FakeProvider, FakeRequest, bearer, json_response, route
from tools.simulator.gcp_oauth import GcpState, json_object

__all__ = ["ArtifactRegistryFake"]


class _DistributionContract:
    """The distribution spec's shape for these two routes (no published machine spec)."""

    def check_request(self, ex: Exchange) -> list[str]:
        if ex.method != "GET" or ex.template not in ("/v2/", "/v2/token"):
            return [f"{ex.method} {ex.template} is not in the documented API"]
        auth = ex.headers.get("authorization", "")
        if ex.template == "/v2/token" and not auth.startswith("Basic "):
            return ["the token request needs Basic oauth2accesstoken:<access token>"]
        return ["a body on a GET"] if ex.body else []

    def check_response(
        self, ex: Exchange, status: int, headers: dict[str, str], body: bytes
    ) -> list[str]:
        if status == 401 and ex.template == "/v2/" and "www-authenticate" not in headers:
            return ["401 without a WWW-Authenticate challenge"]
        data = json_object(json.loads(body) if body else None)
        if status == 200 and ex.template == "/v2/token" and not isinstance(data.get("token"), str):
            return ["token answer without 'token'"]
        return [] if status == 200 or isinstance(data.get("errors"), list) else ["no 'errors'"]


class ArtifactRegistryFake(FakeProvider):
    """The registry's `/v2/` ping and token service."""

    name = "Artifact Registry"
    request_id_header = "x-request-id"

    def __init__(self, state: GcpState | None = None) -> None:
        super().__init__(_DistributionContract())
        self.gcp = state or GcpState()
        self.registry_tokens: dict[str, str] = {}  # registry token -> account email

    def reset_state(self) -> None:
        self.registry_tokens.clear()

    def error(
        self, status: int, message: str, *, headers: dict[str, str] | None = None
    ) -> Response:
        code = {401: "UNAUTHORIZED", 403: "DENIED", 404: "NAME_UNKNOWN"}.get(status, "UNKNOWN")
        body = {"errors": [{"code": code, "message": message}]}
        return Response(json.dumps(body), status, headers=headers, media_type="application/json")

    @route("GET", "/v2/")
    async def ping(self, req: FakeRequest) -> Response:
        if bearer(req.raw) in self.registry_tokens:
            return json_response({})
        challenge = f'Bearer realm="{req.base_url}/v2/token",service="{req.raw.url.netloc}"'
        return self.error(401, "authentication required", headers={"www-authenticate": challenge})

    @route("GET", "/v2/token")
    async def token(self, req: FakeRequest) -> Response:
        basic = bearer(req.raw, schemes=("Basic",)) or ""
        try:
            user, _, password = base64.b64decode(basic).decode().partition(":")
        except ValueError:
            user, password = "", ""
        account = self.gcp.account_for(password) if user == "oauth2accesstoken" else None
        if account is None:
            return self.error(401, "failed to authenticate: invalid access token")
        token = f"ar-{secrets.token_urlsafe(24)}"
        self.registry_tokens[token] = account.email
        return json_response({"token": token, "expires_in": 3600})
