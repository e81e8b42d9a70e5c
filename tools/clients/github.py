"""GitHub REST (`https://api.github.com`): validate a token, create a repo, and push a
whole file tree as one commit through the Git Data API; the token owner's organisation
memberships (sign-in allow-list).

`push_tree` (see `_git`) compares the new tree's SHA with the branch head's: identical
content makes no commit, so a re-run pushes nothing. Repos are created with `auto_init`,
because the Git Data API answers 409 on an empty repository.

Errors: `AuthError` (401 Bad credentials), `ProviderPermissionError` (403: missing
`repo` / `workflow` scope), `NotFound`, `Conflict` (409), `InvalidRequest` (422),
`RateLimited` (429, or 403 with `X-RateLimit-Remaining: 0`), `Upstream`.
"""

from __future__ import annotations

import base64
from collections.abc import Collection, Mapping

from pydantic import BaseModel, ConfigDict

from tools.clients._base import ProviderClient
from tools.clients._git import PushResult, push_snapshot
from tools.clients._http import as_dict, path_segment
from tools.clients._messages import ProviderInfo
from tools.clients.errors import NotFound

__all__ = ["GITHUB", "GitHubClient", "GitHubRepo", "GitHubUser", "PushResult"]

GITHUB = ProviderInfo(
    name="GitHub",
    keys_url="https://github.com/settings/tokens/new?scopes=repo,workflow",
    status_url="https://www.githubstatus.com",
    permission_hint="Pushing code needs the `repo` scope (and `workflow` for .github/workflows).",
)


class GitHubUser(BaseModel):
    """The token's account; `scopes` is None for fine-grained tokens (they report none)."""

    model_config = ConfigDict(frozen=True)

    login: str
    id: int | None = None  # GitHub's numeric user id: never reused, unlike the login
    name: str | None = None
    email: str | None = None
    scopes: tuple[str, ...] | None = None


class GitHubRepo(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    name: str
    full_name: str
    html_url: str
    clone_url: str
    default_branch: str
    private: bool


class GitHubClient(ProviderClient):
    """GitHub's REST API for one token; `base_url` is `https://api.github.com`
    (settings: github_api_base_url).

    Args: see `ProviderClient`.
    """

    info = GITHUB

    async def user(self) -> GitHubUser:
        """The token's account and its OAuth scopes (`X-OAuth-Scopes`)."""
        resp, data = await self._api.exchange("GET", "/user", what="your account")
        header = resp.headers.get("x-oauth-scopes")
        scopes = (
            None if header is None else tuple(s.strip() for s in header.split(",") if s.strip())
        )
        return self._api.model(GitHubUser, {**as_dict(data), "scopes": scopes})

    async def org_membership(self, org: str) -> str | None:
        """The token owner's membership state in `org` ("active" or "pending"), or None
        when they are not a member. Needs the `read:org` scope; an organisation that
        restricts OAuth apps it has not approved answers 403 (`ProviderPermissionError`)."""
        path = f"/user/memberships/orgs/{path_segment(org)}"
        try:
            data = await self._api.call("GET", path, what=f"your membership of {org}")
        except NotFound:
            return None
        state = as_dict(data).get("state")
        return state if isinstance(state, str) else None

    async def get_repo(self, owner: str, name: str) -> GitHubRepo:
        path = f"/repos/{path_segment(owner)}/{path_segment(name)}"
        return await self._one(GitHubRepo, "GET", path, f"the repository {owner}/{name}")

    async def ensure_repo(
        self, name: str, *, private: bool = True, description: str = ""
    ) -> GitHubRepo:
        """The token owner's repo `name`, created (with an initial commit) if missing."""
        owner = (await self.user()).login
        try:
            return await self.get_repo(owner, name)
        except NotFound:
            return await self.create_repo(name, private=private, description=description)

    async def create_repo(self, name: str, *, private: bool, description: str) -> GitHubRepo:
        """Create the token owner's repo `name` with an initial commit (`auto_init`); no
        lookup first, so the caller knows whether it created the repo."""
        body = {"name": name, "private": private, "auto_init": True, "description": description}
        return await self._one(
            GitHubRepo, "POST", "/user/repos", f"the repository {name}", json=body
        )

    async def bootstrap(self, repo: GitHubRepo) -> None:
        """Create README.md in the empty `repo` (one commit on its default branch): the Git
        Data API answers 409 "Git Repository is empty" until a repo has a commit."""
        owner, name = repo.full_name.split("/", 1)
        body = {
            "message": "Initial commit",
            "content": base64.b64encode(f"# {name}\n".encode()).decode(),
            "branch": repo.default_branch,
        }
        path = f"/repos/{path_segment(owner)}/{path_segment(name)}/contents/README.md"
        await self._api.call("PUT", path, json=body, what=f"the repository {repo.full_name}")

    async def push_tree(
        self,
        full_name: str,
        files: Mapping[str, bytes | str],
        *,
        message: str,
        branch: str = "main",
        executable: Collection[str] = (),
    ) -> PushResult:
        """Make `branch` hold exactly `files` (path -> content), as one commit.

        Args:
            full_name: "owner/repo".
            files: Every file of the new tree, by path ("src/app.py").
            message: The commit message.
            branch: The branch to move (it must exist; `ensure_repo` creates `main`).
            executable: Paths to give mode 100755.
        """
        return await push_snapshot(
            self._api, full_name, files, message=message, branch=branch, executable=executable
        )
