"""Netlify fake, checked against `netlify.swagger.json` (Swagger 2.0: jsonschema Draft 4 on
the `in: body` schema, with the strict overlay; responses against the operation's schema).

State: sites (found by id or by `name.netlify.app`), a file store shared by all deploys
(so files Netlify already has are not `required` again), and deploys that move
uploading -> processing -> ready as files arrive and the deploy is polled (or to error,
if `fail_next_deploy` is set). Deleting a site (`DELETE /sites/{site_id}`, 204) deletes its
deploys too. A deploy may carry zipped functions (`required_functions`, uploaded by digest),
and sites belong to one account, which holds their env vars (`/accounts/{id}/env`).
OAuth (`GET /authorize`, `POST /oauth/token`) is in `netlify_oauth`; the tokens it issues
work on every route here.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from tools.simulator._base import FakeProvider, FakeRequest, Refused, bearer, json_response, route
from tools.simulator._contract import SwaggerContract
from tools.simulator._digests import accept, missing, public, sha1
from tools.simulator._oauth import OAuthServer
from tools.simulator.netlify_oauth import OAUTH_PATHS, NetlifyOAuthApp, NetlifyOAuthRoutes

DEFAULT_TOKEN = "nfp_fakeFAKEfakeFAKEfakeFAKE0000000000"
_NOW = "2026-01-01T00:00:00.000Z"


@dataclass
class NetlifyState:
    sites: dict[str, dict[str, Any]] = field(default_factory=dict[str, dict[str, Any]])
    deploys: dict[str, dict[str, Any]] = field(default_factory=dict[str, dict[str, Any]])
    # sha1 -> content, all deploys
    files: dict[str, bytes] = field(default_factory=dict[str, bytes])
    fail_next_deploy: str | None = None
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def new_id(self) -> str:
        return sha1(str(next(self.ids)).encode())[:24]


class NetlifyFake(FakeProvider, NetlifyOAuthRoutes):
    """Stateful Netlify: sites, file-digest deploys, the current user, and OAuth
    (`netlify_oauth`; knobs `oauth`, `oauth_client`, `oauth_account`)."""

    name = "Netlify"
    request_id_header = "x-nf-request-id"
    ACCOUNT = "kriptik-dev"

    def __init__(self) -> None:
        super().__init__(SwaggerContract("netlify.swagger.json"))
        self.tokens = {
            DEFAULT_TOKEN: {
                "id": "user-fake",
                "email": "dev@example.com",
                "full_name": "KripTik Dev",
            }
        }
        self.oauth = OAuthServer()
        self.reset_state()

    def reset_state(self) -> None:
        self.state = NetlifyState()
        # On the fake, not in NetlifyState: test subclasses written before these routes
        # existed override them by name and keep these same two attributes.
        self.env: dict[tuple[str, str], dict[str, Any]] = {}  # (site_id, key) -> variable
        self.functions: dict[str, bytes] = {}  # sha256 -> zip, shared by all deploys
        self.oauth.reset()
        self.oauth_client, self.oauth_account = NetlifyOAuthApp(), self.tokens[DEFAULT_TOKEN]

    def authenticate(self, request: Request) -> dict[str, str] | None:
        if request.url.path.startswith(OAUTH_PATHS):
            return {}  # the OAuth routes authenticate the client from the query or form
        token = bearer(request) or ""
        return self.tokens.get(token) or self.oauth.account(token)

    def error(
        self, status: int, message: str, *, headers: dict[str, str] | None = None
    ) -> Response:
        return json_response({"code": status, "message": message}, status, headers)

    def _site(self, key: str) -> dict[str, Any] | None:
        return next(
            (s for s in self.state.sites.values() if key in (s["id"], f"{s['name']}.netlify.app")),
            None,
        )

    def _named_site(self, req: FakeRequest) -> dict[str, Any]:
        """The site the path names, or `Refused` with a 404."""
        site = self._site(req.params["site_id"])
        if site is None:
            raise Refused(self.error(404, "Not Found"))
        return site

    def _named_deploy(self, req: FakeRequest) -> dict[str, Any]:
        """The deploy the path names, or `Refused` with a 404."""
        return self.found(self.state.deploys, req.params["deploy_id"], "Not Found")

    @route("GET", "/api/v1/user")
    async def user(self, req: FakeRequest) -> Response:
        return json_response({**req.account, "uid": "uid-fake", "avatar_url": "", "site_count": len(self.state.sites),
                              "created_at": _NOW, "last_login": _NOW, "login_providers": ["email"]})  # fmt: skip

    @route("POST", "/api/v1/sites")
    async def create_site(self, req: FakeRequest) -> Response:
        name = req.json().get("name") or f"site-{self.state.new_id()[:6]}"
        if self._site(f"{name}.netlify.app"):
            return self.error(422, "subdomain must be unique")
        sid = self.state.new_id()
        site = {"id": sid, "site_id": sid, "name": name, "state": "current", "url": f"http://{name}.netlify.app",
                "ssl_url": f"https://{name}.netlify.app", "admin_url": f"https://app.netlify.com/sites/{name}",
                "created_at": _NOW, "updated_at": _NOW, "user_id": req.account["id"],
                "account_id": "acc-0001", "account_slug": self.ACCOUNT}  # fmt: skip
        self.state.sites[sid] = site
        return json_response(site, 201)

    @route("GET", "/api/v1/sites/{site_id}")
    async def get_site(self, req: FakeRequest) -> Response:
        return json_response(self._named_site(req))

    @route("DELETE", "/api/v1/sites/{site_id}")
    async def delete_site(self, req: FakeRequest) -> Response:
        site = self._named_site(req)
        del self.state.sites[site["id"]]
        for did in [d for d, dep in self.state.deploys.items() if dep["site_id"] == site["id"]]:
            del self.state.deploys[did]
        return Response(status_code=204)

    @route("POST", "/api/v1/sites/{site_id}/deploys")
    async def create_deploy(self, req: FakeRequest) -> Response:
        site = self._named_site(req)
        files: dict[str, str] = req.json().get("files") or {}
        required = missing(self.state.files, files.values())
        fns: dict[str, str] = req.json().get("functions") or {}
        required_fns = sorted({sha for sha in fns.values() if sha not in self.functions})
        did = self.state.new_id()
        deploy = {"id": did, "site_id": site["id"], "state": "uploading" if required or required_fns else "processing",
                  "required": required, "required_functions": required_fns, "_functions": fns,
                  "name": site["name"], "ssl_url": site["ssl_url"],
                  "deploy_ssl_url": f"https://{did}--{site['name']}.netlify.app", "created_at": _NOW,
                  "updated_at": _NOW, "_paths": files, "_fail": self.state.fail_next_deploy}  # fmt: skip
        self.state.fail_next_deploy = None
        self.state.deploys[did] = deploy
        return json_response(public(deploy))

    @route("PUT", "/api/v1/deploys/{deploy_id}/files/{path:path}")
    async def upload(self, req: FakeRequest) -> Response:
        deploy = self._named_deploy(req)
        path = "/" + req.params["path"]
        sha = deploy["_paths"].get(path)
        if not accept(self.state.files, req.body, sha):
            return self.error(
                422, f"{path} is not part of this deploy, or its content does not match"
            )
        deploy["required"] = [s for s in deploy["required"] if s != sha]
        if not deploy["required"] and not deploy["required_functions"]:
            deploy["state"] = "processing"
        return json_response(
            {
                "id": sha,
                "path": path,
                "sha": sha,
                "mime_type": "application/octet-stream",
                "size": len(req.body),
            }
        )

    @route("GET", "/api/v1/sites/{site_id}/deploys/{deploy_id}")
    async def get_site_deploy(self, req: FakeRequest) -> Response:
        deploy = self._named_deploy(req)
        self._named_site(req)  # the deploy is read through its site: an unknown one is a 404
        if deploy["state"] == "processing":
            deploy["state"] = "error" if deploy["_fail"] else "ready"
            if deploy["_fail"]:
                deploy["error_message"] = deploy["_fail"]
        return json_response(public(deploy))

    @route("PUT", "/api/v1/deploys/{deploy_id}/functions/{name}")
    async def upload_function(self, req: FakeRequest) -> Response:
        deploy = self._named_deploy(req)
        sha = hashlib.sha256(req.body).hexdigest()
        if deploy["_functions"].get(req.params["name"]) != sha or req.query.get("runtime") != "js":
            return self.error(422, "function digest or runtime does not match the deploy")
        self.functions[sha] = req.body
        deploy["required_functions"] = [s for s in deploy["required_functions"] if s != sha]
        if not deploy["required_functions"] and not deploy["required"]:
            deploy["state"] = "processing"
        return json_response({"id": sha[:24], "name": req.params["name"], "sha": sha})

    def _var(self, req: FakeRequest, key: str) -> dict[str, Any] | None:
        return self.env.get((req.query.get("site_id", ""), key))

    @route("GET", "/api/v1/accounts/{account_id}/env/{key}")
    async def get_env(self, req: FakeRequest) -> Response:
        var = self._var(req, req.params["key"])
        return json_response(var) if var else self.error(404, "Not Found")

    @route("POST", "/api/v1/accounts/{account_id}/env")
    async def create_env(self, req: FakeRequest) -> Response:
        if req.params["account_id"] != self.ACCOUNT:
            return self.error(404, "Not Found")
        items = req.json()
        for item in items:
            if self._var(req, item["key"]):
                return self.error(409, f"{item['key']} already exists")
            self.env[(req.query.get("site_id", ""), item["key"])] = item
        return json_response(items, 201)

    @route("PUT", "/api/v1/accounts/{account_id}/env/{key}")
    async def update_env(self, req: FakeRequest) -> Response:
        if self._var(req, req.params["key"]) is None:
            return self.error(404, "Not Found")
        self.env[(req.query.get("site_id", ""), req.params["key"])] = req.json()
        return json_response(req.json())

    def site_files(self, deploy_id: str) -> dict[str, bytes]:
        """What a deploy serves, path -> content (for assertions)."""
        deploy = self.state.deploys[deploy_id]
        return {p: self.state.files[s] for p, s in deploy["_paths"].items()}
