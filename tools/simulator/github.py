"""GitHub fake: `GET /user`, repos, and the Git Data API, checked against
`github-rest.subset.openapi.json` with the strict overlay (misspelt fields fail), plus the
OAuth routes of `github.com` (device flow here, web flow and org memberships in
`github_oauth.py`; not in the REST description, so documented shapes).

Git objects are hashed exactly as git does (blob, tree, commit), so an identical tree has
an identical SHA and tests can assert that a re-push made no new commit. Every `url` in a
response is built from the fake's own host, as PyGithub-style clients require.
"""

from __future__ import annotations

import base64
import itertools
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import Response

from tools.simulator import _github_json as gj
from tools.simulator._base import FakeProvider, FakeRequest, Refused, bearer, json_response, route
from tools.simulator._contract import OpenApiContract
from tools.simulator._git_objects import GitRepo
from tools.simulator._oauth import OAuthServer
from tools.simulator.github_app_oauth import GitHubApp, GitHubAppRoutes
from tools.simulator.github_device_oauth import DEVICE_GRANT, DevicePolicy, GitHubDeviceRoutes
from tools.simulator.github_oauth import OAUTH_CLIENT_SECRET, GitHubUser, GitHubWebFlowRoutes

DEFAULT_TOKEN = "ghp_FAKEfakeFAKEfakeFAKEfakeFAKEfake0000"
FINE_GRAINED_TOKEN = "github_pat_FAKE_fine_grained_0000000000000000"
NO_REPO_SCOPE_TOKEN = "ghp_FAKEnoREPOscopeFAKEfakeFAKEfake0000"
OAUTH_CLIENT_ID = "Iv1.fakeclientid0000"


class GitHubFake(FakeProvider, GitHubWebFlowRoutes, GitHubDeviceRoutes, GitHubAppRoutes):
    """Stateful GitHub: users (with scopes), repos with real git objects, the OAuth flows
    (device, sign-in web flow, a GitHub App's expiring tokens, revocation), organisation
    memberships. Test knobs: `oauth` (`_oauth.OAuthServer`), `device_policy`
    (`github_device_oauth`), `app` (`github_app_oauth`), `sign_in_as` (`github_oauth`)."""

    name = "GitHub"
    request_id_header = "x-github-request-id"

    def __init__(self) -> None:
        super().__init__(
            OpenApiContract(
                "github-rest.subset.openapi.json", host_url="https://api.github.com", strict=True
            )
        )
        self.users: dict[str, GitHubUser] = {}
        self.repos: dict[tuple[str, str], GitRepo] = {}
        self.device: dict[str, dict[str, Any]] = {}
        self.client_id = OAUTH_CLIENT_ID
        self.oauth = OAuthServer()
        self.device_policy = DevicePolicy()
        self.app = GitHubApp()
        self._clock = itertools.count(1767225600, 60)
        self.reset_state()

    def reset_state(self) -> None:
        self.users = {DEFAULT_TOKEN: GitHubUser(), FINE_GRAINED_TOKEN: GitHubUser(scopes=None),
                      NO_REPO_SCOPE_TOKEN: GitHubUser(scopes="read:user, gist")}  # fmt: skip
        self.repos, self.device = {}, {}
        self.reset_web_flow()
        self.oauth.reset()
        self.device_policy, self.app = DevicePolicy(), GitHubApp()

    def authenticate(self, request: Request) -> GitHubUser | None:
        if request.url.path.startswith(("/login/", "/apps/", "/applications/")):
            return GitHubUser()  # The OAuth routes authenticate by client id and secret.
        token = bearer(request, schemes=("Bearer", "token")) or ""
        return self.users.get(token) or self.oauth.account(token)

    def error(
        self, status: int, message: str, *, headers: dict[str, str] | None = None
    ) -> Response:
        text = {401: "Bad credentials"}.get(status, message)
        return json_response(
            {"message": text, "documentation_url": "https://docs.github.com/rest"}, status, headers
        )

    def _ok(self, req: FakeRequest, data: Any, status: int = 200) -> Response:
        headers = {"x-oauth-scopes": req.account.scopes} if req.account.scopes is not None else {}
        return json_response(data, status, headers)

    def _repo(self, req: FakeRequest) -> GitRepo:
        """The repo the path names, or `Refused` with GitHub's 404 (or 409 while empty)."""
        repo = self.repos.get((req.params["owner"], req.params["repo"]))
        if repo is None or (repo.owner != req.account.login and repo.private):
            raise Refused(self.error(404, "Not Found"))
        if not repo.refs and "/git/" in req.raw.url.path:
            raise Refused(self.error(409, "Git Repository is empty."))
        return repo

    def _writable_repo(self, req: FakeRequest) -> GitRepo:
        self._require_write(req)
        return self._repo(req)

    def _require_write(self, req: FakeRequest) -> None:
        """`Refused` with GitHub's 403 unless the token may write repos."""
        scopes = req.account.scopes
        if scopes is not None and not {"repo", "public_repo"} & {
            s.strip() for s in scopes.split(",")
        }:
            raise Refused(
                self.error(
                    403,
                    "Resource not accessible by personal access token",
                    headers={"x-accepted-oauth-scopes": "repo"},
                )
            )

    # ---- REST -------------------------------------------------------------------------
    @route("GET", "/user")
    async def user(self, req: FakeRequest) -> Response:
        return self._ok(req, gj.private_user(req.base_url, req.account.login, req.account.id))

    @route("POST", "/user/repos")
    async def create_repo(self, req: FakeRequest) -> Response:
        self._require_write(req)
        body, owner = req.json(), req.account.login
        if (owner, body["name"]) in self.repos:
            return json_response({"message": "Repository creation failed.", "documentation_url": "https://docs.github.com/rest",
                                  "errors": [{"resource": "Repository", "code": "custom", "field": "name",
                                              "message": "name already exists on this account"}]}, 422)  # fmt: skip
        repo = GitRepo(owner, body["name"], body.get("private", False))
        if body.get("auto_init"):
            readme = repo.blob(f"# {body['name']}\n".encode())
            repo.refs["heads/main"] = repo.commit(
                repo.tree({"README.md": ("100644", readme)}),
                [],
                "Initial commit",
                next(self._clock),
            )
        self.repos[(owner, repo.name)] = repo
        return self._ok(req, gj.full_repository(req.base_url, owner, repo.name, repo.private), 201)

    @route("GET", "/repos/{owner}/{repo}")
    async def get_repo(self, req: FakeRequest) -> Response:
        repo = self._repo(req)
        return self._ok(req, gj.full_repository(req.base_url, repo.owner, repo.name, repo.private))

    @route("GET", "/repos/{owner}/{repo}/git/ref/{ref:path}")
    async def get_ref(self, req: FakeRequest) -> Response:
        repo = self._repo(req)
        sha = repo.refs.get(req.params["ref"])
        return (
            self._ok(req, gj.ref(req.base_url, repo.owner, repo.name, req.params["ref"], sha))
            if sha
            else self.error(404, "Not Found")
        )

    @route("GET", "/repos/{owner}/{repo}/git/commits/{commit_sha}")
    async def get_commit(self, req: FakeRequest) -> Response:
        repo = self._repo(req)
        obj = repo.objects.get(req.params["commit_sha"])
        if obj is None or obj[0] != "commit":
            return self.error(404, "Not Found")
        return self._ok(
            req, gj.commit(req.base_url, repo.owner, repo.name, req.params["commit_sha"], obj[1])
        )

    @route("POST", "/repos/{owner}/{repo}/git/blobs")
    async def create_blob(self, req: FakeRequest) -> Response:
        repo = self._writable_repo(req)
        body = req.json()
        raw = (
            base64.b64decode(body["content"])
            if body.get("encoding") == "base64"
            else body["content"].encode()
        )
        sha = repo.blob(raw)
        return self._ok(
            req,
            {"sha": sha, "url": f"{req.base_url}/repos/{repo.owner}/{repo.name}/git/blobs/{sha}"},
            201,
        )

    @route("POST", "/repos/{owner}/{repo}/git/trees")
    async def create_tree(self, req: FakeRequest) -> Response:
        repo = self._writable_repo(req)
        body = req.json()
        files = repo.flatten(body["base_tree"]) if body.get("base_tree") else {}
        for e in body["tree"]:
            if "content" in e and e.get("sha"):
                return json_response(
                    {
                        "message": "Use either sha or content, not both",
                        "documentation_url": "https://docs.github.com/rest",
                    },
                    422,
                )
            if e.get("sha", "") is None:
                files.pop(e["path"], None)
                continue
            sha = repo.blob(e["content"].encode()) if "content" in e else e["sha"]
            if sha not in repo.objects:
                return json_response(
                    {
                        "message": f"tree.sha {sha} is not a valid blob",
                        "documentation_url": "https://docs.github.com/rest",
                    },
                    422,
                )
            files[e["path"]] = (e["mode"], sha)
        sha = repo.tree(files)
        return self._ok(req, gj.tree(req.base_url, repo.owner, repo.name, sha, files), 201)

    @route("POST", "/repos/{owner}/{repo}/git/commits")
    async def create_commit(self, req: FakeRequest) -> Response:
        repo = self._writable_repo(req)
        body = req.json()
        if body["tree"] not in repo.objects or any(
            p not in repo.objects for p in body.get("parents", [])
        ):
            return json_response(
                {
                    "message": "Tree SHA or parent SHA does not exist",
                    "documentation_url": "https://docs.github.com/rest",
                },
                422,
            )
        sha = repo.commit(body["tree"], body.get("parents", []), body["message"], next(self._clock))
        return self._ok(
            req, gj.commit(req.base_url, repo.owner, repo.name, sha, repo.objects[sha][1]), 201
        )

    @route("PATCH", "/repos/{owner}/{repo}/git/refs/{ref:path}")
    async def update_ref(self, req: FakeRequest) -> Response:
        repo = self._writable_repo(req)
        body, name = req.json(), req.params["ref"]
        if name not in repo.refs:
            return json_response(
                {
                    "message": "Reference does not exist",
                    "documentation_url": "https://docs.github.com/rest",
                },
                422,
            )
        if not body.get("force") and repo.refs[name] not in repo.ancestors(body["sha"]):
            return json_response(
                {
                    "message": "Update is not a fast forward",
                    "documentation_url": "https://docs.github.com/rest",
                },
                422,
            )
        repo.refs[name] = body["sha"]
        return self._ok(req, gj.ref(req.base_url, repo.owner, repo.name, name, body["sha"]))

    def commits(self, owner: str, name: str) -> int:
        """How many commits the repo holds (to assert that nothing was pushed twice)."""
        return self.repos[(owner, name)].commit_count()

    def files(self, owner: str, name: str, branch: str = "main") -> dict[str, bytes]:
        """The branch's files as bytes."""
        return self.repos[(owner, name)].files(branch)

    # ---- OAuth at github.com (not part of the REST description) ---------------------------
    def signed_in_user(self) -> GitHubUser:
        """The account signed in at github.com in the browser (the default one if none)."""
        return self.users.get(self.signed_in or "") or GitHubUser()

    def client_secret_of(self, client_id: str) -> str | None:
        """The secret of the fake's OAuth app or GitHub App named by `client_id`."""
        return {
            OAUTH_CLIENT_ID: OAUTH_CLIENT_SECRET,
            self.app.client_id: self.app.client_secret,
        }.get(client_id)

    @route("POST", "/login/oauth/access_token", checked=False)
    async def access_token(self, req: FakeRequest) -> Response:
        form = {k: v[0] for k, v in parse_qs(req.body.decode()).items()}
        if form.get("client_id") == self.app.client_id:
            return self.app_exchange(req)  # github_app_oauth.py: code and refresh grants
        if form.get("grant_type") == DEVICE_GRANT:
            return self.device_token(req)  # github_device_oauth.py
        if "grant_type" not in form and "code" in form:
            return self.exchange_code(req)  # the sign-in web flow (github_oauth.py)
        return self.oauth_answer(req, {"error": "unsupported_grant_type"})
