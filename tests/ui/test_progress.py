"""Deployment progress: each pipeline event folded into the stages the panel shows, with
when each started and ended, so a reload can pick up where the panel stopped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tools.pipeline.events import (
    Completed,
    Failed,
    Failure,
    LogLine,
    NeedsKey,
    ProgressEvent,
    ResourceCreated,
    StageChanged,
    WorkersSeen,
)
from ui.web.deployments import stored_views
from ui.web.progress import ProgressView, apply

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def _play(*events: ProgressEvent) -> ProgressView:
    view = ProgressView.start("dep-1", "Deploying org/m", now=T0)
    for second, event in enumerate(events, start=1):
        view = apply(view, event, now=T0 + timedelta(seconds=10 * second))
    return view


def _states(view: ProgressView) -> dict[str, str]:
    return {stage.key: stage.state for stage in view.stages}


def test_a_prebuilt_worker_skips_the_build_and_times_each_stage() -> None:
    view = _play(
        StageChanged(stage="creating_template", message="Creating the RunPod template."),
        ResourceCreated(resource="template", id="tpl-1", name="kt-m"),
        StageChanged(stage="creating_endpoint", message="Creating the endpoint on ADA_24."),
        WorkersSeen(
            stage="initializing",
            counts={"initializing": 1},
            elapsed_s=3,
            message="1 worker initializing",
        ),
    )
    assert _states(view) == {
        "building": "skipped", "registering": "skipped", "creating_template": "done",
        "creating_endpoint": "done", "waiting": "running", "smoke_test": "pending", "publishing": "pending",
    }  # fmt: skip
    template = view.stages[2]
    assert (template.started_at, template.finished_at) == (
        "2026-11-27T12:00:10Z",
        "2026-11-27T12:00:30Z",
    )
    assert template.detail == "template tpl-1 created"
    assert view.stages[4].detail == "1 worker initializing"
    assert view.offset == 4 and view.status == "running"


def test_build_output_shows_as_the_current_stage_detail() -> None:
    view = _play(
        StageChanged(stage="building", message="Building the worker image."),
        LogLine(source="build", line="Step 3/9 : RUN pip install runpod"),
    )
    assert view.stages[0].detail == "Step 3/9 : RUN pip install runpod"


def test_ready_finishes_every_stage() -> None:
    view = _play(
        StageChanged(stage="waiting", message="Waiting for the first worker."),
        StageChanged(stage="smoke_test", message="Sending one test job."),
        Completed(
            endpoint_id="ep-1", urls={}, smoke_output="ok", message="org/m is live on ADA_24."
        ),
    )
    assert view.status == "done" and view.message == "org/m is live on ADA_24."
    assert view.finished_at == "2026-11-27T12:00:30Z"
    assert set(_states(view).values()) <= {"done", "skipped"}


def test_a_failure_marks_the_running_stage_and_says_what_to_do() -> None:
    failure = Failure(
        reason="oom", message="The model ran out of GPU memory.", suggestions=("Use ADA_48_PRO.",)
    )
    view = _play(
        StageChanged(stage="waiting", message="Waiting."),
        NeedsKey(provider="runpod", message="RunPod rejected the key; add a new one with /keys."),
        Failed(failure=failure),
    )
    assert view.status == "failed" and _states(view)["waiting"] == "failed"
    assert view.message == "The model ran out of GPU memory.\n- Use ADA_48_PRO."
    cancelled = _play(Failed(failure=Failure(reason="cancelled", message="Cancelled.")))
    assert cancelled.status == "cancelled"


def test_apply_leaves_the_previous_view_as_it_was() -> None:
    before = ProgressView.start("dep-1", "Deploying", now=T0)
    after = apply(before, StageChanged(stage="building", message="Building."), now=T0)
    assert before.stages[0].state == "pending" and after.stages[0].state == "running"


def test_a_reload_finds_the_stored_panel_of_each_deployment() -> None:
    view = _play(StageChanged(stage="building", message="Building."))
    elements = [
        {"id": "el-1", "forId": "msg-1", "name": "Progress", "props": view.model_dump()},
        {"id": "el-2", "forId": "msg-2", "name": "VramChart", "props": {}},
        {"id": "el-3", "forId": "msg-3", "name": "Progress", "props": {"broken": True}},
    ]
    found = stored_views(elements)
    assert list(found) == ["dep-1"]
    element_id, message_id, stored = found["dep-1"]
    assert (element_id, message_id, stored.offset) == ("el-1", "msg-1", 1)
