"""An endpoint's lifetime in plain terms (tools/pipeline/expiry.py) and as the /deployments
panel shows it (ui/web/deployments.py): the deadline is whichever of the time-to-live and
the idle limit comes first (or at once, the dollar cap once reached), and the warning line
says when and why."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tools.pipeline.expiry import deadline_of, lifetime_sentence, span, warning_line
from ui.web.deployments import lifetime_fields
from vault.deployments import DeploymentView

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _view(**fields: Any) -> DeploymentView:
    base: dict[str, Any] = {
        "id": "d1", "user_id": "u1", "thread_id": None, "repo_id": "org/model",
        "revision": "abc", "kind": "vllm", "state": "ready", "stage": "ready", "message": None,
        "name": "kriptik-d1", "image": None, "image_digest": None, "registry_auth_id": None,
        "template_id": "t1", "endpoint_id": "ep1", "gpu_pools": ["ADA_24"], "gpu_count": 1,
        "workers_min": 0, "workers_max": 1, "idle_timeout_s": 5, "usd_per_second": 0.0003,
        "cost_usd": 0.0, "urls": {}, "plan": {}, "created_at": NOW, "updated_at": NOW,
        "ready_at": NOW, "ended_at": None, "ttl_s": 86400, "idle_limit_s": 7200,
        "expires_at": NOW + timedelta(hours=24), "last_active_at": NOW,
    }  # fmt: skip
    return DeploymentView.model_validate(base | fields)


@pytest.mark.parametrize(
    ("seconds", "words"),
    [(86400, "24 h"), (7200, "2 h"), (900, "15 min"), (719, "12 min"), (5400, "90 min"),
     (9000, "2.5 h"), (45, "45 s"), (-3, "0 s")],
)  # fmt: skip
def test_durations_read_as_a_person_says_them(seconds: float, words: str) -> None:
    assert span(seconds) == words


def test_the_card_sentence_names_both_limits_and_the_warning() -> None:
    assert lifetime_sentence(86400, 7200, 900) == (
        "Stops by itself after 24 h, or after 2 h with no requests; you are warned 15 min before"
    )


def test_the_deadline_is_whichever_limit_comes_first() -> None:
    idle = deadline_of(_view())
    assert idle is not None and idle.reason == "idle" and idle.at == NOW + timedelta(hours=2)
    assert idle.words() == "idle for 2 h"
    busy = deadline_of(_view(last_active_at=NOW + timedelta(hours=23)))
    assert busy is not None and busy.reason == "ttl" and busy.at == NOW + timedelta(hours=24)
    assert busy.words() == "time-to-live reached"
    assert deadline_of(_view(expires_at=None, idle_limit_s=None)) is None


def test_a_reached_cost_cap_is_due_when_the_accrual_saw_it() -> None:
    counted = NOW + timedelta(minutes=40)
    under = _view(cost_cap_usd=20.0, cost_usd=19.99, cost_accrued_to=counted)
    idle = deadline_of(under)  # below the cap: the idle limit, as before
    assert idle is not None and (idle.reason, idle.at) == ("idle", NOW + timedelta(hours=2))
    capped = _view(cost_cap_usd=20.0, cost_usd=20.0, cost_accrued_to=counted)
    due = deadline_of(capped)
    assert due is not None and due.reason == "cost" and due.at == counted
    assert due.words() == "cost cap of $20.00 reached"
    warned = capped.model_copy(update={"warned_at": counted})
    assert warning_line(warned, now=counted) == "Stopping now: cost cap of $20.00 reached"
    fields = lifetime_fields(warned, now=counted)
    assert not fields["can_extend"]  # that stop cannot be put off
    uncapped = deadline_of(_view(cost_cap_usd=None, cost_usd=500.0, cost_accrued_to=counted))
    assert uncapped is not None and uncapped.reason == "idle"  # a record from before caps


def test_the_panel_warns_only_once_the_warning_went_out() -> None:
    quiet = _view()
    assert warning_line(quiet, now=NOW + timedelta(minutes=108)) is None
    warned = _view(warned_at=NOW + timedelta(minutes=105))
    assert warning_line(warned, now=NOW + timedelta(minutes=108)) == "Stops in 12 min: idle for 2 h"
    assert warning_line(warned, now=NOW + timedelta(hours=3)) == "Stopping now: idle for 2 h"
    fields = lifetime_fields(warned, now=NOW + timedelta(minutes=108))
    assert fields["warning"] == "Stops in 12 min: idle for 2 h" and fields["can_extend"]
    gone = lifetime_fields(_view(state="tearing_down", warned_at=NOW), now=NOW)
    assert gone == {"warning": None, "stops": None, "can_extend": False}
