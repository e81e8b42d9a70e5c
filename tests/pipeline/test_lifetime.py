"""An endpoint's lifetime (tools/pipeline/lifetime.py), on DBOS's real durable workflows over
SQLite and PostgreSQL and the simulated RunPod: a deployment left idle is warned, then torn
down by itself, and the audit transcript and the chat say both; an extension before the
deadline keeps it; requests move the idle deadline; a process restarted while the
workflow sleeps still tears the endpoint down when it is due; and an endpoint whose running
cost, accrued at each look, reaches its dollar cap is warned and torn down at once.

The tests drive the pipeline's clock and wait on state (the record, the workflow's result,
the calls the fake received), never on a fixed sleep.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from dbos import DBOS
from pydantic import SecretStr

from tests.conftest import need_service
from tests.pipeline.conftest import FAST, caps, settings_for
from tests.services import postgres
from tools.clients._http import Retry
from tools.pipeline import api, cost
from tools.pipeline.durable import DeploymentPipeline
from tools.pipeline.lifetime import LifetimeError, extend, lifetime_id
from tools.pipeline.plan import DeployRequest, plan_deployment
from tools.pipeline.services import PipelineServices
from tools.publish.teardown import WebAppTeardown
from tools.simulator.all import FakeStack
from tools.simulator.runpod import DEFAULT_KEY
from vault import Settings, Vault
from vault.chat import ChatStore
from vault.deployments import DeploymentView

LLM = "kriptik-test/tiny-llama"  # RunPod's prebuilt vLLM image: nothing to build
HEALTH = "GET /v2/{endpoint_id}/health"
T = TypeVar("T")


class ManualClock:
    """The pipeline's clock, moved on only by the test."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@dataclasses.dataclass
class World:
    settings: Settings
    vault: Vault
    http: httpx.AsyncClient
    base: PipelineServices
    pipe: DeploymentPipeline
    stack: FakeStack
    users: int = 0

    def use(self, **changes: Any) -> PipelineServices:
        services = dataclasses.replace(self.base, **changes)
        self.pipe.services = services
        return services

    async def new_user(self) -> tuple[str, str]:
        """A user with a RunPod key, and a chat thread of theirs."""
        self.users += 1
        user = await self.vault.users.create(f"life{self.users}", SecretStr("correct-horse-1"))
        await self.vault.credentials.add(user.id, "runpod", SecretStr(DEFAULT_KEY))
        thread = f"thread-{user.id}"
        assert await ChatStore(self.vault.sessions).update_thread(thread, user_id=user.id)
        return user.id, thread

    async def deploy(self, user_id: str, thread_id: str) -> DeploymentView:
        """Plan, approve and run a deployment to ready."""
        services = self.pipe.services
        plan = await plan_deployment(services, user_id, DeployRequest(repo_id=LLM))
        view = await api.create_deployment(
            self.pipe, user_id=user_id, plan=plan, thread_id=thread_id
        )
        assert await api.wait_deployment(view.id) == "ready"
        return await self.row(view.id)

    async def row(self, deployment_id: str) -> DeploymentView:
        return await self.base.deployments.get(deployment_id, user_id=None)

    def looks(self, view: DeploymentView) -> int:
        """How often the lifetime workflow has asked RunPod about this endpoint."""
        calls = self.stack.runpod_jobs.calls_to(HEALTH)
        return sum(c.params.get("endpoint_id") == view.endpoint_id for c in calls)

    async def two_more_looks(self, view: DeploymentView) -> None:
        """Wait until the workflow has looked twice more (so once wholly after now)."""
        seen = self.looks(view)
        await until(lambda: _done(self.looks(view) >= seen + 2), "two more looks")


async def _done(value: bool) -> bool:
    return value


async def until(check: Callable[[], Awaitable[T | None]], what: str, timeout_s: float = 30.0) -> T:
    """Wait for state: `check()` until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not (found := await check()):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)  # yield to the workflow; we wait on state, not on time
    return found


@asynccontextmanager
async def _database(kind: str, home: Path) -> AsyncIterator[str]:
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{home / 'kriptik.db'}"
        return
    if not await postgres.available():
        need_service("PostgreSQL", 'run `eval "$(scripts/start-postgres.sh)"`')
    async with postgres.fresh_database() as url:
        yield url


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def world(
    request: pytest.FixtureRequest, stack: FakeStack, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[World]:
    home = tmp_path_factory.mktemp("lifetime")
    async with _database(request.param, home) as url:
        settings = settings_for(home, stack, url)
        vault = await Vault.open(settings)
        async with httpx.AsyncClient(trust_env=False) as http:
            retry = Retry(max_attempts=1)
            web = WebAppTeardown(vault=vault, settings=settings, http=http, retry=retry)
            timings = dataclasses.replace(FAST, activity_poll_s=0.01)
            base = PipelineServices(
                settings=settings, vault=vault, http=http, timings=timings, retry=retry, web=web
            )
            running = World(settings, vault, http, base, await api.launch(base), stack)
            try:
                yield running
            finally:
                await api.shutdown(running.pipe)
                await vault.close()


@pytest.fixture
def fresh(world: World, fakes: FakeStack) -> World:
    world.use()
    return world


async def _audit_tools(world: World, user_id: str, thread_id: str) -> list[tuple[str, str]]:
    records = await world.vault.audit.records(thread_id=thread_id, user_id=user_id)
    return [(r.tool or "", r.summary or "") for r in records if r.kind == "tool"]


async def _chat(world: World, thread_id: str) -> list[str]:
    bundle = await ChatStore(world.vault.sessions).get_thread(thread_id)
    assert bundle is not None
    return [step.output for step in bundle.steps]


async def test_an_idle_endpoint_is_warned_then_torn_down_and_the_audit_shows_both(
    fresh: World,
) -> None:
    clock = ManualClock()
    fresh.use(clock=clock)
    user, thread = await fresh.new_user()
    view = await fresh.deploy(user, thread)
    start = clock.now
    row = await until(lambda: _with_clock(fresh, view.id), "the lifetime's clock to start")
    assert (row.ttl_s, row.idle_limit_s) == (24 * 3600, 2 * 3600)
    assert row.expires_at == start + timedelta(hours=24) and row.last_active_at == start

    clock.advance(hours=1, minutes=44)  # a minute before the warning
    await fresh.two_more_looks(view)
    assert (await fresh.row(view.id)).warned_at is None

    clock.advance(minutes=2)  # 14 minutes left of the idle limit
    warned = await until(lambda: _warned(fresh, view.id), "the warning")
    assert warned.state == "ready" and warned.warned_at == clock.now
    await fresh.two_more_looks(view)
    assert (await fresh.row(view.id)).state == "ready"  # warned, not yet stopped

    clock.advance(minutes=14)
    outcome = await (await DBOS.retrieve_workflow_async(lifetime_id(view.id))).get_result()
    assert outcome == "torn_down"
    gone = await fresh.row(view.id)
    assert gone.state == "torn_down" and gone.endpoint_id not in fresh.stack.runpod.state.endpoints

    audit = await _audit_tools(fresh, user, thread)
    tools = [tool for tool, _ in audit]
    assert tools == ["endpoint_expiry_warning", "endpoint_auto_teardown"]
    assert "stops by itself in 14 min: idle for 2 h" in audit[0][1]
    assert "torn down automatically (idle for 2 h)" in audit[1][1]
    assert f"endpoint {view.endpoint_id}" in audit[1][1]
    chat = await _chat(fresh, thread)
    assert any("stops by itself in 14 min: idle for 2 h" in text for text in chat)
    assert any("torn down automatically (idle for 2 h)" in text for text in chat)


async def _with_clock(world: World, deployment_id: str) -> DeploymentView | None:
    row = await world.row(deployment_id)
    return row if row.expires_at is not None else None


async def _warned(world: World, deployment_id: str) -> DeploymentView | None:
    row = await world.row(deployment_id)
    return row if row.warned_at is not None else None


async def test_extending_before_the_deadline_keeps_the_endpoint(fresh: World) -> None:
    clock = ManualClock()
    services = fresh.use(clock=clock)
    user, thread = await fresh.new_user()
    view = await fresh.deploy(user, thread)
    await until(lambda: _with_clock(fresh, view.id), "the lifetime's clock to start")
    clock.advance(hours=1, minutes=50)
    await until(lambda: _warned(fresh, view.id), "the warning")

    extended = await extend(services, user, view.id)
    assert extended.warned_at is None and extended.last_active_at == clock.now
    assert extended.expires_at == clock.now + timedelta(hours=24)
    clock.advance(minutes=30)  # well past the old idle deadline
    await fresh.two_more_looks(view)
    row = await fresh.row(view.id)
    assert row.state == "ready" and row.warned_at is None
    tools = [tool for tool, _ in await _audit_tools(fresh, user, thread)]
    assert tools == ["endpoint_expiry_warning", "endpoint_extended"]

    await api.teardown(fresh.pipe, user, view.id)  # the user's own teardown ends the watch
    outcome = await (await DBOS.retrieve_workflow_async(lifetime_id(view.id))).get_result()
    assert outcome == "ended"


async def test_an_extension_the_monthly_budget_cannot_cover_is_refused(fresh: World) -> None:
    """More time is more spend: an hour after ready, Extend would add an hour of its worker
    to the time-to-live; with $0.25 of the month left that does not fit, so Extend says so
    and changes nothing."""
    clock = ManualClock()
    services = fresh.use(clock=clock)
    user, thread = await fresh.new_user()
    view = await fresh.deploy(user, thread)
    await until(lambda: _with_clock(fresh, view.id), "the lifetime's clock to start")
    clock.advance(hours=1)
    before = await fresh.row(view.id)
    spent = await fresh.vault.limits.spent_this_month(user, now=clock.now)
    await fresh.vault.limits.lower_own(user, monthly_budget_usd=round(spent + 0.25, 2))

    with pytest.raises(LifetimeError, match=r"could cost up to \$\d+\.\d\d more .* \$0\.25 of "
                       r"your \$\d+\.\d\d monthly GPU budget is left"):  # fmt: skip
        await extend(services, user, view.id)
    after = await fresh.row(view.id)
    assert after.expires_at == before.expires_at and after.state == "ready"
    assert "endpoint_extended" not in [t for t, _ in await _audit_tools(fresh, user, thread)]
    await api.teardown(fresh.pipe, user, view.id)


async def test_a_ready_endpoint_from_before_lifetimes_gets_watched_at_launch(fresh: World) -> None:
    """A deployment that was ready before lifetimes existed has no lifetime workflow: the
    launch starts one (once, however often it runs), and its first look gives it the
    operator's time-to-live and idle limit from now."""
    clock = ManualClock()
    services = fresh.use(clock=clock)
    user, thread = await fresh.new_user()
    plan = await plan_deployment(services, user, DeployRequest(repo_id=LLM))
    old = await services.deployments.create(
        user, caps=caps(max_live=5), repo_id=LLM, revision=plan.worker.revision, kind="vllm",
        gpu_pools=[plan.pool], plan=plan.model_dump(mode="json"), thread_id=thread,
        name="kriptik-before-lifetimes",
    )  # fmt: skip
    await services.deployments.update(old.id, state="ready", endpoint_id="ep-before-lifetimes")
    assert old.id in await api.watch_unwatched(fresh.pipe)
    assert old.id not in await api.watch_unwatched(fresh.pipe)  # already watched
    watched = await until(lambda: _with_clock(fresh, old.id), "the lifetime's clock to start")
    assert watched.expires_at == clock.now + timedelta(hours=24)
    assert watched.idle_limit_s == 2 * 3600
    await api.teardown(fresh.pipe, user, old.id)
    outcome = await (await DBOS.retrieve_workflow_async(lifetime_id(old.id))).get_result()
    assert outcome == "ended"


async def test_requests_move_the_idle_deadline(fresh: World) -> None:
    clock = ManualClock()
    services = fresh.use(clock=clock)
    user, thread = await fresh.new_user()
    view = await fresh.deploy(user, thread)
    await until(lambda: _with_clock(fresh, view.id), "the lifetime's clock to start")
    busy_at = clock.advance(hours=1, minutes=30)
    jobs, endpoint = await services.jobs(user), view.endpoint_id or ""
    job = await jobs.run(endpoint, {"prompt": "hello"})  # a request comes in and is served
    while not (await jobs.status(endpoint, job.id)).done:
        pass  # each status poll moves the simulated job on (queued, running, completed)

    async def active() -> bool:
        return (await fresh.row(view.id)).last_active_at == busy_at

    await until(active, "the request to count as activity")
    clock.advance(minutes=30)  # 2 h after ready, but only 30 min after the request
    await fresh.two_more_looks(view)
    row = await fresh.row(view.id)
    assert row.state == "ready" and row.warned_at is None
    assert row.last_active_at == busy_at  # unchanged counters are no activity
    await api.teardown(fresh.pipe, user, view.id)


async def test_a_restart_mid_sleep_still_tears_down_on_time(fresh: World) -> None:
    """Real time, short limits: the workflow sleeps towards its deadline, the process stops
    (DBOS destroyed: its tasks die, its workflows stay pending), a new one starts on the
    same database and executor, recovers the workflow, and tears the endpoint down when
    due, not before."""
    quick = fresh.settings.model_copy(
        update={"endpoint_ttl_s": 3, "endpoint_idle_limit_s": 3600, "expiry_warning_s": 1}
    )
    timings = dataclasses.replace(fresh.base.timings, activity_poll_s=60.0)
    services = fresh.use(settings=quick, timings=timings)
    user, thread = await fresh.new_user()
    view = await fresh.deploy(user, thread)
    row = await until(lambda: _with_clock(fresh, view.id), "the lifetime's clock to start")
    assert row.ttl_s == 3 and row.expires_at is not None
    left = (row.expires_at - datetime.now(UTC)).total_seconds()
    assert left > 1.5  # the teardown can only come from the process started below
    looks = fresh.looks(view)

    await api.shutdown(fresh.pipe)  # mid-sleep: the first wait lasts until the warning
    fresh.pipe = await api.launch(services)  # same database and executor: DBOS recovers it

    outcome = await (await DBOS.retrieve_workflow_async(lifetime_id(view.id))).get_result()
    assert outcome == "torn_down"
    gone = await fresh.row(view.id)
    assert gone.state == "torn_down" and gone.ended_at is not None
    assert gone.ended_at >= row.expires_at  # on time: never before it was due
    assert gone.ended_at - row.expires_at < timedelta(seconds=20)
    assert fresh.looks(view) > looks  # the recovered workflow looked again before acting
    tools = [tool for tool, _ in await _audit_tools(fresh, user, thread)]
    assert tools == ["endpoint_expiry_warning", "endpoint_auto_teardown"]


async def test_an_endpoint_that_reaches_its_cost_cap_is_torn_down_at_once(fresh: World) -> None:
    """Nobody reads the deployment: the lifetime's own looks accrue its running cost (one
    idle worker bills), and the look that sees it reach the cap warns and tears it down."""
    clock = ManualClock()
    fresh.use(clock=clock)
    fresh.stack.runpod.state.clock = clock  # RunPod bills its worker on the same clock
    user, thread = await fresh.new_user()
    start = clock.now
    await fresh.vault.limits.lower_own(user, deployment_cap_usd=0.25)
    view = await fresh.deploy(user, thread)
    rate = cost.usd_per_worker_second(view)
    assert view.cost_cap_usd == 0.25 and rate > 0
    to_cap = timedelta(seconds=0.25 / rate)
    assert timedelta(minutes=10) < to_cap < timedelta(hours=1, minutes=30)  # before idle

    clock.advance(seconds=to_cap.total_seconds() - 300)  # 5 min short of the cap
    row = await until(lambda: _accrued(fresh, view.id, clock.now), "a look to accrue")
    assert row.state == "ready" and row.warned_at is None
    assert row.cost_usd == pytest.approx((clock.now - start).total_seconds() * rate)

    clock.advance(minutes=6)
    with pytest.raises(LifetimeError, match=r"cost cap of \$0\.25 .*ask an admin to raise"):
        await extend(fresh.pipe.services, user, view.id)  # the cap cannot be put off
    outcome = await (await DBOS.retrieve_workflow_async(lifetime_id(view.id))).get_result()
    assert outcome == "torn_down"
    gone = await fresh.row(view.id)
    assert gone.state == "torn_down" and gone.endpoint_id not in fresh.stack.runpod.state.endpoints
    assert gone.cost_usd >= 0.25 and gone.ended_at == clock.now

    audit = await _audit_tools(fresh, user, thread)
    assert [tool for tool, _ in audit] == ["endpoint_expiry_warning", "endpoint_auto_teardown"]
    assert "stops by itself now: cost cap of $0.25 reached" in audit[0][1]
    assert "torn down automatically (cost cap of $0.25 reached)" in audit[1][1]
    chat = await _chat(fresh, thread)
    assert any("stops by itself now: cost cap of $0.25 reached" in text for text in chat)


async def _accrued(world: World, deployment_id: str, to: datetime) -> DeploymentView | None:
    row = await world.row(deployment_id)
    return row if row.cost_accrued_to == to else None
