"""An instance that dies for good mid-deployment: another instance finishes it, exactly once.

1. `InstanceWatch` (`tools.pipeline.takeover`), on SQLite and PostgreSQL with a counted
   recovery: two survivors looking at once take each dead instance over once; an instance
   presumed dead while alive registers again at its next beat.
2. Real processes on one PostgreSQL database (`tests.resilience.host`), with short
   heartbeat settings: instance A starts a deployment and is SIGKILLed while it waits for
   its workers; B and C start together; one of them claims A and DBOS runs A's workflow
   on one of them to the end, with one template and one endpoint at the RunPod fake. A,
   started again under its own id, finds nothing of its own left to recover. The test
   waits on the processes' lines and the fake's state, never on time.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import text

from tests.conftest import new_master_key
from tests.pipeline.fakes import DeployRunPodFake
from tests.resilience.processes import Host, host_env
from tools.pipeline.takeover import InstanceWatch
from tools.simulator.all import FakeStack
from tools.simulator.huggingface import DEFAULT_TOKEN
from tools.simulator.runpod import DEFAULT_KEY
from vault import Settings, Vault
from vault.instances import InstanceStore

T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
# Short enough for a test, long enough that a busy CI machine never misses three beats.
FAST = {"KRIPTIK_HEARTBEAT_INTERVAL_S": "0.5", "KRIPTIK_INSTANCE_TIMEOUT_S": "3"}


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def _watch(store: InstanceStore, name: str, clock: Clock, recovered: list[str]) -> InstanceWatch:
    async def recover(executor_id: str) -> int:
        recovered.append(executor_id)
        return 0

    return InstanceWatch(
        store, instance_id=name, interval_s=15, timeout_s=90, clock=clock, recover=recover
    )


async def test_two_survivors_take_a_dead_instance_over_once(
    vault: Vault, settings: Settings
) -> None:
    other = await Vault.open(settings)
    clock, recovered = Clock(), list[str]()
    try:
        dead = _watch(InstanceStore(vault.sessions), "a", clock, recovered)
        b = _watch(InstanceStore(vault.sessions), "b", clock, recovered)
        c = _watch(InstanceStore(other.sessions), "c", clock, recovered)
        for watch in (dead, b, c):
            await watch.register()
        clock.now += timedelta(seconds=60)
        await asyncio.gather(b.beat(), c.beat())  # a says nothing more
        assert await asyncio.gather(b.take_over(), c.take_over()) == [[], []]
        clock.now += timedelta(seconds=31)  # a: 91 s silent; b and c: 31 s
        took = await asyncio.gather(b.take_over(), c.take_over())
        assert sorted(took) == [[], ["a"]] and recovered == ["a"]
        [row] = [r for r in await InstanceStore(vault.sessions).list() if r.instance_id == "a"]
        assert row.claimed_by in {"b", "c"} and row.recovered_at == clock.now
        await dead.beat()  # a was alive after all: it registers a fresh epoch
        assert await asyncio.gather(b.take_over(), c.take_over()) == [[], []]
        assert recovered == ["a"]
    finally:
        await other.close()


# ---- real processes on PostgreSQL ---------------------------------------------------------


@pytest.fixture(scope="module")
def stack() -> Iterator[FakeStack]:
    running = FakeStack(runpod=DeployRunPodFake()).start()
    yield running
    running.stop()


async def _workflow(vault: Vault, deployment_id: str) -> tuple[str, str]:
    async with vault.engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT status, executor_id FROM dbos.workflow_status WHERE workflow_uuid = :id"
                ),
                {"id": deployment_id},
            )
        ).one()
    return str(row[0]), str(row[1])


def _as(env: dict[str, str], instance_id: str) -> dict[str, str]:
    """An instance's environment: its id (the executor id it runs under) in its settings."""
    return env | {"KRIPTIK_INSTANCE_ID": instance_id}


async def _deploy_then_die(env: dict[str, str], user_id: str, runpod: DeployRunPodFake) -> str:
    """Instance A starts a deployment and is killed for good while it waits for workers."""
    runpod.hold()
    a = await Host.start(_as(env, "inst-a"), "inst-a", "deploy", user_id)
    try:
        assert (await a.next())["launched"]
        deployment_id = (await a.next())["deployment_id"]
        assert await asyncio.to_thread(runpod.polled.wait, 120)
    finally:
        await a.kill()
    assert a.proc.returncode == -signal.SIGKILL
    return deployment_id


async def test_a_survivor_finishes_a_dead_instances_deployment_exactly_once(
    database: str, stack: FakeStack, tmp_path: Path
) -> None:
    runpod = stack.runpod
    assert isinstance(runpod, DeployRunPodFake)
    settings = Settings(
        home=tmp_path, database_url=database, master_key=SecretStr(new_master_key()),
        **stack.settings_fields(),
    )  # fmt: skip
    vault = await Vault.open(settings)
    hosts: list[Host] = []
    try:
        user = (await vault.users.create("ann", SecretStr("correct-horse-9"))).id
        await vault.credentials.add(user, "runpod", SecretStr(DEFAULT_KEY))
        await vault.credentials.add(user, "huggingface", SecretStr(DEFAULT_TOKEN))
        env = host_env(settings) | FAST
        deployment_id = await _deploy_then_die(env, user, runpod)
        assert await _workflow(vault, deployment_id) == ("PENDING", "inst-a")

        # B and C start together; neither is told about A: they find it silent.
        for name in ("inst-b", "inst-c"):
            hosts.append(await Host.start(_as(env, name), name, "recover", deployment_id))
        for host in hosts:
            assert (await host.next())["launched"]
        runpod.release()
        for host in hosts:
            assert await host.next() == {"outcome": "ready"}
            assert await host.proc.wait() == 0

        status, executor = await _workflow(vault, deployment_id)
        assert status == "SUCCESS" and executor in {"inst-b", "inst-c"}
        rows = {r.instance_id: r for r in await InstanceStore(vault.sessions).list()}
        assert rows["inst-a"].claimed_by in {"inst-b", "inst-c"} and rows["inst-a"].recovered_at
        assert len(runpod.state.templates) == 1 and len(runpod.state.endpoints) == 1
        assert len(runpod.calls_to("POST /v2/templates")) == 1
        assert len(runpod.calls_to("POST /v2/serverless")) == 1

        # A comes back under its own id: a fresh epoch, and nothing of its own to recover.
        again = await Host.start(_as(env, "inst-a"), "inst-a", "recover", deployment_id)
        hosts.append(again)
        assert (await again.next())["launched"]
        assert await again.next() == {"outcome": "ready"}
        assert await again.proc.wait() == 0
        assert await _workflow(vault, deployment_id) == (status, executor)
        [back] = [
            r for r in await InstanceStore(vault.sessions).list() if r.instance_id == "inst-a"
        ]
        assert back.claimed_by is None
        assert len(runpod.calls_to("POST /v2/serverless")) == 1
    finally:
        for host in hosts:
            await host.kill()
        await vault.close()
