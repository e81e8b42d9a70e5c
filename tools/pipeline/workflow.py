"""The deployment workflow's body (DBOS): build and push (generated workers), registry
credentials, template, endpoint, a durable wait for readiness, and a smoke test. It runs as
`DeploymentPipeline.deploy_workflow` (`tools.pipeline.durable`), whose step methods it
calls. The workflow id is the deployment id, so starting it twice runs it once, and a
process that crashes resumes it from its last completed step.

The workflow reports through the DBOS stream `PROGRESS` and reads the topic `CONTROL`
("cancel", or "resume" after the user stored a new key); it never calls the UI. Once ready, it
starts the endpoint's lifetime workflow (`tools.pipeline.lifetime`: time-to-live, idle
limit, automatic teardown).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Final, Literal, Protocol

from dbos import DBOS, SetWorkflowID

from tools.pipeline import endpoint_steps as es
from tools.pipeline.diagnose import throttled_failure
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
from tools.pipeline.services import Timings
from tools.pipeline.steps import StepResult

if TYPE_CHECKING:
    from tools.pipeline.services import PipelineServices
    from vault.deployments import DeploymentState, DeploymentView


class DeploySteps(Protocol):
    """The durable steps a deployment runs, as `DeploymentPipeline` (`tools.pipeline.durable`)
    registers them with DBOS. A protocol, so this module never imports the one that runs it."""

    services: PipelineServices

    async def plan_of(self, deployment_id: str) -> DeploymentPlan: ...
    async def record(self, deployment_id: str) -> DeploymentView: ...
    async def set_state(self, deployment_id: str, state: DeploymentState, message: str) -> None: ...
    async def build_image(self, deployment_id: str) -> StepResult: ...
    async def register_registry(self, deployment_id: str) -> StepResult: ...
    async def ensure_template(self, deployment_id: str) -> StepResult: ...
    async def ensure_endpoint(self, deployment_id: str) -> StepResult: ...
    async def poll_workers(
        self, deployment_id: str, since: str | None, read_logs: bool
    ) -> StepResult: ...
    async def smoke_test(self, deployment_id: str) -> StepResult: ...
    async def finish(
        self, deployment_id: str, failure: Failure | None, *, stage: str | None = None
    ) -> Failure | None: ...
    async def lifetime_workflow(self, deployment_id: str) -> LifetimeOutcome: ...
    async def run_target(self, deployment_id: str, plan: DeploymentPlan) -> Outcome: ...


__all__ = ["CONTROL", "Outcome", "run_deployment"]

Outcome = Literal["ready", "failed", "cancelled"]


async def _build(pipe: DeploySteps, deployment_id: str, kind: str) -> None:
    if kind == "vllm":
        return
    await enter_stage(
        "building", "Building the worker image (dependencies, then weights, then code)."
    )
    built = await run_step(pipe, deployment_id, pipe.build_image)
    await emit(ResourceCreated(resource="image", id=built["digest"], name=built["image"]))
    await enter_stage("registering", "Giving RunPod the registry credentials to pull the image.")
    registry = await run_step(pipe, deployment_id, pipe.register_registry)
    if registry["registry_id"]:
        await emit(
            ResourceCreated(
                resource="registry", id=registry["registry_id"], name=built["image"].split("/")[0]
            )
        )


async def _wait_ready(pipe: DeploySteps, deployment_id: str, plan: DeploymentPlan) -> None:
    """Poll the workers (durable waits between polls) until one is ready, or fail."""
    timings = pipe.services.timings
    seen: str | None = None
    since: str | None = None
    started: datetime | None = None
    entered: datetime | None = None
    polls = 0
    while True:
        # Logs are read when a worker fails, and now and then while it stays in start-up.
        observation: es.Observation = (
            await run_step(
                pipe, deployment_id, pipe.poll_workers, since, polls % 12 == 11, transient=5
            )
        )["observation"]
        polls += 1
        at = datetime.fromisoformat(observation.at)
        started = started or at
        if observation.stage != seen:
            seen, entered = observation.stage, at
            await emit(
                WorkersSeen(
                    stage=observation.stage,
                    counts=observation.counts,
                    elapsed_s=(at - started).total_seconds(),
                    message=_STAGE_TEXT[observation.stage],
                )
            )
        if observation.failure is not None:
            raise Stop(observation.failure)
        if observation.stage == "ready":
            return
        _check_limits(
            timings,
            observation,
            (at - started).total_seconds(),
            (at - (entered or at)).total_seconds(),
            plan,
        )
        since = observation.at
        if await DBOS.recv_async(CONTROL, timeout_seconds=timings.poll_s) == "cancel":
            raise Stop(Failure(reason="cancelled", message="Cancelled while waiting."))


_STAGE_TEXT: Final = {
    "initializing": "Waiting for RunPod to assign a GPU machine.",
    "pulling": "A machine is assigned: pulling the image and loading the model.",
    "ready": "A worker is ready.",
    "throttled": "RunPod has no free GPU in this pool right now; waiting for capacity.",
    "unhealthy": "A worker is failing its start-up; reading its logs.",
}


def _check_limits(
    timings: Timings, observation: es.Observation, elapsed_s: float, in_stage_s: float,
    plan: DeploymentPlan,
) -> None:  # fmt: skip
    """Stop waiting when capacity, health or time ran out."""
    if observation.stage == "throttled" and in_stage_s >= timings.throttle_grace_s:
        raise Stop(throttled_failure(plan.pool, plan.options, in_stage_s))
    if observation.stage == "unhealthy" and in_stage_s >= timings.unhealthy_grace_s:
        tail = "\n".join(observation.log_tail) or "(no log lines)"
        raise Stop(
            Failure(
                reason="crashed",
                message=f"The worker keeps failing its start-up. Last log lines:\n{tail}",
                suggestions=(
                    "Open the endpoint's logs in the RunPod console for the whole story.",
                ),
            )
        )
    if elapsed_s >= timings.ready_timeout_s:
        raise Stop(
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


async def run_deployment(pipe: DeploySteps, deployment_id: str) -> Outcome:
    """One deployment, start to finish; see the module docstring."""
    plan = await pipe.plan_of(deployment_id)
    if plan.target != "runpod":  # Hugging Face, Cloud Run: `tools.pipeline.target_flow`
        return await pipe.run_target(deployment_id, plan)
    try:
        await _build(pipe, deployment_id, plan.worker.kind)
        await enter_stage("creating_template", "Creating the RunPod template.")
        template = await run_step(pipe, deployment_id, pipe.ensure_template)
        view = await pipe.record(deployment_id)
        await emit(ResourceCreated(resource="template", id=template["template_id"], name=view.name))
        await enter_stage("creating_endpoint", f"Creating the endpoint on {plan.pool}.")
        endpoint = await run_step(pipe, deployment_id, pipe.ensure_endpoint)
        await emit(ResourceCreated(resource="endpoint", id=endpoint["endpoint_id"], name=view.name))
        await enter_stage("waiting", "Waiting for the first worker (image pull and model load).")
        await _wait_ready(pipe, deployment_id, plan)
        await enter_stage("smoke_test", "Sending one test job through the queue.")
        smoke = await run_step(pipe, deployment_id, pipe.smoke_test)
    except Stop as stop:
        # The failure as recorded: it may add that the endpoint could not be stopped.
        failure = (
            await pipe.finish(deployment_id, stop.failure, stage=current_stage()) or stop.failure
        )
        await emit(Failed(failure=failure))
        await DBOS.close_stream_async(PROGRESS)
        return "cancelled" if stop.failure.reason == "cancelled" else "failed"
    await pipe.finish(deployment_id, None)
    view = await pipe.record(deployment_id)
    await emit(
        Completed(
            endpoint_id=endpoint["endpoint_id"],
            urls=view.urls,
            smoke_output=smoke["output"],
            message=f"{view.repo_id} is live on {plan.pool}.",
        )
    )
    await DBOS.close_stream_async(PROGRESS)
    # The endpoint's lifetime (time-to-live, idle limit), its own durable workflow. Last, so
    # a deployment recovered after an upgrade replays its earlier steps unchanged.
    with SetWorkflowID(lifetime_id(deployment_id)):
        await DBOS.start_workflow_async(pipe.lifetime_workflow, deployment_id)
    return "ready"
