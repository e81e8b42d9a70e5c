"""The provider fakes, extended with the routes that publishing a web app uses beyond the
shared fakes, each checked against the same contracts:

- RunPod jobs: vLLM's OpenAI-compatible chat route (`/openai/v1/chat/completions`),
  streamed as server-sent events; requests checked against a schema of OpenAI's body.
- GitHub: the Contents API (`PUT contents/{path}`), which gives an empty repo its first
  commit (in the published GitHub description, so openapi-core checks it).
- Vercel: the build log (`GET /v3/deployments/{id}/events`) and the production alias.
- Netlify: account env vars and functions uploaded with a deploy (`required_functions`),
  all in Netlify's published Swagger file; sites carry their account.
"""

from __future__ import annotations

import base64
import io
import json
import zipfile
from typing import Any

from starlette.responses import Response

from tools.simulator._base import FakeRequest, json_response, route
from tools.simulator._contract import RouteSchema, SchemaContract
from tools.simulator.all import FakeStack
from tools.simulator.github import GitHubFake, GitRepo
from tools.simulator.netlify import NetlifyFake
from tools.simulator.runpod import FakeEndpoint, RunPodFake
from tools.simulator.vercel import CONTRACT as VERCEL_CONTRACT
from tools.simulator.vercel import VercelFake

_EVENTS = {"type": "array", "items": {"type": "object", "required": ["type", "created"]}}


class GitHubWithContents(GitHubFake):
    """GitHub plus the Contents API, and repos created empty (as on github.com)."""

    def empty_repo(self, name: str, *, private: bool = True, owner: str = "octo-tester") -> None:
        """A repo made without `auto_init`: the Git Data API answers 409 until a commit."""
        self.repos[(owner, name)] = GitRepo(owner, name, private)

    @route("PUT", "/repos/{owner}/{repo}/contents/{path:path}")
    async def put_contents(self, req: FakeRequest) -> Response:
        self._require_write(req)
        repo = self.repos.get((req.params["owner"], req.params["repo"]))
        if repo is None:
            return self.error(404, "Not Found")
        body, path = req.json(), req.params["path"]
        branch = f"heads/{body.get('branch', 'main')}"
        files = (
            repo.flatten(repo.objects[repo.refs[branch]][1]["tree"]) if branch in repo.refs else {}
        )
        files[path] = ("100644", repo.blob(base64.b64decode(body["content"])))
        parents = [repo.refs[branch]] if branch in repo.refs else []
        repo.refs[branch] = repo.commit(
            repo.tree(files), parents, body["message"], next(self._clock)
        )
        return self._ok(req, {"content": {"name": path.rsplit("/", 1)[-1], "path": path, "sha": files[path][1]},
                              "commit": {"sha": repo.refs[branch]}}, 201)  # fmt: skip


class VercelWithEvents(VercelFake):
    """Vercel plus the build log of each deployment, and a production alias once READY."""

    def __init__(self) -> None:
        super().__init__()
        routes = {
            **VERCEL_CONTRACT.routes,
            "GET /v3/deployments/{id}/events": RouteSchema(responses={200: _EVENTS}),
        }
        self.contract = SchemaContract(routes)
        self.build_output: list[str] = ["Installing dependencies...", "Build completed"]

    @route("GET", "/v3/deployments/{id}/events")
    async def events(self, req: FakeRequest) -> Response:
        dep = self.state.deployments.get(req.params["id"])
        if dep is None:
            return self.error(404, "Deployment not found")
        lines = [*self.build_output, *([f"Error: {dep['_fail']}"] if dep["_fail"] else [])]
        return json_response([{"type": "stdout", "created": 1767225600000 + i, "payload": {"text": text}}
                              for i, text in enumerate(lines)])  # fmt: skip

    @route("GET", "/v13/deployments/{id}")
    async def get_deployment(self, req: FakeRequest) -> Response:
        response = await VercelFake.get_deployment(self, req)
        dep = self.state.deployments.get(req.params["id"])
        if dep is not None and dep["readyState"] == "READY":
            dep["alias"] = [f"{dep['name']}.vercel.app"]
            return json_response({k: v for k, v in dep.items() if not k.startswith("_")})
        return response


class NetlifyWithFunctions(NetlifyFake):
    """Netlify plus account env vars and zipped functions uploaded with a deploy."""

    ACCOUNT = "kriptik-dev"

    def __init__(self) -> None:
        super().__init__()
        self.reset_state()

    def reset_state(self) -> None:
        super().reset_state()
        self.env: dict[tuple[str, str], dict[str, Any]] = {}  # (site_id, key) -> variable
        self.functions: dict[str, bytes] = {}  # sha256 -> zip

    @route("POST", "/api/v1/sites")
    async def create_site(self, req: FakeRequest) -> Response:
        response = await NetlifyFake.create_site(self, req)
        if response.status_code == 201:
            site = json.loads(bytes(response.body))
            self.state.sites[site["id"]] |= {"account_id": "acc-0001", "account_slug": self.ACCOUNT}
            return json_response(self.state.sites[site["id"]], 201)
        return response

    @route("POST", "/api/v1/sites/{site_id}/deploys")
    async def create_deploy(self, req: FakeRequest) -> Response:
        response = await NetlifyFake.create_deploy(self, req)
        if response.status_code != 200:
            return response
        deploy = self.state.deploys[json.loads(bytes(response.body))["id"]]
        fns: dict[str, str] = req.json().get("functions") or {}
        deploy["_functions"] = fns
        deploy["required_functions"] = sorted(
            {sha for sha in fns.values() if sha not in self.functions}
        )
        if deploy["required_functions"]:
            deploy["state"] = "uploading"
        return json_response({k: v for k, v in deploy.items() if not k.startswith("_")})

    @route("PUT", "/api/v1/deploys/{deploy_id}/files/{path:path}")
    async def upload(self, req: FakeRequest) -> Response:
        response = await NetlifyFake.upload(self, req)
        deploy = self.state.deploys.get(req.params["deploy_id"])
        if deploy is not None and deploy.get("required_functions"):
            deploy["state"] = "uploading"  # Still waiting for a function.
        return response

    def function_source(self, deploy_id: str, name: str = "infer") -> bytes:
        """The deployed function's `{name}.js`, unzipped (for running it in tests)."""
        zipped = self.functions[self.state.deploys[deploy_id]["_functions"][name]]
        with zipfile.ZipFile(io.BytesIO(zipped)) as archive:
            return archive.read(f"{name}.js")


def webapp_stack(runpod: RunPodFake | None = None) -> FakeStack:
    """A `FakeStack` with the extended fakes (not started), on `runpod` where given."""
    return FakeStack(
        runpod=runpod or RunPodFake(),
        github=GitHubWithContents(),
        vercel=VercelWithEvents(),
        netlify=NetlifyWithFunctions(),
    )


def add_endpoint(stack: FakeStack, endpoint_id: str = "ep0webapp01") -> str:
    """A ready endpoint on the RunPod fake (as the deployment pipeline leaves it)."""
    data = {"id": endpoint_id, "name": endpoint_id, "workers": {"min": 0, "max": 1}}
    stack.runpod.state.endpoints[endpoint_id] = FakeEndpoint(data, polls_left=0)
    return endpoint_id
