"""What a deployment reports while it runs, and how it ends.

The workflow writes `ProgressEvent`s to the DBOS stream `PROGRESS` of its workflow (whose
id is the deployment id). The chat and the CLI read them with `read_progress`; the
workflow itself never touches the UI. Every message is written for the user, as a next
step where one is needed.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

__all__ = [
    "PROGRESS",
    "Completed",
    "Failed",
    "Failure",
    "FailureReason",
    "LogLine",
    "NeedsKey",
    "ProgressEvent",
    "ReadinessStage",
    "ResourceCreated",
    "Stage",
    "StageChanged",
    "WorkersSeen",
    "parse_event",
]

PROGRESS = "progress"

Stage = Literal[
    "building",
    "registering",
    "creating_template",
    "creating_endpoint",
    "waiting",
    "smoke_test",
    "publishing",
]
# What the endpoint's workers are doing, from the workers API.
ReadinessStage = Literal["initializing", "pulling", "ready", "throttled", "unhealthy"]
FailureReason = Literal[
    "oom",
    "gated",
    "image_pull_auth",
    "throttled",
    "auth",
    "crashed",
    "timeout",
    "smoke_test",
    "build",
    "no_engine",
    "provider",
    "cancelled",
    "cap",
]
ResourceKind = Literal["image", "registry", "template", "endpoint", "web"]


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True)


class StageChanged(_Event):
    """The pipeline moved on to another stage."""

    kind: Literal["stage"] = "stage"
    stage: Stage
    message: str


class LogLine(_Event):
    """A line of build, push or worker output (redacted)."""

    kind: Literal["log"] = "log"
    source: Literal["build", "push", "worker"]
    line: str


class ResourceCreated(_Event):
    """Something that exists now, and what it is called (for teardown and for the user)."""

    kind: Literal["resource"] = "resource"
    resource: ResourceKind
    id: str
    name: str


class WorkersSeen(_Event):
    """The endpoint's workers changed stage."""

    kind: Literal["workers"] = "workers"
    stage: ReadinessStage
    counts: dict[str, int]
    elapsed_s: float
    message: str


class NeedsKey(_Event):
    """A provider rejected the stored key part-way; the deployment waits for a new one.

    Written only after the record says `needs_key` (the failing step records it), so a
    reader that sees this event finds the record in that state, and a crash right after
    the step loses nothing."""

    kind: Literal["needs_key"] = "needs_key"
    provider: str
    message: str


class Completed(_Event):
    """The endpoint answered its smoke test: the deployment is ready."""

    kind: Literal["completed"] = "completed"
    endpoint_id: str
    urls: dict[str, str]
    smoke_output: str
    message: str


class Failure(BaseModel):
    """Why a deployment stopped, and what the user can do about it."""

    model_config = ConfigDict(frozen=True)

    reason: FailureReason
    message: str
    suggestions: tuple[str, ...] = ()
    provider: str | None = None  # for reason "auth": whose key to replace

    def text(self) -> str:
        tips = "".join(f"\n- {tip}" for tip in self.suggestions)
        return self.message + tips


class Failed(_Event):
    """The deployment stopped; its workers were scaled to zero."""

    kind: Literal["failed"] = "failed"
    failure: Failure


ProgressEvent = Annotated[
    StageChanged | LogLine | ResourceCreated | WorkersSeen | NeedsKey | Completed | Failed,
    Field(discriminator="kind"),
]
_ADAPTER: TypeAdapter[ProgressEvent] = TypeAdapter(ProgressEvent)


def parse_event(raw: dict[str, Any]) -> ProgressEvent:
    """An event as written to the stream (a plain dict) back into its model."""
    return _ADAPTER.validate_python(raw)
