"""Whether the workflow engine (DBOS, started with the process's pipeline) runs, for the
chat app's `/readyz` probe. Reads the `PipelineHandle` only: it imports neither DBOS nor
the pipeline's steps, and never waits for a launch in progress."""

from __future__ import annotations

from tools.pipeline.handle import PipelineHandle
from vault.health import Check

__all__ = ["engine_check"]


def engine_check(handle: PipelineHandle) -> Check:
    """Passed once the pipeline has started; failed while it starts, and when it failed
    to start or was stopped (the server log says why)."""
    if handle.now() is not None:
        return Check("workflow_engine", True, "started")
    if handle.available():
        return Check("workflow_engine", False, "still starting")
    return Check(
        "workflow_engine", False,
        "not running: it did not start, or was stopped (see the server log)",
    )  # fmt: skip
