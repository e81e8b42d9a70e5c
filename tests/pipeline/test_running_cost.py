"""True running cost: "spent so far" grows for as long as an endpoint exists (not only up to
ready), matches what the simulated RunPod bills for its workers' seconds, stops at
teardown, never counts a second twice when pollers overlap (SQLite and PostgreSQL), and
an unknown figure reads "unknown", never $0."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from pydantic import SecretStr

from tests.pipeline.conftest import PipelineEnv
from tests.pipeline.fakes import DeployRunPodFake
from tests.pipeline.test_workflow import deploy
from tools.clients.runpod_models import Workers
from tools.pipeline import api, cost
from tools.pipeline.reminders import running_reminders
from tools.pipeline.services import PipelineServices
from tools.simulator.clock import FakeClock
from ui.web.reports import gpu_line, totals
from vault import Settings, Vault
from vault.deployments import DeploymentCaps, DeploymentStore, DeploymentView
from vault.models import utcnow

HOUR = 3600.0


def _billed(runpod: DeployRunPodFake, endpoint_id: str, now: datetime) -> float:
    """What the simulated RunPod bills for the endpoint, straight from its meter."""
    return runpod.state.billing.amounts(endpoint_id, now - timedelta(days=365), now, now)[
        "totalAmount"
    ]


async def test_spent_so_far_grows_while_the_endpoint_is_up_and_matches_the_billing(
    pipeline: PipelineEnv, services: Callable[..., PipelineServices], runpod: DeployRunPodFake
) -> None:
    clock = FakeClock(datetime(2026, 3, 2, 9, 30, tzinfo=UTC))
    runpod.state.clock = clock.now
    svc = services(clock=clock.now)
    user = await pipeline.new_user()
    view, _, outcome = await deploy(pipeline.pipe, user)
    assert outcome == "ready"
    rate = cost.usd_per_worker_second(view)
    assert rate > view.usd_per_second > 0  # its GPUs, and its container disk
    spent: list[float] = []
    for _ in range(3):  # left up, idle, for three hours
        await clock.sleep(HOUR)
        [now] = await cost.refresh(svc, user)
        spent.append(now.cost_usd)
        assert now.billed_usd == pytest.approx(_billed(runpod, now.endpoint_id or "", clock.now()))
        assert now.cost_usd == pytest.approx(now.billed_usd)
        assert now.cost_accrued_to == now.billed_at == clock.now()
    assert spent == pytest.approx([HOUR * rate, 2 * HOUR * rate, 3 * HOUR * rate])
    [reminder] = await running_reminders(svc, user)
    assert f"Spent so far: {cost.money(3 * HOUR * rate)} estimated, " in reminder.text
    assert "billed by RunPod" in reminder.text
    status = await api.deployment_status(svc, user, view.id)  # a read accrues too
    assert status.deployment.cost_usd == pytest.approx(3 * HOUR * rate)

    # Torn down after 20 more minutes: the count stops at the endpoint's deletion.
    await clock.sleep(1200)
    await api.teardown(pipeline.pipe, user, view.id)
    final = await svc.deployments.get(view.id, user_id=user)
    assert final.state == "torn_down" and final.cost_accrued_to == final.ended_at == clock.now()
    assert final.cost_usd == pytest.approx((3 * HOUR + 1200) * rate)
    assert final.billed_usd == pytest.approx(final.cost_usd)
    await clock.sleep(HOUR)
    [after] = await cost.refresh(svc, user)
    assert after.cost_usd == final.cost_usd
    assert _billed(runpod, final.endpoint_id or "", clock.now()) == pytest.approx(final.cost_usd)


async def test_a_key_without_billing_access_leaves_the_bill_unknown(
    pipeline: PipelineEnv, services: Callable[..., PipelineServices], runpod: DeployRunPodFake
) -> None:
    clock = FakeClock()
    runpod.state.clock = clock.now
    svc = services(clock=clock.now)
    user = await pipeline.new_user()
    view, _, _ = await deploy(pipeline.pipe, user)
    runpod.fail("GET /v2/billing/serverless", 403, times=None)
    await clock.sleep(HOUR)
    [now] = await cost.refresh(svc, user)
    assert now.billed_usd is None and now.cost_usd > 0
    assert cost.spent_text(now) == f"{cost.money(now.cost_usd)} estimated, RunPod's bill unknown"
    assert (
        gpu_line([now])
        == f"1 endpoint(s): {cost.money(now.cost_usd)} estimated, RunPod's bill unknown"
    )
    await api.teardown(pipeline.pipe, user, view.id)


def _workers(*statuses: str, started: datetime | None = None) -> Workers:
    return Workers.model_validate(
        {
            "workers": [
                {"id": f"w{i}", "status": s, "startedAt": started and started.isoformat()}
                for i, s in enumerate(statuses)
            ],
            "summary": {s.lower(): statuses.count(s) for s in set(statuses)},
        }
    )


def test_only_running_and_idle_workers_bill_and_not_before_they_started() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    t1 = t0 + timedelta(seconds=100)
    busy = _workers("RUNNING", "IDLE", "INITIALIZING", "THROTTLED")
    assert cost.worker_seconds(busy, t0, t1) == 200
    late = _workers("IDLE", started=t0 + timedelta(seconds=70))
    assert cost.worker_seconds(late, t0, t1) == 30


async def _record(vault: Vault, *, accrued_to: datetime, usd_per_second: float = 0.001) -> str:
    user = await vault.users.create("payer", SecretStr("correct-horse-1"))
    store = DeploymentStore(vault.sessions)
    view = await store.create(
        user.id, caps=DeploymentCaps(max_live=2, max_workers=3, max_gpus=2), repo_id="org/m", revision="a" * 40, kind="vllm",
        name="kriptik-m", usd_per_second=usd_per_second,
    )  # fmt: skip
    await store.update(view.id, endpoint_id="ep1", state="ready", cost_accrued_to=accrued_to)
    return view.id


async def test_overlapping_pollers_never_count_a_second_twice(
    vault: Vault, settings: Settings
) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    deployment_id = await _record(vault, accrued_to=start)
    async with httpx.AsyncClient() as http:
        svc = PipelineServices(settings=settings, vault=vault, http=http)
        one = _workers("IDLE")
        ats = [start + timedelta(seconds=s) for s in (60, 60, 120, 30, 120, 90, 60, 120)]
        await asyncio.gather(*(cost.accrue_observed(svc, deployment_id, one, at) for at in ats))
        view = await svc.deployments.get(deployment_id, user_id=None)
        assert view.cost_accrued_to == start + timedelta(seconds=120)
        assert view.cost_usd == pytest.approx(120 * 0.001)
        # A look at an earlier moment than the count adds nothing.
        await cost.accrue_observed(svc, deployment_id, one, start + timedelta(seconds=10))
        assert (await svc.deployments.get(deployment_id, user_id=None)).cost_usd == view.cost_usd


async def test_the_compare_and_set_refuses_a_stale_reader(vault: Vault) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    deployment_id = await _record(vault, accrued_to=start)
    store = DeploymentStore(vault.sessions)
    later = start + timedelta(minutes=1)
    assert await store.accrue_cost(deployment_id, 0.5, expected=start, to=later)
    assert not await store.accrue_cost(deployment_id, 0.5, expected=start, to=later)
    assert not await store.accrue_cost(deployment_id, 0.5, expected=None, to=later)
    view = await store.get(deployment_id, user_id=None)
    assert (view.cost_usd, view.cost_accrued_to) == (pytest.approx(0.5), later)


def _view(**changes: object) -> DeploymentView:
    now = utcnow()
    fields: dict[str, object] = {
        "id": "d1", "user_id": "u", "thread_id": "t", "repo_id": "org/m", "revision": "a",
        "kind": "vllm", "state": "ready", "stage": None, "message": None, "name": "n",
        "image": None, "image_digest": None, "registry_auth_id": None, "template_id": None,
        "endpoint_id": "ep1", "gpu_pools": ["ADA_24"], "gpu_count": 1, "workers_min": 0,
        "workers_max": 1, "idle_timeout_s": 5, "usd_per_second": 0.00031, "cost_usd": 1.234,
        "urls": {}, "plan": {}, "created_at": now, "updated_at": now, "ready_at": now,
        "ended_at": None,
    }  # fmt: skip
    return DeploymentView.model_validate(fields | changes)


def test_an_unknown_gpu_figure_reads_unknown_never_zero() -> None:
    assert cost.spent_text(_view(billed_usd=1.19)) == "$1.23 estimated, $1.19 billed by RunPod"
    assert cost.spent_text(_view(cost_usd=0.0123)) == "$0.0123 estimated, RunPod's bill unknown"
    unpriced = _view(usd_per_second=0.0, cost_usd=0.0)
    assert "$0" not in cost.spent_text(unpriced) and "unknown" in cost.spent_text(unpriced)
    line = gpu_line([_view(billed_usd=1.0), _view(id="d2", cost_usd=2.0)])
    assert line == (
        "2 endpoint(s): $3.23 estimated, $1.00 billed by RunPod for 1 (unknown for the rest)"
    )
    assert "$0" not in gpu_line([unpriced])


async def test_usage_says_unknown_for_model_requests_with_no_price(vault: Vault) -> None:
    audit = vault.audit
    for cost_usd in (None, None):  # a local OpenAI-compatible model reports no price
        await audit.record_model_request(
            thread_id="t1", user_id="u1", model="local/m", input_tokens=10, output_tokens=2,
            cost_usd=cost_usd, started_at=utcnow(),
        )  # fmt: skip
    local = await totals(vault, user_id="u1", thread_id="t1")
    assert local.unpriced == 2 and local.cost() == "cost unknown"
    assert "$0" not in local.line()
    await audit.record_model_request(
        thread_id="t1", user_id="u1", model="m/x", input_tokens=10, output_tokens=2,
        cost_usd=Decimal("0.0012"), started_at=utcnow(),
    )  # fmt: skip
    mixed = await totals(vault, user_id="u1", thread_id="t1")
    assert mixed.cost() == "$0.0012, plus 2 request(s) of unknown cost"
    none = await totals(vault, user_id="u1", thread_id="nothing-here")
    assert none.requests == 0 and none.cost() == "$0.0000"  # nothing was spent: a true $0
