"""The deployment pipeline's tools, typed but not built yet.

Each has its final signature and schema, so prompts, approvals and the audit trail work
end to end today; calling one fails with a clear "not built yet" message that says
nothing was created or charged. The tools that spend money or publish are registered
with `requires_approval=True`, and `APPROVAL_PLANS` says, for the approval card, what each
will create and what it costs, computed from the arguments (never the model's word).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

from pydantic import BaseModel
from pydantic_ai import RunContext, ToolFailed

from tools.deps import Deps

__all__ = [
    "APPROVAL_PLANS",
    "ApprovalPlan",
    "NotBuiltYet",
    "build_dockerfile",
    "create_runpod_endpoint",
    "deploy_netlify",
    "deploy_vercel",
    "get_deployment_status",
    "push_to_github",
    "teardown",
]


class NotBuiltYet(ToolFailed):
    def __init__(self, tool: str) -> None:
        super().__init__(
            f"{tool} is not built yet in this version of KripTik: nothing was created and "
            "nothing was charged. Tell the user this step is coming, and what it would do."
        )


class ApprovalPlan(BaseModel):
    """What an approval card shows: what will be created, and its price."""

    summary: str
    creates: list[str]
    price: str
    usd_per_hour: float | None = None
    known: bool = True


async def build_dockerfile(ctx: RunContext[Deps], repo_id: str, dtype: str = "bf16") -> str:
    """Write the Dockerfile and worker code that serve a model on RunPod (read-only).

    Args:
        repo_id: The Hugging Face repo, as owner/name.
        dtype: Weight precision to serve in.
    """
    raise NotBuiltYet("build_dockerfile")


async def create_runpod_endpoint(
    ctx: RunContext[Deps],
    repo_id: str,
    pool: str,
    gpu_count: int = 1,
    workers_min: int = 0,
    workers_max: int = 1,
) -> str:
    """Create a RunPod serverless endpoint for a model. Costs money: needs approval.

    Args:
        repo_id: The Hugging Face repo, as owner/name.
        pool: The GPU pool id that choose_gpu chose (e.g. AMPERE_24).
        gpu_count: GPUs per worker.
        workers_min: Always-on workers (billed around the clock).
        workers_max: Most workers at once.
    """
    raise NotBuiltYet("create_runpod_endpoint")


async def get_deployment_status(ctx: RunContext[Deps], endpoint_id: str) -> str:
    """Report a RunPod endpoint's workers and readiness (read-only).

    Args:
        endpoint_id: The endpoint id that create_runpod_endpoint returned.
    """
    raise NotBuiltYet("get_deployment_status")


async def push_to_github(ctx: RunContext[Deps], repo_name: str, private: bool = True) -> str:
    """Push the generated web app to a new GitHub repository. Publishes: needs approval.

    Args:
        repo_name: Name of the repository to create under the user's account.
        private: Create it private (recommended).
    """
    raise NotBuiltYet("push_to_github")


async def deploy_vercel(ctx: RunContext[Deps], project_name: str, github_repo: str) -> str:
    """Deploy the web app from its GitHub repository to Vercel. Publishes: needs approval.

    Args:
        project_name: The Vercel project name.
        github_repo: The repository push_to_github created, as owner/name.
    """
    raise NotBuiltYet("deploy_vercel")


async def deploy_netlify(ctx: RunContext[Deps], site_name: str, github_repo: str) -> str:
    """Deploy the web app from its GitHub repository to Netlify. Publishes: needs approval.

    Args:
        site_name: The Netlify site name.
        github_repo: The repository push_to_github created, as owner/name.
    """
    raise NotBuiltYet("deploy_netlify")


async def teardown(ctx: RunContext[Deps], endpoint_id: str) -> str:
    """Delete a RunPod endpoint and its template, which stops its billing. Needs approval.

    Args:
        endpoint_id: The endpoint to delete.
    """
    raise NotBuiltYet("teardown")


async def _endpoint_plan(deps: Deps, args: Mapping[str, Any]) -> ApprovalPlan:
    pool_id, count = str(args.get("pool")), int(args.get("gpu_count") or 1)
    low, high = int(args.get("workers_min") or 0), int(args.get("workers_max") or 1)
    creates = [
        f"RunPod serverless endpoint for {args.get('repo_id')} on {count}x {pool_id}, "
        f"{low} to {high} workers",
        "a RunPod template for its worker image",
    ]
    pool = (await deps.providers.gpu_catalog(deps.user_id)).pool(pool_id)
    if pool is None:
        unknown = f"unknown: {pool_id} is not a RunPod serverless pool"
        return ApprovalPlan(
            summary="Create a RunPod endpoint", creates=creates, known=False, price=unknown
        )
    hourly = pool.flex_usd_per_s * count * 3600
    always_on = hourly * low
    idle = (
        "nothing while idle (scales to zero)"
        if low == 0
        else f"${always_on:.2f}/h always on (about ${always_on * 730:,.0f}/month)"
    )
    return ApprovalPlan(
        summary=f"Create a RunPod endpoint for {args.get('repo_id')}", creates=creates,
        price=f"${hourly:.2f}/h per worker while it runs; {idle}", usd_per_hour=hourly,
    )  # fmt: skip


async def _free(summary: str, creates: str, price: str) -> ApprovalPlan:
    return ApprovalPlan(summary=summary, creates=[creates], price=price, usd_per_hour=0.0)


PlanFn = Callable[[Deps, Mapping[str, Any]], Awaitable[ApprovalPlan]]

APPROVAL_PLANS: Final[dict[str, PlanFn]] = {
    "create_runpod_endpoint": _endpoint_plan,
    "push_to_github": lambda _d, a: _free(
        f"Push the web app to GitHub as {a.get('repo_name')}",
        f"a {'private' if a.get('private', True) else 'PUBLIC'} GitHub repository "
        f"{a.get('repo_name')}", "free"),
    "deploy_vercel": lambda _d, a: _free(
        f"Deploy {a.get('github_repo')} to Vercel", f"a Vercel project {a.get('project_name')}",
        "free on Vercel's Hobby plan"),
    "deploy_netlify": lambda _d, a: _free(
        f"Deploy {a.get('github_repo')} to Netlify", f"a Netlify site {a.get('site_name')}",
        "free on Netlify's Starter plan"),
    "teardown": lambda _d, a: _free(
        f"Delete RunPod endpoint {a.get('endpoint_id')}", "nothing (deletes the endpoint)",
        "stops the endpoint's billing"),
}  # fmt: skip
