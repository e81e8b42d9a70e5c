"""The deployment workflow (DBOS): build and push (generated workers), registry credentials,
template, endpoint, a durable wait for readiness, a smoke test, then any after-ready
stages (the web app). The workflow id is the deployment id, so starting it twice runs it
once, and a process that crashes resumes it from its last completed step.

The workflow reports through the DBOS stream `PROGRESS` and reads the topic `CONTROL`
("cancel", or "resume" after the user stored a new key); it never calls the UI.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from datetime import datetime
from typing import Any, Final, Literal

from dbos import DBOS, SetWorkflowID

from tools.pipeline import endpoint_steps as es
from tools.pipeline import steps
from tools.pipeline.diagnose import throttled_failure
from tools.pipeline.events import (
    PROGRESS,
    Completed,
    Failed,
    Failure,
    NeedsKey,
    ProgressEvent,
    ResourceCreated,
    Stage,
    StageChanged,
    WorkersSeen,
)
from tools.pipeline.plan import DeploymentPlan
from tools.pipeline.services import current
from tools.pipeline.stages import after_ready_stage
from tools.pipeline.steps import StepResult

__all__ = ["CONTROL", "Outcome", "deploy_workflow", "start_deployment"]

CONTROL: Final = "control"
Outcome = Literal["ready", "failed", "cancelled"]


class _Stop(Exception):
    """Ends the workflow with a failure (raised in workflow code only, never in a step)."""

    def __init__(self, failure: Failure, *, keep_endpoint: bool = False) -> None:
        super().__init__(failure.message)
        self.failure = failure
        self.keep_endpoint = keep_endpoint


async def _emit(event: ProgressEvent) -> None:
    await DBOS.write_stream_async(PROGRESS, event.model_dump(mode="json"))


# The stage this workflow's task is in, so a failure records where it stopped. A context
# variable: each workflow runs in its own task, and a recovered one replays its stages.
_AT: ContextVar[Stage | None] = ContextVar("kriptik_stage", default=None)


async def _stage(stage: Stage, message: str) -> None:
    _AT.set(stage)
    await _emit(StageChanged(stage=stage, message=message))


async def _wait_for_key(deployment_id: str, failure: Failure) -> None:
    """Park on a 401 part-way: the user stores a new key, the UI sends "resume"."""
    provider = failure.provider or "RunPod"
    await _emit(NeedsKey(provider=provider, message=failure.text()))
    await steps.set_state(deployment_id, "needs_key", failure.text())
    message = await DBOS.recv_async(CONTROL, timeout_seconds=current().timings.key_wait_s)
    if message != "resume":
        raise _Stop(failure)
    await steps.set_state(deployment_id, "waiting", f"resumed with a new {provider} key")


async def _run(
    deployment_id: str, step: Callable[..., Awaitable[StepResult]], *args: Any,
    transient: int = 0,
) -> dict[str, Any]:  # fmt: skip
    """Run a step; a rejected key waits for a new one and then retries the step. With
    `transient`, that many provider outages in a row (after the client's own retries) are
    waited out too, a poll interval apart: a long wait should not die of one blip."""
    outages = 0
    while True:
        result = await step(deployment_id, *args)
        if result.failure is None:
            return result.values
        if result.failure.reason == "provider" and outages < transient:
            outages += 1
            await DBOS.sleep_async(current().timings.poll_s)
            continue
        if result.failure.reason != "auth":
            raise _Stop(result.failure)
        await _wait_for_key(deployment_id, result.failure)


async def _build(deployment_id: str, kind: str) -> None:
    if kind == "vllm":
        return
    await _stage("building", "Building the worker image (dependencies, then weights, then code).")
    built = await _run(deployment_id, steps.build_image)
    await _emit(ResourceCreated(resource="image", id=built["digest"], name=built["image"]))
    await _stage("registering", "Giving RunPod the registry credentials to pull the image.")
    registry = await _run(deployment_id, steps.register_registry)
    if registry["registry_id"]:
        await _emit(
            ResourceCreated(
                resource="registry", id=registry["registry_id"], name=built["image"].split("/")[0]
            )
        )


async def _wait_ready(deployment_id: str, plan: DeploymentPlan) -> None:
    """Poll the workers (durable waits between polls) until one is ready, or fail."""
    timings = current().timings
    seen: str | None = None
    since: str | None = None
    started: datetime | None = None
    entered: datetime | None = None
    polls = 0
    while True:
        # Logs are read when a worker fails, and now and then while it stays in start-up.
        observation: es.Observation = (
            await _run(deployment_id, es.poll_workers, since, polls % 12 == 11, transient=5)
        )["observation"]
        polls += 1
        at = datetime.fromisoformat(observation.at)
        started = started or at
        if observation.stage != seen:
            seen, entered = observation.stage, at
            await _emit(
                WorkersSeen(
                    stage=observation.stage,
                    counts=observation.counts,
                    elapsed_s=(at - started).total_seconds(),
                    message=_STAGE_TEXT[observation.stage],
                )
            )
        if observation.failure is not None:
            raise _Stop(observation.failure)
        if observation.stage == "ready":
            return
        _check_limits(
            observation,
            (at - started).total_seconds(),
            (at - (entered or at)).total_seconds(),
            plan,
        )
        since = observation.at
        if await DBOS.recv_async(CONTROL, timeout_seconds=timings.poll_s) == "cancel":
            raise _Stop(Failure(reason="cancelled", message="Cancelled while waiting."))


_STAGE_TEXT: Final = {
    "initializing": "Waiting for RunPod to assign a GPU machine.",
    "pulling": "A machine is assigned: pulling the image and loading the model.",
    "ready": "A worker is ready.",
    "throttled": "RunPod has no free GPU in this pool right now; waiting for capacity.",
    "unhealthy": "A worker is failing its start-up; reading its logs.",
}


def _check_limits(
    observation: es.Observation, elapsed_s: float, in_stage_s: float, plan: DeploymentPlan
) -> None:
    """Stop waiting when capacity, health or time ran out."""
    timings = current().timings
    if observation.stage == "throttled" and in_stage_s >= timings.throttle_grace_s:
        raise _Stop(throttled_failure(plan.pool, plan.options, in_stage_s))
    if observation.stage == "unhealthy" and in_stage_s >= timings.unhealthy_grace_s:
        tail = "\n".join(observation.log_tail) or "(no log lines)"
        raise _Stop(
            Failure(
                reason="crashed",
                message=f"The worker keeps failing its start-up. Last log lines:\n{tail}",
                suggestions=(
                    "Open the endpoint's logs in the RunPod console for the whole story.",
                ),
            )
        )
    if elapsed_s >= timings.ready_timeout_s:
        raise _Stop(
            Failure(
                reason="timeout",
                message=f"No worker became ready in {elapsed_s / 60:.0f} minutes "
                f"(last seen: {observation.stage}).",
                suggestions=(
                    "Large images and models can take long to pull: deploy again to "
                    "keep waiting, or choose a smaller model.",
                ),
            )
        )


async def _after_ready(deployment_id: str, plan: DeploymentPlan) -> None:
    if not plan.after_ready:
        return
    await _stage("publishing", "The endpoint works; now the web app.")
    context = await steps.after_ready_context(deployment_id)
    for name in plan.after_ready:
        stage = after_ready_stage(name)
        if stage is None:
            raise _Stop(Failure(reason="provider", message=f"unknown after-ready stage {name!r}"))
        result = await DBOS.run_step_async({"name": f"kriptik.after_ready.{name}"}, stage, context)
        if result.failure is not None:
            raise _Stop(result.failure, keep_endpoint=True)  # the endpoint itself works
        if result.urls:
            context = await steps.add_urls(deployment_id, result.urls)


@DBOS.workflow(name="kriptik.deploy")
async def deploy_workflow(deployment_id: str) -> Outcome:
    """One deployment, start to finish; see the module docstring."""
    plan = await steps.plan_of(deployment_id)
    try:
        await _build(deployment_id, plan.worker.kind)
        await _stage("creating_template", "Creating the RunPod template.")
        template = await _run(deployment_id, steps.ensure_template)
        view = await steps.record(deployment_id)
        await _emit(
            ResourceCreated(resource="template", id=template["template_id"], name=view.name)
        )
        await _stage("creating_endpoint", f"Creating the endpoint on {plan.pool}.")
        endpoint = await _run(deployment_id, es.ensure_endpoint)
        await _emit(
            ResourceCreated(resource="endpoint", id=endpoint["endpoint_id"], name=view.name)
        )
        await _stage("waiting", "Waiting for the first worker (image pull and model load).")
        await _wait_ready(deployment_id, plan)
        await _stage("smoke_test", "Sending one test job through the queue.")
        smoke = await _run(deployment_id, es.smoke_test)
        await _after_ready(deployment_id, plan)
    except _Stop as stop:
        # The failure as recorded: it may add that the endpoint could not be stopped.
        failure = (
            await es.finish(
                deployment_id, stop.failure, keep_endpoint=stop.keep_endpoint, stage=_AT.get()
            )
            or stop.failure
        )
        await _emit(Failed(failure=failure))
        await DBOS.close_stream_async(PROGRESS)
        return "cancelled" if stop.failure.reason == "cancelled" else "failed"
    await es.finish(deployment_id, None)
    view = await steps.record(deployment_id)
    await _emit(
        Completed(
            endpoint_id=endpoint["endpoint_id"],
            urls=view.urls,
            smoke_output=smoke["output"],
            message=f"{view.repo_id} is live on {plan.pool}.",
        )
    )
    await DBOS.close_stream_async(PROGRESS)
    return "ready"


async def start_deployment(deployment_id: str) -> None:
    """Start (or find the running) workflow of a recorded deployment. Idempotent."""
    with SetWorkflowID(deployment_id):
        await DBOS.start_workflow_async(deploy_workflow, deployment_id)
