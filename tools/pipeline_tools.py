"""The GPU side of the agent's tools: write the worker, create the RunPod endpoint (through
the durable pipeline), report on it, and tear it down.

`create_runpod_endpoint` and `teardown` spend or delete, so they are registered with
`requires_approval=True`, and `approval_card` declares each one's approval card
(`tools.pipeline_cards`). The approved card is what runs: the endpoint is created from the
card's own plan (the pinned revision, pool, GPU count, workers and price the user saw),
and teardown deletes the deployment the card named; if the world changed in between, the
tool stops before anything happens and the agent asks again (`tools.approval.bound`). The
pipeline is the turn's `Deps.pipeline`, which the composition root launched; keys stay in
the vault.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, field_serializer
from pydantic_ai import ModelRetry, RunContext, ToolFailed

from tools.approval import approval_card, bound
from tools.artifacts.worker import build_commands, render_worker, slug, vllm_env
from tools.deps import Deps
from tools.pipeline import api
from tools.pipeline.events import Completed, Failed, LogLine, NeedsKey, ProgressEvent
from tools.pipeline.plan import DeploymentPlan, DeployRequest, PlanError, plan_deployment
from tools.pipeline.teardown_flow import TeardownReport
from tools.pipeline_cards import (
    EndpointCard,
    TeardownCard,
    endpoint_card,
    key_next_step,
    pipeline,
    teardown_card,
)
from vault import CredentialNotFound, VaultError
from vault.deployments import DeploymentView

__all__ = [
    "DeploymentReport",
    "WorkerFilesResult",
    "build_dockerfile",
    "create_runpod_endpoint",
    "get_deployment_status",
    "teardown",
]


def _absent(value: object) -> bool:
    return value is None or value == []


class WorkerFilesResult(BaseModel):
    """The worker for a model: its kind, where its files are, and how to build it."""

    repo_id: str
    revision: str
    kind: str
    needs_build: bool
    directory: str | None = Field(default=None, exclude_if=_absent)
    # The Dockerfile's text and the vLLM image's env are written for the endpoint (to
    # `directory`, or into the RunPod template): the model passes neither back and has
    # nothing to decide from them, so it does not read them.
    dockerfile: str | None = Field(exclude=True)
    template_env: dict[str, str] = Field(exclude=True)
    build_commands: list[str] = Field(default_factory=list[str], exclude_if=_absent)


_JOB_ROUTES = frozenset({"status", "stream", "cancel", "retry", "purgeQueue"})


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
    # What RunPod's billing reported for the endpoint (None: unknown, never $0).
    billed_by_runpod_usd: float | None = None
    message: str | None
    # Where it runs, when not RunPod ("huggingface", "cloudrun", "sagemaker"); left out for RunPod.
    target: str | None = Field(default=None, exclude_if=_absent)

    @field_serializer("urls")
    def _urls_people_call(self, urls: dict[str, Any]) -> dict[str, Any]:
        # The per-job routes (status, stream, cancel, retry, purge) are for API clients
        # holding a job id, and the deployment's record keeps them; the model reads the
        # routes people call (run, runSync, health, openai) and the app's and repo's URLs.
        return {k: v for k, v in urls.items() if k not in _JOB_ROUTES}


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
        billed_by_runpod_usd=None if view.billed_usd is None else round(view.billed_usd, 4),
        message=note or view.message,
        target=_target_of(view),
    )


def _target_of(view: DeploymentView) -> str | None:
    """The deployment's target, from its stored plan; None for RunPod (and older plans)."""
    target = view.plan.get("target")
    return str(target) if target and target != "runpod" else None


async def _plan(deps: Deps, request: DeployRequest) -> DeploymentPlan:
    try:
        return await plan_deployment((await pipeline(deps)).services, deps.user_id, request)
    except PlanError as err:
        raise ModelRetry(str(err)) from None
    except CredentialNotFound as err:
        raise ToolFailed(f"{err}. {key_next_step(err)}") from None


async def build_dockerfile(
    ctx: RunContext[Deps], repo_id: str, dtype: str = "bf16"
) -> WorkerFilesResult:
    """Write the RunPod worker files for a model; creates nothing at RunPod.

    Args:
        repo_id: Hugging Face repo, owner/name.
        dtype: bf16, fp16 or fp32.

    The worker is a Dockerfile, handler and pinned requirements, or (for LLMs that vLLM
    serves) the env of RunPod's prebuilt vLLM image, written on this server.
    """
    plan = (await _plan(ctx.deps, DeployRequest(repo_id=repo_id, dtype=dtype))).worker
    if not plan.needs_build:
        services = (await pipeline(ctx.deps)).services
        env = vllm_env(plan, hf_secret=services.hf_secret_name if plan.gated else None)
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
    home = (await pipeline(ctx.deps)).services.settings.home
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
    target: Literal["runpod", "huggingface", "cloudrun", "sagemaker"] = "runpod",
    region: str | None = None,
    workflow_id: str | None = None,
) -> DeploymentReport:
    """Deploy a model to a RunPod serverless endpoint; waits until it answers a test job.

    Args:
        repo_id: Hugging Face repo, owner/name.
        pool: GPU pool id from choose_gpu, or offer id from compare_targets (or auto).
        gpu_count: GPUs per worker, from choose_gpu.
        workers_min: Always-on workers, billed 24/7; 0 scales to zero.
        workers_max: Most workers at once.
        target: Where: RunPod, Hugging Face, Google Cloud Run or Amazon SageMaker.
        region: The target's region; omit for the cheapest.
        workflow_id: A ComfyUI workflow's id.

    Costs money while workers run, so it needs approval. Builds and pushes a worker image
    when the model needs one; reports progress as it goes. Keeps its name for
    compatibility: `target` deploys the same way on Hugging Face or Cloud Run instead.
    """
    # The arguments made the approval card; what runs is the card's own plan, once the
    # world still matches it (same revision, pool, GPU count, workers and price).
    running = await pipeline(ctx.deps)
    card = await bound(ctx, EndpointCard, endpoint_card)
    try:
        view = await api.create_deployment(
            running, user_id=ctx.deps.user_id, plan=card.plan, thread_id=ctx.deps.thread_id
        )
    except VaultError as err:  # the per-user caps
        raise ToolFailed(str(err)) from None
    await ctx.deps.deployment_started(view.id, tool_call_id=ctx.tool_call_id)
    async for event in api.read_progress(view.id):
        if (text := _line(event)) is not None:
            await ctx.deps.progress(text, tool_call_id=ctx.tool_call_id)
        if isinstance(event, NeedsKey | Completed | Failed):
            break  # a deployment waiting for a key carries on once the key is stored
    view = await running.services.deployments.get(view.id, user_id=ctx.deps.user_id)
    return _report(view)


async def get_deployment_status(ctx: RunContext[Deps], endpoint_id: str) -> DeploymentReport:
    """A deployment's state, workers and cost so far.

    Args:
        endpoint_id: Endpoint or deployment id.

    Read-only.
    """
    running = await pipeline(ctx.deps)
    try:
        view = await running.services.deployments.find(ctx.deps.user_id, endpoint_id)
    except VaultError as err:
        raise ModelRetry(str(err)) from None
    status = await api.deployment_status(running.services, ctx.deps.user_id, view.id)
    return _report(status.deployment, running=status.running_usd_per_hour, note=status.note)


async def teardown(
    ctx: RunContext[Deps], endpoint_id: str, remove_image: bool = False
) -> TeardownReport:
    """Delete a deployment (stops its billing) and its web app; keeps its GitHub repo.

    Args:
        endpoint_id: Endpoint or deployment id.
        remove_image: Also delete the worker image.

    Deletes the RunPod endpoint, template and registry credentials, and the Vercel project
    or Netlify site; it needs approval.
    """
    # What is deleted is what the approved card named, if the record still matches it.
    running = await pipeline(ctx.deps)
    card = await bound(ctx, TeardownCard, teardown_card)
    return await api.teardown(
        running, ctx.deps.user_id, card.deployment_id, remove_image=card.remove_image
    )


# The approval card of each gated tool above (`tools.pipeline_cards`), declared on the tool.
approval_card(endpoint_card)(create_runpod_endpoint)
approval_card(teardown_card)(teardown)
