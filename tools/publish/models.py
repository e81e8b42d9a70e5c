"""Results of the publish steps and the closing summary, and the small services they are given.

The steps (`publish_to_github`, `deploy_to_vercel`, `deploy_to_netlify`) take every
dependency as an argument, so the deployment workflow can wrap each one as a durable
step. They report what they create through a `DeploymentRecorder` the moment it exists,
so a crash after a create still leaves a record (and teardown finds it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict

from tools.artifacts.webapp import AppSpec

__all__ = [
    "AppCheck",
    "AppPublishing",
    "AppSummary",
    "CheckStep",
    "DeploymentRecorder",
    "NullRecorder",
    "RepoResult",
    "ResourceKind",
    "WebDeployResult",
    "WebHost",
]

ResourceKind = Literal[
    "github_repo", "vercel_project", "vercel_deployment", "netlify_site", "netlify_deploy"
]
WebHost = Literal["vercel", "netlify"]


class DeploymentRecorder(Protocol):
    """Where the steps report progress and the resources they create."""

    async def record_resource(self, kind: ResourceKind, resource_id: str, url: str | None) -> None:
        """Remember a created (or reused) resource; called again on a re-run (idempotent)."""
        ...

    async def progress(self, message: str) -> None:
        """One line for the chat: what the step is doing now."""
        ...


class AppPublishing(Protocol):
    """Publishing with the user's stored keys, for the agent's tools (`LivePublishing`)."""

    async def app_for(self, user_id: str, endpoint_id: str) -> AppSpec: ...

    async def push(
        self, user_id: str, spec: AppSpec, *, repo_name: str, private: bool = True,
        recorder: DeploymentRecorder | None = None,
    ) -> RepoResult: ...  # fmt: skip

    async def deploy(
        self, user_id: str, spec: AppSpec, *, host: WebHost, name: str,
        recorder: DeploymentRecorder | None = None, previous: WebDeployResult | None = None,
    ) -> WebDeployResult: ...  # fmt: skip

    async def record(self, user_id: str, endpoint_id: str, urls: Mapping[str, str]) -> None:
        """Add what was published to the deployment's record (teardown reads it)."""
        ...

    async def summary(
        self, user_id: str, endpoint_id: str, *, web: WebDeployResult | None = None
    ) -> AppSummary:
        """The closing summary of the deployment with that endpoint."""
        ...


class NullRecorder:
    """A recorder that keeps nothing (for one-off calls and scripts)."""

    async def record_resource(self, kind: ResourceKind, resource_id: str, url: str | None) -> None:
        return None

    async def progress(self, message: str) -> None:
        return None


class _Result(BaseModel):
    model_config = ConfigDict(frozen=True)


class RepoResult(_Result):
    """A pushed repo: `changed` is False when the tree was already there (no new commit)."""

    full_name: str
    html_url: str
    private: bool
    created: bool
    commit_sha: str
    changed: bool
    files: int


class CheckStep(_Result):
    name: str
    ok: bool
    detail: str


class AppCheck(_Result):
    """The deployed app's integration check: its page, its health, one real request."""

    passed: bool
    steps: tuple[CheckStep, ...]

    @property
    def summary(self) -> str:
        failed = [s for s in self.steps if not s.ok]
        if not failed:
            return "passed: " + "; ".join(s.detail for s in self.steps)
        return f"failed at {failed[0].name}: {failed[0].detail}"


class WebDeployResult(_Result):
    """A deployed web app.

    Attributes:
        host: Vercel or Netlify.
        project: The Vercel project or Netlify site name.
        project_id: Its id.
        deployment_id: The deployment (Vercel) or deploy (Netlify) id.
        url: The app's public URL.
        tree_digest: SHA-256 of the deployed files (equal digests, identical deploys).
        env_vars: Names of the variables set on the host (never values).
        env_protection: How the host stores them ("plain" appears only in results
            recorded before Netlify deploys refused anything but secret variables).
        reused: True when an identical earlier deployment was kept instead of a new one.
        check: The integration check, when one ran.
    """

    host: WebHost
    project: str
    project_id: str
    deployment_id: str
    url: str
    tree_digest: str
    env_vars: tuple[str, ...]
    env_protection: Literal["encrypted", "secret", "plain"]
    reused: bool = False
    check: AppCheck | None = None


class AppSummary(_Result):
    """The facts of the summary; `markdown()` is the chat message."""

    model: str
    endpoint_url: str
    repo_url: str | None
    app_url: str | None
    check: str | None
    workers_min: int
    workers_max: int
    usd_per_hour_running: float
    usd_per_hour_idle: float
    teardown: str
    # What runs and what one running copy is called there (`summary.summarize`).
    running_on: str = "a RunPod serverless endpoint"
    unit: str = "worker"

    def markdown(self) -> str:
        lines = [f"**{self.model}** is live.", "", f"- Endpoint: {self.endpoint_url}"]
        if self.repo_url:
            lines.append(f"- Code: {self.repo_url}")
        if self.app_url:
            lines.append(
                f"- App: {self.app_url}"
                + (f" (integration check {self.check})" if self.check else "")
            )
        idle = (
            "nothing while idle: it scales to zero"
            if self.usd_per_hour_idle == 0
            else f"${self.usd_per_hour_idle:.2f}/h even when idle "
            f"({self.workers_min} always-on {self.unit}s)"
        )
        lines += [
            "",
            f"Running: {self.running_on} with {self.workers_min} to {self.workers_max} "
            f"{self.unit}s, ${self.usd_per_hour_running:.2f}/h per busy {self.unit}, {idle}.",
            "The repo and the web app are on free plans and cost nothing.",
            "",
            f"To stop all GPU billing: {self.teardown}",
        ]
        if self.app_url:
            lines.append("Teardown deletes the web app too.")
        if self.repo_url:
            lines.append("Your GitHub repository stays: it is your code, to keep or delete.")
        return "\n".join(lines)
