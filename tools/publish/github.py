"""Publish a generated app to GitHub: one private repo (created or reused), one commit.

```
render (deterministic) -> secret scan (blocks, names the file) -> repo: get, else create
  (a 409/422 "already exists" from a race: get it again) -> push the whole tree as one
  commit (an identical tree makes none) -> an existing empty repo: bootstrap commit first
```
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import SecretStr

from tools.artifacts.webapp import AppSpec, check_project_name, render_app
from tools.clients.errors import Conflict, InvalidRequest, NotFound, Upstream
from tools.clients.github import GitHubClient, GitHubRepo, PushResult
from tools.publish.models import DeploymentRecorder, NullRecorder, RepoResult
from tools.publish.scan import ensure_clean

__all__ = ["PublishError", "publish_to_github"]


class PublishError(Exception):
    """The app was not published; the message says why and what to do."""


async def _repo(
    github: GitHubClient, name: str, *, private: bool, description: str
) -> tuple[GitHubRepo, bool]:
    """The token owner's repo `name` and whether this call created it."""
    owner = (await github.user()).login
    try:
        return await github.get_repo(owner, name), False
    except NotFound:
        pass
    try:
        return await github.create_repo(name, private=private, description=description), True
    except (Conflict, InvalidRequest) as err:
        # Created in the meantime (a retried step, another tab): GitHub says 422 or 409.
        try:
            return await github.get_repo(owner, name), False
        except NotFound:
            raise err from None
    except Upstream as err:
        # The answer was lost (timeout, dropped connection, 5xx) but GitHub may have made
        # the repo: look before failing, so the record learns of it and a retry reuses it.
        if not err.request_sent:
            raise
        try:
            return await github.get_repo(owner, name), True
        except NotFound:
            raise err from None


async def publish_to_github(
    spec: AppSpec,
    *,
    github: GitHubClient,
    repo_name: str | None = None,
    private: bool = True,
    secrets: Sequence[SecretStr] = (),
    recorder: DeploymentRecorder | None = None,
) -> RepoResult:
    """Push the app generated from `spec` to the repo `repo_name` (default: `spec.project`).

    Idempotent: a re-run reuses the repo and, for an unchanged spec, makes no commit.

    Args:
        spec: The app to generate and push.
        github: A client for the user's GitHub token.
        repo_name: The repo's name (the token's own account).
        private: Create the repo private (the default); an existing public repo is refused
            for a private push rather than silently exposing the code.
        secrets: The user's vault values, for the pre-push scan.
        recorder: Gets the repo as soon as it exists.

    Raises:
        SecretFound: The tree holds a secret (nothing was sent).
        PublishError: The repo exists and is public while a private one was asked for.
        ProviderError: GitHub failed (its message says what to do).
    """
    recorder = recorder or NullRecorder()
    name = check_project_name(repo_name or spec.project)
    app = render_app(spec)
    ensure_clean(app.files, secrets=secrets)
    await recorder.progress(f"Publishing the app to GitHub ({name}, {_vis(private)})")
    description = f"Web app for {spec.endpoint.model_id} on RunPod Serverless (KripTik AI)"
    repo, created = await _repo(github, name, private=private, description=description)
    if private and not repo.private:
        raise PublishError(
            f"The repository {repo.full_name} already exists and is public. Choose another "
            "repo name, or confirm that the code may be public."
        )
    await recorder.record_resource("github_repo", repo.full_name, repo.html_url)
    message = f"KripTik: {spec.kind} app for {spec.endpoint.model_id}"

    async def push() -> PushResult:
        return await github.push_tree(
            repo.full_name, app.files, message=message, branch=repo.default_branch,
            executable=app.executable,
        )  # fmt: skip

    try:
        result = await push()
    except Conflict:
        # An existing repo without commits: the Git Data API needs a first commit.
        await github.bootstrap(repo)
        result = await push()
    return RepoResult(
        full_name=repo.full_name, html_url=repo.html_url, private=repo.private,
        created=created, commit_sha=result.commit_sha, changed=result.changed,
        files=len(app.files),
    )  # fmt: skip


def _vis(private: bool) -> str:
    return "private" if private else "public"
