"""The GPU side of the agent's tools: write the worker, create the RunPod endpoint (through
the durable pipeline), report on it, and tear it down.

`create_runpod_endpoint` and `teardown` spend or delete, so they are registered with
`requires_approval=True`; `PIPELINE_APPROVAL_PLANS` says for the approval card what each
will create or delete and what it costs, computed from the arguments and the user's live
catalog, never from the model's word. The pipeline's services are the process's own
(`tools.pipeline.launch` registers them at start-up); keys stay in the vault.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel
from pydantic_ai import ModelRetry, RunContext, ToolFailed

from tools.artifacts.worker import build_commands, render_worker, slug, vllm_env
from tools.deps import Deps
from tools.pipeline import api
from tools.pipeline.events import Completed, Failed, LogLine, NeedsKey, ProgressEvent
from tools.pipeline.plan import DeploymentPlan, DeployRequest, PlanError, plan_deployment
from tools.pipeline.services import PipelineServices, available, ready
from tools.pipeline.teardown_flow import TeardownReport
from tools.pipeline_stubs import ApprovalPlan
from vault import CredentialNotFound, VaultError
from vault.deployments import DeploymentView

__all__ = [
    "PIPELINE_APPROVAL_PLANS",
    "DeploymentReport",
    "WorkerFilesResult",
    "build_dockerfile",
    "create_runpod_endpoint",
    "get_deployment_status",
    "pipeline_approval_plan",
    "teardown",
]


class WorkerFilesResult(BaseModel):
    """The worker for a model: its kind, where its files are, and how to build it."""

    repo_id: str
    revision: str
    kind: str
    needs_build: bool
    directory: str | None
    dockerfile: str | None
    template_env: dict[str, str]
    build_commands: list[str]


class DeploymentReport(BaseModel):
    """A deployment as the chat should present it."""

    deployment_id: str
    state: str
    stage: str | None
    endpoint_id: str | None
    urls: dict[str, Any]
    pool: str
    usd_per_hour_per_worker: float
    running_usd_per_hour: float
    cost_so_far_usd: float
    message: str | None


async def _pipeline() -> PipelineServices:
    """The process's pipeline (registered when the app launched it; a tool called while the
    app is still launching it waits for it)."""
    try:
        return await ready()
    except RuntimeError:
        raise ToolFailed(
            "The deployment pipeline is not running in this process (it starts with "
            "`kriptik serve`). Nothing was created; tell the user deployments are unavailable."
        ) from None


def _report(
    view: DeploymentView, *, running: float = 0.0, note: str | None = None
) -> DeploymentReport:
    return DeploymentReport(
        deployment_id=view.id,
        state=view.state,
        stage=view.stage,
        endpoint_id=view.endpoint_id,
        urls=view.urls,
        pool=view.gpu_pools[0] if view.gpu_pools else "",
        running_usd_per_hour=running,
        usd_per_hour_per_worker=view.usd_per_second * 3600,
        cost_so_far_usd=round(view.cost_usd, 4),
        message=note or view.message,
    )


async def _plan(deps: Deps, request: DeployRequest) -> DeploymentPlan:
    try:
        return await plan_deployment(await _pipeline(), deps.user_id, request)
    except PlanError as err:
        raise ModelRetry(str(err)) from None
    except CredentialNotFound as err:
        raise ToolFailed(f"{err}. Ask for the key with request_api_key first.") from None


async def build_dockerfile(
    ctx: RunContext[Deps], repo_id: str, dtype: str = "bf16"
) -> WorkerFilesResult:
    """Write the RunPod worker that serves a model: Dockerfile, handler and pinned
    requirements, or (for LLMs that vLLM serves) the env of RunPod's prebuilt vLLM image.
    Read-only: writes files on this server, creates nothing at RunPod.

    Args:
        repo_id: The Hugging Face repo, as owner/name.
        dtype: Weight precision to serve in (bf16, fp16, fp32).
    """
    plan = (await _plan(ctx.deps, DeployRequest(repo_id=repo_id, dtype=dtype))).worker
    if not plan.needs_build:
        env = vllm_env(plan, hf_secret=(await _pipeline()).hf_secret_name if plan.gated else None)
        return WorkerFilesResult(
            repo_id=plan.repo_id,
            revision=plan.revision,
            kind=plan.kind,
            needs_build=False,
            directory=None,
            dockerfile=None,
            template_env=env,
            build_commands=[],
        )
    files = render_worker(plan, secret=plan.gated)
    home = (await _pipeline()).settings.home
    target: Path = home / "workers" / f"{slug(plan.repo_id)}-{plan.revision[:12]}"
    files.write(target)
    image = f"ghcr.io/YOUR_NAME/kriptik-{slug(plan.repo_id)}:{files.content_hash[:12]}"
    return WorkerFilesResult(
        repo_id=plan.repo_id,
        revision=plan.revision,
        kind=plan.kind,
        needs_build=True,
        directory=str(target),
        dockerfile=files.files["Dockerfile"],
        template_env={},
        build_commands=build_commands(str(target), image, secret=plan.gated),
    )


def _line(event: ProgressEvent) -> str | None:
    if isinstance(event, LogLine):
        return None  # build output is for the progress panel, not the chat
    if isinstance(event, Failed):
        return event.failure.text()
    return getattr(event, "message", None)


async def create_runpod_endpoint(
    ctx: RunContext[Deps],
    repo_id: str,
    pool: str,
    gpu_count: int = 1,
    workers_min: int = 0,
    workers_max: int = 1,
) -> DeploymentReport:
    """Deploy a model to a RunPod serverless endpoint and wait until it answers a test job.
    Costs money while workers run: needs approval. Builds and pushes a worker image when
    the model needs one; reports progress as it goes.

    Args:
        repo_id: The Hugging Face repo, as owner/name.
        pool: The GPU pool id that choose_gpu chose (e.g. AMPERE_24).
        gpu_count: GPUs per worker (choose_gpu's count).
        workers_min: Always-on workers (billed around the clock; 0 scales to zero).
        workers_max: Most workers at once.
    """
    request = DeployRequest(
        repo_id=repo_id, gpu=pool, workers_min=workers_min, workers_max=workers_max
    )
    plan = await _plan(ctx.deps, request)
    if plan.gpu_count != gpu_count:
        raise ModelRetry(f"{plan.pool} needs gpu_count={plan.gpu_count} for {repo_id}")
    try:
        view = await api.create_deployment(
            await _pipeline(), user_id=ctx.deps.user_id, plan=plan, thread_id=ctx.deps.thread_id
        )
    except VaultError as err:  # the per-user caps
        raise ToolFailed(str(err)) from None
    async for event in api.read_progress(view.id):
        if (text := _line(event)) is not None:
            await ctx.deps.progress(text, tool_call_id=ctx.tool_call_id)
        if isinstance(event, NeedsKey | Completed | Failed):
            break  # a deployment waiting for a key carries on once the key is stored
    view = await (await _pipeline()).deployments.get(view.id, user_id=ctx.deps.user_id)
    return _report(view)


async def get_deployment_status(ctx: RunContext[Deps], endpoint_id: str) -> DeploymentReport:
    """Report a deployment: its state, its workers right now, and what it costs (read-only).

    Args:
        endpoint_id: The endpoint id (or deployment id) that create_runpod_endpoint returned.
    """
    svc = await _pipeline()
    try:
        view = await svc.deployments.find(ctx.deps.user_id, endpoint_id)
    except VaultError as err:
        raise ModelRetry(str(err)) from None
    status = await api.deployment_status(svc, ctx.deps.user_id, view.id)
    return _report(status.deployment, running=status.running_usd_per_hour, note=status.note)


async def teardown(
    ctx: RunContext[Deps], endpoint_id: str, remove_image: bool = False
) -> TeardownReport:
    """Delete a deployment's RunPod endpoint, template and registry credentials, which
    stops its billing, and its Vercel project or Netlify site; its GitHub repo is kept.
    Deletes: needs approval.

    Args:
        endpoint_id: The endpoint id (or deployment id) to tear down.
        remove_image: Also delete the worker image from the registry.
    """
    svc = await _pipeline()
    try:
        view = await svc.deployments.find(ctx.deps.user_id, endpoint_id)
    except VaultError as err:
        raise ModelRetry(str(err)) from None
    return await api.teardown(svc, ctx.deps.user_id, view.id, remove_image=remove_image)


async def _endpoint_plan(deps: Deps, args: Mapping[str, Any]) -> ApprovalPlan:
    request = DeployRequest(
        repo_id=str(args.get("repo_id")),
        gpu=str(args.get("pool") or "auto"),
        workers_min=int(args.get("workers_min") or 0),
        workers_max=int(args.get("workers_max") or 1),
    )
    try:
        plan = await plan_deployment(await _pipeline(), deps.user_id, request)
    except (PlanError, VaultError, ToolFailed) as err:
        return ApprovalPlan(
            summary="Create a RunPod endpoint", creates=[], known=False, price=f"unknown: {err}"
        )
    creates = [
        f"a RunPod serverless endpoint on {plan.gpu_count} x {plan.pool}, "
        f"{plan.workers_min} to {plan.workers_max} workers",
        "a RunPod template",
    ]
    if plan.worker.needs_build:
        creates[:0] = ["a worker image in your registry", "registry credentials at RunPod"]
    return ApprovalPlan(
        summary=f"Deploy {plan.worker.repo_id}",
        creates=creates,
        price=plan.summary(),
        usd_per_hour=plan.usd_per_hour,
    )


async def _teardown_plan(deps: Deps, args: Mapping[str, Any]) -> ApprovalPlan:
    try:
        view = await (await _pipeline()).deployments.find(
            deps.user_id, str(args.get("endpoint_id"))
        )
    except (VaultError, ToolFailed) as err:
        return ApprovalPlan(summary="Tear down", creates=[], known=False, price=f"unknown: {err}")
    deletes = [f"endpoint {view.endpoint_id}", f"template {view.template_id}"]
    if args.get("remove_image") and view.image:
        deletes.append(f"image {view.image}")
    from tools.publish.teardown import web_teardown_plan  # only when a web app was made

    return ApprovalPlan(
        summary=f"Tear down {view.repo_id} ({view.id})",
        # The card names everything teardown touches: the web app goes too, the repo stays.
        creates=[f"deletes {d}" for d in deletes if "None" not in d] + web_teardown_plan(view),
        price="free; stops all billing for this endpoint",
        usd_per_hour=0.0,
    )


PlanFn = Callable[[Any, Mapping[str, Any]], Awaitable[ApprovalPlan]]

PIPELINE_APPROVAL_PLANS: Final[dict[str, PlanFn]] = {
    "create_runpod_endpoint": _endpoint_plan,
    "teardown": _teardown_plan,
}


def pipeline_approval_plan(tool: str) -> PlanFn | None:
    """The card for a GPU tool from the running pipeline (its real plan and price, and the
    web app teardown will delete); None where no pipeline runs here, so the caller falls
    back to the catalogue-only cards."""
    return PIPELINE_APPROVAL_PLANS.get(tool) if available() else None
