"""`PipelineHandle`: how tools, the agent and the UI reach the process's pipeline, which
the chat app launches in the background (`kriptik serve` answers /health without waiting
for it) and the CLI and tests build before they start.

    handle = PipelineHandle.launching(asyncio.create_task(start_it()))  # the chat app
    handle = PipelineHandle.of(pipeline)                                # CLI, tests
    if handle.available(): pipeline = await handle.ready()             # tools wait

Light on purpose: it imports neither DBOS nor the pipeline's steps.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from tools.pipeline.durable import DeploymentPipeline

__all__ = ["PipelineHandle", "PipelineUnavailable"]

# Long enough for a slow database; a tool that waits longer says the pipeline is down.
READY_TIMEOUT_S: Final = 60.0


class PipelineUnavailable(RuntimeError):
    """No pipeline runs in this process (never launched, failed, or not up in time)."""


class PipelineHandle:
    """The process's pipeline: ready now, being launched, or absent (a launch that failed
    resolves to None).

    Args:
        pipeline: A pipeline that already runs.
        launch: The background launch, resolving to the pipeline (None when it failed).
    """

    def __init__(
        self,
        pipeline: DeploymentPipeline | None = None,
        *,
        launch: asyncio.Future[DeploymentPipeline | None] | None = None,
    ) -> None:
        self._pipeline = pipeline
        self._launch = launch

    @classmethod
    def of(cls, pipeline: DeploymentPipeline) -> PipelineHandle:
        """A handle on a pipeline that runs already."""
        return cls(pipeline)

    @classmethod
    def launching(cls, launch: asyncio.Future[DeploymentPipeline | None]) -> PipelineHandle:
        """A handle on a pipeline that `launch` is starting in the background."""
        return cls(launch=launch)

    def _launched(self) -> DeploymentPipeline | None:
        launch = self._launch
        if launch is None or not launch.done() or launch.cancelled():
            return None
        return None if launch.exception() is not None else launch.result()

    def now(self) -> DeploymentPipeline | None:
        """The pipeline if it runs now, without waiting for a launch in progress."""
        return self._pipeline or self._launched()

    def available(self) -> bool:
        """Whether the pipeline runs here, or is being launched."""
        launching = self._launch is not None and not self._launch.done()
        return launching or self.now() is not None

    async def ready(self, timeout_s: float = READY_TIMEOUT_S) -> DeploymentPipeline:
        """The pipeline once a launch in progress has finished; `PipelineUnavailable` where
        none runs (or it did not start in `timeout_s`)."""
        launch = self._launch
        if launch is not None and not launch.done():
            # Shielded: a tool that gives up waiting must not cancel the app's launch.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(launch), timeout_s)
        pipeline = self.now()
        if pipeline is None:
            raise PipelineUnavailable("the deployment pipeline is not running in this process")
        return pipeline

    async def settled(self) -> DeploymentPipeline | None:
        """Wait for a launch in progress, however long it takes (shutdown must never stop
        it half-way); the pipeline, or None."""
        if self._launch is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._launch)
        return self.now()
