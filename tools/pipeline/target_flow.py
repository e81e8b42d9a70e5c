"""The deployment workflow's body for a deploy target beside RunPod (Hugging Face Inference
Endpoints, Google Cloud Run, Amazon SageMaker), run inside `kriptik.deploy` when the plan names one
(`workflow.run_deployment` hands over through `DeploySteps.run_target`).

    build and push our worker image (Cloud Run; SageMaker     ("building")
      for workloads besides LLMs, to ECR)
    create the endpoint or service, named for the deployment id  ("creating_endpoint")
    look at it, a durable wait apart, until it is ready          ("waiting")
    one real request through its URL                             ("smoke_test")
    ready: the lifetime workflow watches it from now on

Workflow code only: deterministic, every read and call in a step (`target_steps`, run by
`DeploymentPipeline` as `kriptik.target.*`). The waits are `DBOS.recv_async` on `CONTROL`,
so "cancel" stops a wait at once and a restarted process waits only what is left. A failure
deletes the resource (`target_steps.finish_failed`), so no failure leaves anything billed; a
rejected key waits for a new one, as RunPod's deployments do.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Final, Protocol

from dbos import DBOS, SetWorkflowID

from tools.pipeline.events import (
    PROGRESS,
    Completed,
    Failed,
    Failure,
    ResourceCreated,
    WorkersSeen,
)
from tools.pipeline.flow_parts import CONTROL, Stop, current_stage, emit, enter_stage, run_step
from tools.pipeline.lifetime import LifetimeOutcome, lifetime_id
from tools.pipeline.plan import DeploymentPlan
from tools.pipeline.steps import StepResult
from tools.pipeline.target_plan import builds_image
from tools.pipeline.target_steps import RESOURCE_NOUN
from tools.pipeline.workflow import Outcome

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from typing import Any

    from tools.pipeline.services import PipelineServices
    from vault.deployments import DeploymentState, DeploymentView

__all__ = ["TargetSteps", "run_target_deployment"]

# Provider outages in a row (after the client's own retries) that a wait sits out.
_OUTAGES: Final = 5


class TargetSteps(Protocol):
    """The durable steps a target deployment runs, as `DeploymentPipeline`
    (`tools.pipeline.durable`) registers them with DBOS."""

    services: PipelineServices

    async def record(self, deployment_id: str) -> DeploymentView: ...
    async def set_state(self, deployment_id: str, state: DeploymentState, message: str) -> None: ...
    async def build_image(self, deployment_id: str) -> StepResult: ...
    async def target_create(self, deployment_id: str) -> StepResult: ...
    async def target_poll(self, deployment_id: str) -> StepResult: ...
    async def target_smoke_test(self, deployment_id: str) -> StepResult: ...
    async def target_finish(
        self, deployment_id: str, failure: Failure, *, stage: str | None = None
    ) -> Failure: ...
    async def finish(
        self, deployment_id: str, failure: Failure | None, *, stage: str | None = None
    ) -> Failure | None: ...
    async def lifetime_workflow(self, deployment_id: str) -> LifetimeOutcome: ...


async def _run(
    pipe: TargetSteps, deployment_id: str, step: Callable[[str], Awaitable[StepResult]]
) -> dict[str, Any]:
    """A step; a rejected key waits for a new one (the UI sends "resume"), then it runs again."""
    return await run_step(pipe, deployment_id, step, default_provider="the provider")


async def _wait_ready(pipe: TargetSteps, deployment_id: str, noun: str) -> None:
    """Look at the endpoint, a durable wait apart, until it is ready; or stop."""
    timings = pipe.services.timings
    started: datetime | None = None
    said, outages = "", 0
    while True:
        look = await _run(pipe, deployment_id, pipe.target_poll)
        at = datetime.fromisoformat(look["at"])
        started = started or at
        elapsed = (at - started).total_seconds()
        for text in look["texts"]:
            if text != said:
                said = text
                stage = "ready" if look["ready"] and text == look["texts"][-1] else "initializing"
                await emit(WorkersSeen(stage=stage, counts={}, elapsed_s=elapsed, message=text))
        if look["ready"]:
            return
        outages = outages + 1 if look["outage"] else 0
        if outages > _OUTAGES:
            raise Stop(Failure(reason="provider", message=look["outage"]))
        if elapsed >= timings.ready_timeout_s:
            raise Stop(_not_ready(noun, elapsed, said))
        if await DBOS.recv_async(CONTROL, timeout_seconds=timings.poll_s) == "cancel":
            raise Stop(Failure(reason="cancelled", message="Cancelled while waiting."))


def _not_ready(noun: str, elapsed_s: float, last: str) -> Failure:
    return Failure(
        reason="timeout",
        message=f"The {noun} was not ready after {elapsed_s / 60:.0f} minutes "
        f"(last seen: {last or 'no status yet'}). It is deleted now, so nothing bills.",
        suggestions=(
            "Large models take long to load: deploy again to keep trying, or pick a "
            "larger GPU or a smaller model.",
        ),
    )


def _prebuilt_on_cloud_run() -> Failure:
    return Failure(
        reason="provider",
        message="Cloud Run runs only a worker image built by KripTik, and this plan names a "
        "prebuilt vLLM image. Plan the deployment again for Cloud Run (it then builds one).",
    )


async def run_target_deployment(
    pipe: TargetSteps, deployment_id: str, plan: DeploymentPlan
) -> Outcome:
    """One target deployment, start to finish; see the module docstring."""
    noun = RESOURCE_NOUN.get(plan.target, "endpoint")
    try:
        if plan.target == "cloudrun" and not plan.worker.needs_build:
            raise Stop(_prebuilt_on_cloud_run())  # a plan from before Cloud Run built workers
        if builds_image(plan):
            await enter_stage(
                "building", "Building the worker image and pushing it to the registry."
            )
            built = await _run(pipe, deployment_id, pipe.build_image)
            await emit(ResourceCreated(resource="image", id=built["digest"], name=built["image"]))
        await enter_stage("creating_endpoint", f"Creating the {noun} on {plan.pool_label}.")
        created = await _run(pipe, deployment_id, pipe.target_create)
        view = await pipe.record(deployment_id)
        await emit(ResourceCreated(resource="endpoint", id=created["endpoint_id"], name=view.name))
        await enter_stage("waiting", f"Waiting for the {noun} to start and load the model.")
        await _wait_ready(pipe, deployment_id, noun)
        await enter_stage("smoke_test", f"Sending one test request to the {noun}.")
        smoke = await _run(pipe, deployment_id, pipe.target_smoke_test)
    except Stop as stop:
        failure = await pipe.target_finish(deployment_id, stop.failure, stage=current_stage())
        await emit(Failed(failure=failure))
        await DBOS.close_stream_async(PROGRESS)
        return "cancelled" if stop.failure.reason == "cancelled" else "failed"
    await pipe.finish(deployment_id, None)
    view = await pipe.record(deployment_id)
    await emit(
        Completed(
            endpoint_id=created["endpoint_id"], urls=view.urls, smoke_output=smoke["output"],
            message=f"{view.repo_id} is live on {plan.pool_label}.",
        )
    )  # fmt: skip
    await DBOS.close_stream_async(PROGRESS)
    # Its lifetime (time-to-live, idle limit, cost cap), as for RunPod: its own workflow.
    with SetWorkflowID(lifetime_id(deployment_id)):
        await DBOS.start_workflow_async(pipe.lifetime_workflow, deployment_id)
    return "ready"
