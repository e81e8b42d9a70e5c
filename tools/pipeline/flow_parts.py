"""What both deployment workflows are made of: RunPod's (`tools.pipeline.workflow`) and the
other targets' (`tools.pipeline.target_flow`). Workflow code only: it writes the DBOS
progress stream and waits on the `CONTROL` topic, never calls a provider itself.

```
Stop(failure)              ends a workflow with a failure (raised in workflow code only)
emit(event)                one progress event on the deployment's stream
enter_stage(stage, text)   a StageChanged event, remembered so a failure says where it was
current_stage()            that stage
stage_clock()              a fresh record of when each stage began (for the metrics)
run_step(pipe, id, step)   a step; a rejected key parks until "resume" and the step runs again
```
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Final, Protocol

from dbos import DBOS

from tools.pipeline.events import (
    PROGRESS,
    Failure,
    NeedsKey,
    ProgressEvent,
    Stage,
    StageChanged,
)
from tools.pipeline.steps import StepResult

if TYPE_CHECKING:
    from tools.pipeline.services import PipelineServices
    from vault.deployments import DeploymentState

__all__ = [
    "CONTROL",
    "StageClock",
    "Stop",
    "current_stage",
    "emit",
    "enter_stage",
    "run_step",
    "stage_clock",
]

CONTROL: Final = "control"  # the topic a workflow reads: "cancel", or "resume" after a new key


class KeyWaiting(Protocol):
    """What a workflow needs to park on a rejected key: its services and its state."""

    services: PipelineServices

    async def set_state(self, deployment_id: str, state: DeploymentState, message: str) -> None: ...


class Stop(Exception):
    """Ends the workflow with a failure (raised in workflow code only, never in a step)."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure


async def emit(event: ProgressEvent) -> None:
    await DBOS.write_stream_async(PROGRESS, event.model_dump(mode="json"))


# The stage this workflow's task is in, so a failure records where it stopped. A context
# variable: each workflow runs in its own task, and a recovered one replays its stages.
_AT: ContextVar[Stage | None] = ContextVar("kriptik_stage", default=None)


class StageClock:
    """When each stage of one workflow run began (monotonic seconds), so that the metrics
    learn how long each took. A recovered workflow replays its finished stages at once:
    their durations then count from the recovery, not from the first run."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.entered: list[tuple[Stage, float]] = []

    def enter(self, stage: Stage) -> None:
        self.entered.append((stage, self._clock()))

    def durations(self) -> list[tuple[Stage, float]]:
        """Each stage and its seconds; the last one's run until now."""
        ends = [at for _, at in self.entered[1:]] + [self._clock()]
        return [(stage, end - at) for (stage, at), end in zip(self.entered, ends, strict=True)]


_CLOCK: ContextVar[StageClock | None] = ContextVar("kriptik_stage_clock", default=None)


def stage_clock() -> StageClock:
    """A fresh clock for the workflow starting in this task (`enter_stage` writes to it)."""
    clock = StageClock()
    _CLOCK.set(clock)
    return clock


async def enter_stage(stage: Stage, message: str) -> None:
    _AT.set(stage)
    if (clock := _CLOCK.get()) is not None:
        clock.enter(stage)
    await emit(StageChanged(stage=stage, message=message))


def current_stage() -> Stage | None:
    return _AT.get()


async def _wait_for_key(
    pipe: KeyWaiting, deployment_id: str, failure: Failure, default_provider: str
) -> None:
    """Park on a 401 part-way: the user stores a new key, the UI sends "resume"."""
    provider = failure.provider or default_provider
    await emit(NeedsKey(provider=provider, message=failure.text()))
    await pipe.set_state(deployment_id, "needs_key", failure.text())
    key_wait_s = pipe.services.timings.key_wait_s
    if await DBOS.recv_async(CONTROL, timeout_seconds=key_wait_s) != "resume":
        raise Stop(failure)
    await pipe.set_state(deployment_id, "waiting", f"resumed with a new {provider} key")


async def run_step(
    pipe: KeyWaiting, deployment_id: str, step: Callable[..., Awaitable[StepResult]],
    *args: Any, transient: int = 0, default_provider: str = "RunPod",
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
            await DBOS.sleep_async(pipe.services.timings.poll_s)
            continue
        if result.failure.reason != "auth":
            raise Stop(result.failure)
        await _wait_for_key(pipe, deployment_id, result.failure, default_provider)
