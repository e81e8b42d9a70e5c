"""The closing message of "build me an app on org/model": every URL, what is running, what
it costs while idle, and the one command that tears it all down.

Only the GPU endpoint (RunPod, Hugging Face or Cloud Run) can cost money; the repo and the
web host's free plans cannot.
Teardown removes the endpoint and the web app (its Vercel project or Netlify site); the
GitHub repo is the user's code and stays (the summary says so).
"""

from __future__ import annotations

from typing import Final

from tools.publish.models import AppSummary, RepoResult, WebDeployResult
from tools.targets.base import TARGET_UNITS
from vault.deployments import DeploymentView

__all__ = ["summarize"]

# What runs on each deploy target beside RunPod.
_RUNS_ON: Final = {
    "huggingface": "a Hugging Face Inference Endpoint",
    "cloudrun": "a private Google Cloud Run service",
    "sagemaker": "an Amazon SageMaker real-time endpoint",
}


def summarize(
    view: DeploymentView,
    *,
    repo: RepoResult | None = None,
    web: WebDeployResult | None = None,
    jobs_base_url: str = "https://api.runpod.ai/v2",
) -> AppSummary:
    """The summary for a deployment and what was published for it."""
    per_hour = view.usd_per_second * 3600
    target = str(view.plan.get("target", "runpod"))
    units: dict[str, str] = {str(name): unit for name, unit in TARGET_UNITS.items()}
    running_on = _RUNS_ON.get(target, "a RunPod serverless endpoint")
    endpoint_url = (
        f"{jobs_base_url.rstrip('/')}/{view.endpoint_id}"
        if target not in _RUNS_ON
        else view.urls.get("base") or str(view.endpoint_id)
    )
    return AppSummary(
        model=view.repo_id,
        endpoint_url=endpoint_url,
        running_on=running_on,
        unit=units.get(target, "worker"),
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
