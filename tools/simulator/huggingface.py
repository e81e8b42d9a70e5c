"""Hugging Face Hub fake, faithful to what `huggingface_hub.HfApi` 2.x reads.

Routes: `GET /api/whoami-v2`, `GET /api/models/{repo}[/revision/{rev}]` (with `blobs=true`
sizes), `GET /api/models/{repo}/auth-check[/write]`, `GET /api/models/{repo}/tree/{rev}`,
and `HEAD|GET /{repo}/resolve/{rev}/{file}` with HTTP Range (206) for safetensors headers.
Errors carry `X-Error-Code` (RepoNotFound, GatedRepo, EntryNotFound, RevisionNotFound) or
`X-Error-Message`, which is what `hf_raise_for_status` maps to exceptions. There is no
published spec; the shapes follow huggingface.js `api-model.ts` / `api-who-am-i.ts`.

Repos come from `tools.simulator.hf_repos`: `fake.add_repo(safetensors_repo("me/x"))`.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from starlette.requests import Request
from starlette.responses import Response

from tools.simulator import hf_repos
from tools.simulator._base import FakeProvider, FakeRequest, Refused, json_response, route
from tools.simulator.hf_repos import HubFile, HubRepo

DEFAULT_TOKEN = "hf_fakeFAKEfakeFAKEfakeFAKEfakeFAKE00"
_BAD_KEY = "Invalid credentials in Authorization header"
_ANON = "anonymous"


@dataclass
class HfUser:
    """An account and its token's role; a fine-grained token's `permissions` are what it
    holds on the account itself (e.g. "inference.endpoints.write")."""

    name: str = "kriptik-tester"
    role: Literal["read", "write", "fineGrained"] = "read"
    email: str = "tester@example.com"
    orgs: list[str] = field(default_factory=lambda: ["kriptik-test"])
    permissions: list[str] = field(default_factory=list[str])

    def token_json(self) -> dict[str, Any]:
        """`auth.accessToken` of whoami-v2: a fine-grained token also lists its permissions
        (`fineGrained.global`, and `scoped` per account or org)."""
        token: dict[str, Any] = {"displayName": "kriptik", "role": self.role}
        if self.role == "fineGrained":
            token["fineGrained"] = {"canReadGatedRepos": True, "global": [], "scoped": [
                {"entity": {"_id": f"id-{self.name}", "type": "user", "name": self.name},
                 "permissions": list(self.permissions)},
            ]}  # fmt: skip
        return token

    def may_manage_endpoints(self) -> bool:
        """Whether the token may create and delete Inference Endpoints: a write token, or a
        fine-grained one with "inference.endpoints.write"; never a read token."""
        if self.role == "fineGrained":
            return "inference.endpoints.write" in self.permissions
        return self.role == "write"


def default_repos() -> list[HubRepo]:
    """One repo of every kind the sizing code meets (fresh copies; files are shared)."""
    return [
        dataclasses.replace(r, files=dict(r.files), tags=list(r.tags), card_data=dict(r.card_data))
        for r in _built_repos()
    ]


@functools.cache
def _built_repos() -> tuple[HubRepo, ...]:
    return (
        hf_repos.safetensors_repo(), hf_repos.sharded_repo(), hf_repos.mixed_dtype_repo(),
        hf_repos.gptq_repo(), hf_repos.diffusers_repo(), hf_repos.gated_repo(),
        hf_repos.bin_and_safetensors_repo(), hf_repos.no_weights_repo(), hf_repos.large_header_repo(),
    )  # fmt: skip


class HuggingFaceFake(FakeProvider):
    """Stateful Hub: repos, tokens, and which users accepted which gated repos."""

    name = "Hugging Face"

    def __init__(self) -> None:
        super().__init__()
        self.repos: dict[str, HubRepo] = {}
        self.users: dict[str, HfUser] = {}
        self.granted: set[tuple[str, str]] = set()
        self.reset_state()

    def reset_state(self) -> None:
        self.repos = {r.repo_id: r for r in default_repos()}
        # The simulator's own account holds a write token, as a user deploying on Inference
        # Endpoints must (a token added without a role is a read token).
        self.users = {DEFAULT_TOKEN: HfUser(role="write")}
        self.granted = set()

    def add_repo(self, repo: HubRepo) -> HubRepo:
        self.repos[repo.repo_id] = repo
        return repo

    def add_token(self, token: str, user: HfUser | None = None) -> HfUser:
        self.users[token] = user or HfUser()
        return self.users[token]

    def grant(self, user: str, repo_id: str) -> None:
        """Record that `user` accepted the gated repo's conditions."""
        self.granted.add((user, repo_id))

    # ---- protocol details ---------------------------------------------------------------
    def authenticate(self, request: Request) -> HfUser | str | None:
        header = request.headers.get("authorization")
        if header is None:
            return _ANON
        scheme, _, token = header.partition(" ")
        return self.users.get(token) if scheme == "Bearer" else None

    def error(
        self, status: int, message: str, *, headers: dict[str, str] | None = None
    ) -> Response:
        headers = dict(headers or {})
        if status == 401:
            headers.setdefault("x-error-message", _BAD_KEY)
        return json_response({"error": message}, status, headers)

    def _hub_error(self, status: int, code: str, message: str) -> Response:
        return json_response(
            {"error": message}, status, {"x-error-code": code, "x-error-message": message}
        )

    def _repo(self, req: FakeRequest, *, files: bool) -> HubRepo:
        """The repo, or `Refused` with the Hub's answer for a missing, private or gated one."""
        repo = self.repos.get(req.params["repo"])
        anon = not isinstance(req.account, HfUser)
        user = req.account.name if isinstance(req.account, HfUser) else None
        if repo is None or (repo.private and (anon or not repo.repo_id.startswith(f"{user}/"))):
            # The Hub answers 401 to anonymous callers so as not to confirm a repo exists.
            raise Refused(
                self._hub_error(401 if anon else 404, "RepoNotFound", "Repository not found")
            )
        if files and repo.gated and (anon or (user, repo.repo_id) not in self.granted):
            raise Refused(self._hub_error(
                401 if anon else 403, "GatedRepo",
                f"Access to model {repo.repo_id} is restricted. You must have access to it "
                "and be authenticated to access it. Please log in.",
            ))  # fmt: skip
        rev = req.params.get("rev")
        if rev is not None and rev not in {"main", repo.sha}:
            raise Refused(self._hub_error(404, "RevisionNotFound", f"Invalid rev id: {rev}"))
        return repo

    # ---- routes -------------------------------------------------------------------------
    @route("GET", "/api/whoami-v2")
    async def whoami(self, req: FakeRequest) -> Response:
        if not isinstance(req.account, HfUser):
            return self.error(401, _BAD_KEY)
        u = req.account
        return json_response({
            "type": "user", "id": f"id-{u.name}", "name": u.name, "fullname": u.name.title(),
            "email": u.email, "emailVerified": True, "isPro": False, "canPay": False,
            "avatarUrl": "/avatars/default.svg", "periodEnd": None,
            "orgs": [{"type": "org", "name": o, "fullname": o, "roleInOrg": "admin"} for o in u.orgs],
            "auth": {"type": "access_token", "accessToken": u.token_json()},
        })  # fmt: skip

    @route("GET", "/api/models/{repo:path}/auth-check/write")
    async def auth_check_write(self, req: FakeRequest) -> Response:
        self._repo(req, files=True)  # a missing, private or gated repo answers first
        if not isinstance(req.account, HfUser) or req.account.role == "read":
            return self.error(403, "You don't have write access to this repository")
        return json_response({"authorized": True})

    @route("GET", "/api/models/{repo:path}/auth-check")
    async def auth_check(self, req: FakeRequest) -> Response:
        self._repo(req, files=True)
        return json_response({"authorized": True})

    @route("GET", "/api/models/{repo:path}/tree/{rev}")
    async def tree(self, req: FakeRequest) -> Response:
        repo = self._repo(req, files=False)
        recursive = req.query.get("recursive") in {"1", "true", "True"}
        entries = [
            _tree_entry(f) for p, f in sorted(repo.files.items()) if recursive or "/" not in p
        ]
        if not recursive:
            dirs = sorted({p.split("/")[0] for p in repo.files if "/" in p})
            entries += [{"type": "directory", "oid": "0" * 40, "size": 0, "path": d} for d in dirs]
        return json_response(entries)

    @route("GET", "/api/models/{repo:path}/revision/{rev}")
    @route("GET", "/api/models/{repo:path}")
    async def model_info(self, req: FakeRequest) -> Response:
        repo = self._repo(req, files=False)
        return json_response(
            _model_info(repo, blobs=req.query.get("blobs") in {"1", "true", "True"})
        )

    @route("HEAD", "/{repo:path}/resolve/{rev}/{file:path}")
    @route("GET", "/{repo:path}/resolve/{rev}/{file:path}")
    async def get_file(self, req: FakeRequest) -> Response:
        repo = self._repo(req, files=True)
        f = repo.files.get(req.params["file"])
        if f is None:
            return self._hub_error(
                404, "EntryNotFound", f'{req.params["file"]} does not exist on "main"'
            )
        headers = {"etag": f'"{f.sha256 if f.lfs else f.sha1}"', "x-repo-commit": repo.sha,
                   "accept-ranges": "bytes", "content-type": "application/octet-stream"}  # fmt: skip
        if f.lfs:
            headers |= {"x-linked-size": str(f.size), "x-linked-etag": f'"{f.sha256}"'}
        start, end, status = 0, f.size - 1, 200
        if (m := re.fullmatch(r"bytes=(\d+)-(\d*)", req.headers.get("range", ""))) is not None:
            start, end, status = int(m.group(1)), int(m.group(2) or f.size - 1), 206
            if start >= f.size:
                return Response(b"", 416, headers={"content-range": f"bytes */{f.size}"})
            end = min(end, f.size - 1)
            headers["content-range"] = f"bytes {start}-{end}/{f.size}"
        if req.raw.method == "HEAD":
            return Response(b"", status, headers=headers | {"content-length": str(end - start + 1)})
        return Response(f.read(start, end), status, headers=headers)


def _tree_entry(f: HubFile) -> dict[str, Any]:
    entry: dict[str, Any] = {"type": "file", "oid": f.sha1, "size": f.size, "path": f.path}
    if f.lfs:
        entry["lfs"] = {"oid": f.sha256, "size": f.size, "pointerSize": 134}
    return entry


def _model_info(repo: HubRepo, *, blobs: bool) -> dict[str, Any]:
    siblings: list[dict[str, Any]] = []
    for f in sorted(repo.files.values(), key=lambda f: f.path):
        sib: dict[str, Any] = {"rfilename": f.path}
        if blobs:
            sib |= {"size": f.size, "blobId": f.sha1}
            if f.lfs:
                sib["lfs"] = {"size": f.size, "sha256": f.sha256, "pointerSize": 134}
        siblings.append(sib)
    info: dict[str, Any] = {
        "_id": f"id-{repo.repo_id}", "id": repo.repo_id, "modelId": repo.repo_id,
        "author": repo.repo_id.split("/")[0], "sha": repo.sha, "private": repo.private,
        "gated": repo.gated, "disabled": False, "downloads": 42, "likes": 3,
        "library_name": repo.library_name, "pipeline_tag": repo.pipeline_tag, "tags": repo.tags,
        "lastModified": "2026-01-01T00:00:00.000Z", "createdAt": "2025-06-01T00:00:00.000Z",
        "cardData": repo.card_data, "siblings": siblings, "spaces": [],
        "usedStorage": sum(f.size for f in repo.files.values()),
    }  # fmt: skip
    if (config := repo.files.get("config.json")) is not None:
        full = json.loads(config.content)
        keep = ("architectures", "model_type", "quantization_config", "num_local_experts")
        info["config"] = {k: full[k] for k in keep if k in full}
    if params := repo.safetensors_parameters():
        info["safetensors"] = {"parameters": params, "total": sum(params.values())}
    return info
