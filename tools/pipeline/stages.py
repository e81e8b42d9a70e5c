"""The extension point after the endpoint answers: named stages (the web app, its hosting)
that a deployment runs, in the order its request lists them, each as one durable step.

    from tools.pipeline import AfterReadyContext, AfterReadyResult, register_after_ready

    async def publish_webapp(ctx: AfterReadyContext) -> AfterReadyResult:
        ...  # idempotent: find what an earlier attempt made by ctx.deployment_id
        return AfterReadyResult(urls={"webapp": url}, message="The web app is live.")

    register_after_ready("webapp", publish_webapp)  # at import, before DBOS.launch()

Then `DeployRequest(after_ready=("webapp",))` runs it once the smoke test passed.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from pydantic import BaseModel, ConfigDict

from tools.pipeline.events import Failure

__all__ = [
    "AfterReadyContext",
    "AfterReadyResult",
    "AfterReadyStage",
    "after_ready_stage",
    "register_after_ready",
]


class AfterReadyContext(BaseModel):
    """What an after-ready stage knows about the live endpoint (no keys: a stage reads the
    ones it needs from the vault, for `user_id`)."""

    model_config = ConfigDict(frozen=True)

    deployment_id: str
    user_id: str
    thread_id: str | None
    repo_id: str
    kind: str
    endpoint_id: str
    urls: dict[str, str]


class AfterReadyResult(BaseModel):
    """What a stage made: URLs to show (merged into the record), a line for the chat, or
    why it failed (the deployment then reports that failure; its endpoint, which answered
    its smoke test, stays ready)."""

    model_config = ConfigDict(frozen=True)

    urls: dict[str, str] = {}
    message: str = ""
    failure: Failure | None = None


AfterReadyStage = Callable[[AfterReadyContext], Coroutine[Any, Any, AfterReadyResult]]
_STAGES: dict[str, AfterReadyStage] = {}


def register_after_ready(name: str, stage: AfterReadyStage) -> None:
    """Add a stage that deployments may run by `name` once their endpoint answered.

    Register at import time, before `DBOS.launch()`, so a recovered workflow finds it.
    Each stage runs as one durable step: make it idempotent, and return a `failure`
    rather than raise for problems the user can fix.
    """
    _STAGES[name] = stage


def after_ready_stage(name: str) -> AfterReadyStage | None:
    return _STAGES.get(name)
