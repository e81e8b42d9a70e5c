"""Vercel fake. Vercel's own OpenAPI file (11 MB) is not kept here, so requests and
responses are checked against strict JSON Schemas written from the shapes in
`reference/provider-apis.md` section 4 (`@vercel/sdk` Zod models).

State: uploaded files by SHA-1, projects with env vars, and deployments that move
QUEUED -> BUILDING -> READY, one step per poll (or to ERROR, if `fail_next_build` is set).
A deployment naming a SHA that was never uploaded gets `missing_files`, as on Vercel.
Deleting a project (`DELETE /v9/projects/{idOrName}`, 204) deletes its deployments too.
Sign in with Vercel's routes (authorize, token, revoke) are in `vercel_oauth`; the tokens
they issue work on every route here.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, cast

from starlette.requests import Request
from starlette.responses import Response

from tools.simulator._base import FakeProvider, FakeRequest, Refused, bearer, json_response, route
from tools.simulator._contract import RouteSchema, SchemaContract
from tools.simulator._digests import accept, missing, public
from tools.simulator._oauth import OAuthServer
from tools.simulator.vercel_oauth import OAUTH_PATHS, VercelOAuthApp, VercelOAuthRoutes

DEFAULT_TOKEN = "vercel_fake_token_000000000000000"

_STR = {"type": "string"}
_FILE = {"type": "object", "additionalProperties": False, "required": ["file", "sha", "size"],
         "properties": {"file": _STR, "sha": {"type": "string", "pattern": "^[0-9a-f]{40}$"},
                        "size": {"type": "integer", "minimum": 0}}}  # fmt: skip
_INLINE = {"type": "object", "additionalProperties": False, "required": ["file", "data"],
           "properties": {"file": _STR, "data": _STR, "encoding": {"enum": ["utf-8", "base64"]}}}  # fmt: skip
_CREATE_DEPLOYMENT = {
    "type": "object", "additionalProperties": False, "required": ["name"],
    "properties": {
        "name": _STR, "project": _STR, "target": _STR, "deploymentId": _STR, "meta": {"type": "object"},
        "files": {"type": "array", "items": {"oneOf": [_FILE, _INLINE]}},
        "projectSettings": {"type": "object", "additionalProperties": False, "properties": {
            k: {"type": ["string", "null"]} for k in
            ("framework", "buildCommand", "installCommand", "outputDirectory", "rootDirectory", "nodeVersion")}},
        "gitSource": {"type": "object"}, "gitMetadata": {"type": "object"},
    },
}  # fmt: skip
_ENV_ITEM = {"type": "object", "additionalProperties": False, "required": ["key", "value", "type", "target"],
             "properties": {"key": _STR, "value": _STR, "type": {"enum": ["plain", "encrypted", "sensitive", "system"]},
                            "target": {"type": "array", "items": {"enum": ["production", "preview", "development"]}},
                            "gitBranch": _STR, "comment": _STR}}  # fmt: skip
_DEPLOYMENT = {"type": "object", "required": ["id", "url", "readyState", "name"],
               "properties": {"id": _STR, "url": _STR, "name": _STR, "inspectorUrl": _STR,
                              "readyState": {"enum": ["QUEUED", "INITIALIZING", "BUILDING", "READY", "ERROR", "CANCELED", "BLOCKED"]}}}  # fmt: skip
_PROJECT = {"type": "object", "required": ["id", "name"], "properties": {"id": _STR, "name": _STR}}
CONTRACT = SchemaContract({
    "GET /v2/user": RouteSchema(responses={200: {"type": "object", "required": ["user"], "properties": {
        "user": {"type": "object", "required": ["id", "email", "username"]}}}}),
    "POST /v2/files": RouteSchema(headers=("x-vercel-digest", "content-length"), content_type="application/octet-stream"),
    "POST /v13/deployments": RouteSchema(request=_CREATE_DEPLOYMENT, responses={200: _DEPLOYMENT}),
    "GET /v13/deployments/{id}": RouteSchema(responses={200: _DEPLOYMENT}),
    "GET /v9/projects/{id}": RouteSchema(responses={200: _PROJECT}),
    "DELETE /v9/projects/{id}": RouteSchema(),  # 204, no body
    "POST /v11/projects": RouteSchema(request={"type": "object", "required": ["name"], "additionalProperties": False,
                                               "properties": {"name": _STR, "framework": {"type": ["string", "null"]}}},
                                      responses={200: _PROJECT}),
    "POST /v10/projects/{id}/env": RouteSchema(request={"oneOf": [_ENV_ITEM, {"type": "array", "items": _ENV_ITEM}]}),
})  # fmt: skip


@dataclass
class VercelState:
    files: dict[str, bytes] = field(default_factory=dict[str, bytes])
    projects: dict[str, dict[str, Any]] = field(default_factory=dict[str, dict[str, Any]])
    deployments: dict[str, dict[str, Any]] = field(default_factory=dict[str, dict[str, Any]])
    fail_next_build: str | None = None
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))


class VercelFake(FakeProvider, VercelOAuthRoutes):
    """Stateful Vercel: file store, projects, env vars, deployments, and Sign in with
    Vercel (`vercel_oauth`; knobs `oauth`, `oauth_client`, `oauth_account`)."""

    name = "Vercel"
    request_id_header = "x-vercel-id"

    def __init__(self) -> None:
        super().__init__(CONTRACT)
        self.tokens = {
            DEFAULT_TOKEN: {
                "id": "user_fake",
                "email": "dev@example.com",
                "username": "kriptik-dev",
            }
        }
        self.state = VercelState()
        self.oauth = OAuthServer()
        self.oauth_client = VercelOAuthApp()
        self.oauth_account = self.tokens[DEFAULT_TOKEN]  # signed in at vercel.com

    def reset_state(self) -> None:
        self.state = VercelState()
        self.oauth.reset()
        self.oauth_client, self.oauth_account = VercelOAuthApp(), self.tokens[DEFAULT_TOKEN]

    def authenticate(self, request: Request) -> dict[str, str] | None:
        if request.url.path.startswith(OAUTH_PATHS):
            return {}  # the OAuth routes authenticate the client from the form
        token = bearer(request) or ""
        return self.tokens.get(token) or self.oauth.account(token)

    def error(
        self, status: int, message: str, *, headers: dict[str, str] | None = None
    ) -> Response:
        if status == 401:  # Vercel answers a bad token with 403 and `invalidToken`.
            return json_response(
                {"error": {"code": "forbidden", "message": "Not authorized", "invalidToken": True}},
                403,
                headers,
            )
        code = {403: "forbidden", 404: "not_found", 409: "conflict", 429: "rate_limited"}.get(
            status, "bad_request"
        )
        return json_response({"error": {"code": code, "message": message}}, status, headers)

    @route("GET", "/v2/user")
    async def user(self, req: FakeRequest) -> Response:
        return json_response({"user": {**req.account, "name": "KripTik Dev", "defaultTeamId": None,
                                       "createdAt": 1735689600000, "softBlock": None}})  # fmt: skip

    @route("POST", "/v2/files")
    async def upload(self, req: FakeRequest) -> Response:
        if not accept(self.state.files, req.body, req.headers.get("x-vercel-digest")):
            return json_response(
                {"error": {"code": "incorrect_file_sha", "message": "The file SHA does not match"}},
                400,
            )
        return json_response({})

    @route("GET", "/v9/projects/{id}")
    async def get_project(self, req: FakeRequest) -> Response:
        return json_response(public(self._named_project(req)))

    @route("DELETE", "/v9/projects/{id}")
    async def delete_project(self, req: FakeRequest) -> Response:
        project = self._named_project(req)
        del self.state.projects[project["id"]]
        for did in [
            d for d, dep in self.state.deployments.items() if dep["name"] == project["name"]
        ]:
            del self.state.deployments[did]
        return Response(status_code=204)

    @route("POST", "/v11/projects")
    async def create_project(self, req: FakeRequest) -> Response:
        name = req.json()["name"]
        if self._project(name):
            return self.error(409, "A project with this name already exists")
        pid = f"prj_{next(self.state.ids):06d}"
        self.state.projects[pid] = {"id": pid, "name": name, "_env": {}}
        return json_response(public(self.state.projects[pid]))

    @route("POST", "/v10/projects/{id}/env")
    async def upsert_env(self, req: FakeRequest) -> Response:
        project = self._named_project(req)
        items, upsert = req.json(), req.query.get("upsert") == "true"
        batch = cast("list[Any]", items) if isinstance(items, list) else [items]  # one or many
        for item in batch:
            if item["key"] in project["_env"] and not upsert:
                return self.error(409, f"A variable with the name `{item['key']}` already exists")
            project["_env"][item["key"]] = item
        return json_response({"created": items, "failed": []}, 201)

    @route("POST", "/v13/deployments")
    async def create_deployment(self, req: FakeRequest) -> Response:
        body = req.json()
        lacking = missing(self.state.files, (f["sha"] for f in body.get("files", []) if "sha" in f))
        if lacking:
            error = {"code": "missing_files", "message": "Missing files", "missing": lacking}
            return json_response({"error": error}, 400)
        did = f"dpl_{next(self.state.ids):06d}"
        name = body["name"]
        dep = {"id": did, "name": name, "url": f"{name}-{did[4:]}.vercel.app", "readyState": "QUEUED",
               "inspectorUrl": f"https://vercel.com/kriptik-dev/{name}/{did}", "_files": body.get("files", []),
               "_fail": self.state.fail_next_build}  # fmt: skip
        self.state.fail_next_build = None
        if self._project(name) is None:
            pid = f"prj_{next(self.state.ids):06d}"
            self.state.projects[pid] = {"id": pid, "name": name, "_env": {}}
        self.state.deployments[did] = dep
        return json_response(public(dep))

    @route("GET", "/v13/deployments/{id}")
    async def get_deployment(self, req: FakeRequest) -> Response:
        dep = self.state.deployments.get(req.params["id"])
        if dep is None:
            return self.error(404, "Deployment not found")
        step = {"QUEUED": "BUILDING", "BUILDING": "ERROR" if dep["_fail"] else "READY"}
        dep["readyState"] = step.get(dep["readyState"], dep["readyState"])
        if dep["readyState"] == "ERROR":
            dep["errorMessage"] = dep["_fail"]
        return json_response(public(dep))

    def _project(self, id_or_name: str) -> dict[str, Any] | None:
        return next(
            (p for p in self.state.projects.values() if id_or_name in (p["id"], p["name"])), None
        )

    def _named_project(self, req: FakeRequest) -> dict[str, Any]:
        """The project the path names (by id or name), or `Refused` with a 404."""
        project = self._project(req.params["id"])
        if project is None:
            raise Refused(self.error(404, "Project not found"))
        return project
