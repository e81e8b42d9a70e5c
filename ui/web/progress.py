"""Live deployment stages in the chat (`public/elements/Progress.jsx`).

A deployment reports through its DBOS progress stream; `follow` reads that stream and
folds each event into a `ProgressView`, which becomes the element's props. The props are
stored with the thread (they are a custom element), including when each stage started
and ended and how many events were applied (`offset`). After a reload, `follow` starts
again from the stored view and reads the stream from `offset` on, so elapsed times stay
true and no event is applied twice.
"""

from __future__ import annotations

# Chainlit's CustomElement is only partly annotated.
# pyright: reportUnknownMemberType=false, reportUnknownVariableType=false
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Final, Literal, assert_never

import chainlit as cl
from pydantic import BaseModel

from tools.pipeline.events import (
    Completed,
    Failed,
    LogLine,
    NeedsKey,
    ProgressEvent,
    ResourceCreated,
    Stage,
    StageChanged,
    WorkersSeen,
)
from ui.web.render import clean

ELEMENT: Final = "Progress"
_log = logging.getLogger(__name__)

StageState = Literal["pending", "running", "done", "failed", "skipped"]
Status = Literal["running", "done", "failed", "cancelled"]
STAGES: Final[tuple[tuple[Stage, str], ...]] = (
    ("building", "Build the worker image"),
    ("registering", "Push the image"),
    ("creating_template", "Create the RunPod template"),
    ("creating_endpoint", "Create the endpoint"),
    ("waiting", "Start workers: initializing → ready"),
    ("smoke_test", "Test the endpoint"),
    ("publishing", "Deploy the web app"),
)
_DETAIL_CHARS: Final = 160


class StageView(BaseModel):
    key: Stage
    label: str
    state: StageState = "pending"
    started_at: str | None = None
    finished_at: str | None = None
    detail: str | None = None


class ProgressView(BaseModel):
    deployment_id: str
    title: str
    status: Status = "running"
    started_at: str
    finished_at: str | None = None
    stages: list[StageView]
    message: str | None = None
    offset: int = 0

    @classmethod
    def start(cls, deployment_id: str, title: str, *, now: datetime) -> ProgressView:
        stages = [StageView(key=key, label=label) for key, label in STAGES]
        return cls(deployment_id=deployment_id, title=title, started_at=_iso(now), stages=stages)


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _short(text: str) -> str:
    text = clean(" ".join(text.split()))
    return text if len(text) <= _DETAIL_CHARS else text[: _DETAIL_CHARS - 1] + "…"


def _current(view: ProgressView) -> StageView | None:
    return next((s for s in view.stages if s.state == "running"), None)


def _enter(view: ProgressView, stage: Stage, detail: str, stamp: str) -> None:
    target = next(i for i, s in enumerate(view.stages) if s.key == stage)
    for index, item in enumerate(view.stages):
        if item.state == "running" and index != target:
            item.state, item.finished_at = "done", stamp
        if index < target and item.state == "pending":
            item.state = "skipped"  # e.g. no build for a prebuilt vLLM worker
    entered = view.stages[target]
    if entered.state != "running":
        entered.state, entered.started_at, entered.finished_at = "running", stamp, None
    entered.detail = _short(detail)


def _end(view: ProgressView, status: Status, message: str, stamp: str) -> None:
    for item in view.stages:
        if item.state == "running":
            item.state = "done" if status == "done" else "failed"
            item.finished_at = stamp
        elif item.state == "pending" and status == "done":
            item.state = "skipped"
    view.status, view.message, view.finished_at = status, clean(message), stamp


def apply(view: ProgressView, event: ProgressEvent, *, now: datetime) -> ProgressView:
    """The view after one more event (a new object; `view` is left as it was)."""
    view = view.model_copy(deep=True)
    view.offset += 1
    stamp = _iso(now)
    match event:
        case StageChanged():
            _enter(view, event.stage, event.message, stamp)
        case WorkersSeen():
            _enter(view, "waiting", event.message, stamp)
        case LogLine():
            if (stage := _current(view)) is not None and event.source != "worker":
                stage.detail = _short(event.line)
        case ResourceCreated():
            if (stage := _current(view)) is not None:
                stage.detail = _short(f"{event.resource} {event.id} created")
        case NeedsKey():
            view.message = clean(event.message)
        case Completed():
            _end(view, "done", event.message, stamp)
        case Failed():
            cancelled = event.failure.reason == "cancelled"
            _end(view, "cancelled" if cancelled else "failed", event.failure.text(), stamp)
        case _:
            assert_never(event)
    return view


Feed = Callable[[str, int], AsyncIterator[ProgressEvent]]


def _pipeline_feed(deployment_id: str, offset: int) -> AsyncIterator[ProgressEvent]:
    from tools.pipeline.api import read_progress

    return read_progress(deployment_id, offset=offset)


class ProgressPanel:
    """One Progress element, updated in place as the view changes."""

    def __init__(self, view: ProgressView, *, element_id: str | None = None) -> None:
        self.view = view
        self._element = cl.CustomElement(name=ELEMENT, props=view.model_dump(), display="inline")
        if element_id:
            self._element.id = element_id

    @property
    def element(self) -> cl.CustomElement:
        return self._element

    async def show(self, *, intro: str) -> None:
        await cl.Message(content=intro, elements=[self._element]).send()

    async def push(self, view: ProgressView) -> None:
        self.view = view
        self._element.props = view.model_dump()
        await self._element.update()

    async def follow(
        self, *, feed: Feed = _pipeline_feed, clock: Callable[[], datetime] | None = None
    ) -> ProgressView:
        """Apply events as they arrive, until the deployment ends or the stream closes."""
        now = clock or (lambda: datetime.now(UTC))
        try:
            async for event in feed(self.view.deployment_id, self.view.offset):
                await self.push(apply(self.view, event, now=now()))
        except Exception:  # the panel is a view: a broken stream must not break the chat
            _log.exception("progress of %s stopped updating", self.view.deployment_id)
        return self.view
