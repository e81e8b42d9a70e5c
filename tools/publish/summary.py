"""The closing message of "build me an app on org/model": every URL, what is running, what
it costs while idle, and the one command that tears it all down.

Only the RunPod endpoint can cost money; the repo and the web host's free plans cannot.
Teardown removes the endpoint and the web app (its Vercel project or Netlify site); the
GitHub repo is the user's code and stays (the summary says so).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from tools.publish.models import RepoResult, WebDeployResult
from vault.deployments import DeploymentView

__all__ = ["AppSummary", "summarize"]


class AppSummary(BaseModel):
    """The facts of the summary; `markdown()` is the chat message."""

    model_config = ConfigDict(frozen=True)

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
            f"({self.workers_min} always-on workers)"
        )
        lines += [
            "",
            f"Running: a RunPod serverless endpoint with {self.workers_min} to {self.workers_max} "
            f"workers, ${self.usd_per_hour_running:.2f}/h per busy worker, {idle}.",
            "The repo and the web app are on free plans and cost nothing.",
            "",
            f"To stop all GPU billing: {self.teardown}",
        ]
        if self.app_url:
            lines.append("Teardown deletes the web app too.")
        if self.repo_url:
            lines.append("Your GitHub repository stays: it is your code, to keep or delete.")
        return "\n".join(lines)


def summarize(
    view: DeploymentView,
    *,
    repo: RepoResult | None = None,
    web: WebDeployResult | None = None,
    jobs_base_url: str = "https://api.runpod.ai/v2",
) -> AppSummary:
    """The summary for a deployment and what was published for it."""
    per_hour = view.usd_per_second * 3600
    return AppSummary(
        model=view.repo_id,
        endpoint_url=f"{jobs_base_url.rstrip('/')}/{view.endpoint_id}",
        repo_url=repo.html_url if repo else view.urls.get("repo"),
        app_url=web.url if web else view.urls.get("webapp"),
        check=web.check.summary if web and web.check else None,
        workers_min=view.workers_min,
        workers_max=view.workers_max,
        usd_per_hour_running=per_hour,
        usd_per_hour_idle=per_hour * view.workers_min,
        teardown=(
            f"`kriptik deployments teardown {view.id}` (or Teardown in the Deployments panel)"
        ),
    )
