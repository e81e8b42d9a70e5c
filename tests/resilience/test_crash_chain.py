"""SIGKILL at every step boundary of the deployment workflow, restart, and the deployment
ends complete with exactly one of each resource.

One deployment is killed at each boundary in turn and restarted each time (DBOS recovers
it from its last recorded step): before each provider call of a step (the step has not
acted) and after each create or job (the provider acted; the step's output was never
recorded, so the step runs again and must find what it made). Eight processes, seven
kills, one deployment; then the checks: ready, one template, one endpoint, each created
once, the record naming both.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from tests.conftest import need_service, new_master_key
from tests.fakes.all import FakeStack
from tests.fakes.huggingface import DEFAULT_TOKEN
from tests.fakes.runpod import DEFAULT_KEY
from tests.pipeline.fakes import DeployRunPodFake
from tests.resilience.killswitch import KillSwitch, Point
from tests.resilience.processes import Host, host_env
from tests.services import postgres
from vault import Settings, Vault
from vault.deployments import DeploymentStore

BOUNDARIES = [
    Point("runpod", "POST /v2/templates", "before"),  # inside the template step
    Point("runpod", "POST /v2/templates", "after"),  # created, the step not recorded
    Point("runpod", "GET /v2/serverless", "before"),  # between the template and endpoint steps
    Point("runpod", "POST /v2/serverless", "after"),  # created, the step not recorded
    Point("runpod", "GET /v2/serverless/{id}/workers", "after"),  # while waiting for workers
    Point("runpod_jobs", "POST /v2/{endpoint_id}/runsync", "before"),  # ready, smoke test next
    Point("runpod_jobs", "POST /v2/{endpoint_id}/runsync", "after"),  # the job ran, not recorded
]


@pytest.fixture(params=["sqlite", "postgres"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'kriptik.db'}"
        return
    if not await postgres.available():
        need_service("PostgreSQL", 'run `eval "$(scripts/start-postgres.sh)"`')
    async with postgres.fresh_database() as url:
        yield url


async def test_a_kill_at_every_step_boundary_still_ends_with_one_of_each(
    tmp_path: Path, database_url: str
) -> None:
    stack = FakeStack(runpod=DeployRunPodFake()).start()
    switch = KillSwitch({"runpod": stack.runpod, "runpod_jobs": stack.runpod_jobs}, BOUNDARIES)
    try:
        settings = Settings(
            home=tmp_path / "home", database_url=database_url,
            master_key=SecretStr(new_master_key()), **stack.settings_fields(),
        )  # fmt: skip
        vault = await Vault.open(settings)
        user = await vault.users.create("crash", SecretStr("correct-horse-battery"))
        await vault.credentials.add(user.id, "runpod", SecretStr(DEFAULT_KEY))
        await vault.credentials.add(user.id, "huggingface", SecretStr(DEFAULT_TOKEN))
        env = host_env(settings)

        host = await Host.start(env, "local", "deploy", user.id)
        deployment_id = ""
        for n, point in enumerate(BOUNDARIES):
            switch.pid = host.proc.pid
            assert (await host.next())["launched"]
            fired = asyncio.to_thread(switch.fired[n].wait, 120)
            assert await fired, f"the run never reached {point}"
            assert await host.proc.wait() == -signal.SIGKILL
            if not deployment_id:
                [view] = await DeploymentStore(vault.sessions).list(user.id)
                deployment_id = view.id
            host = await Host.start(env, "local", "recover", deployment_id)
        assert (await host.next())["launched"]
        assert await host.next() == {"outcome": "ready"}
        assert await host.proc.wait() == 0

        record = await DeploymentStore(vault.sessions).get(deployment_id, user_id=user.id)
        await vault.close()
    finally:
        switch.remove()
        stack.stop()
    runpod = stack.runpod
    assert record.state == "ready"
    templates = [t for t in runpod.state.templates.values() if t["name"] == record.name]
    endpoints = [e for e in runpod.state.endpoints.values() if e.data["name"] == record.name]
    assert [t["id"] for t in templates] == [record.template_id]
    assert [e.data["id"] for e in endpoints] == [record.endpoint_id]
    assert len(runpod.calls_to("POST /v2/templates")) == 1  # the kill before it never arrived
    assert len(runpod.calls_to("POST /v2/serverless")) == 1
    stack.assert_clean()
