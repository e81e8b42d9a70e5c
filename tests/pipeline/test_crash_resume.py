"""Kill the process while a deployment waits for its workers, start it again, and the
deployment completes with exactly one template and one endpoint: on SQLite, and on
PostgreSQL (the system database follows the app database's backend)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from dbos import DBOSClient
from pydantic import SecretStr

from tests.conftest import need_service
from tests.fakes.all import FakeStack
from tests.fakes.runpod import DEFAULT_KEY
from tests.pipeline.conftest import settings_for
from tests.pipeline.fakes import DeployRunPodFake
from tests.services import postgres
from tools.pipeline.api import system_database_url
from tools.pipeline.events import PROGRESS
from vault import Settings, Vault

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["sqlite", "postgres"])
async def app_database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'kriptik.db'}"
        return
    if not await postgres.available():
        need_service("PostgreSQL", 'run `eval "$(scripts/start-postgres.sh)"`')
    async with postgres.fresh_database() as url:
        yield url


def _env(settings: Settings) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(settings.home),
        "NO_PROXY": "127.0.0.1,localhost",
        "PYTHONPATH": str(REPO),
    }
    for name, value in settings.model_dump(exclude_none=True).items():
        if name in {"home", "database_url"} or name.endswith("base_url"):
            env[f"KRIPTIK_{name.upper()}"] = str(value)
    assert settings.master_key is not None
    env["KRIPTIK_MASTER_KEY"] = settings.master_key.get_secret_value()
    return env


class Child:
    """One run of tests/pipeline/crash_child.py, read line by line."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(cls, env: dict[str, str], *args: str) -> Child:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.pipeline.crash_child",
            *args,
            cwd=REPO,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        return cls(proc)

    async def next(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout=120)
        if not line:
            err = await self.proc.stderr.read() if self.proc.stderr else b""
            raise AssertionError(f"the child ended early:\n{err.decode()[-3000:]}")
        return json.loads(line)


async def test_a_deployment_survives_sigkill_while_waiting_for_readiness(
    stack: FakeStack, tmp_path: Path, app_database: str
) -> None:
    stack.reset()
    runpod = stack.runpod
    assert isinstance(runpod, DeployRunPodFake)
    settings = settings_for(tmp_path / "home", stack, app_database)
    vault = await Vault.open(settings)
    user = await vault.users.create("crash", SecretStr("correct-horse-1"))
    await vault.credentials.add(user.id, "runpod", SecretStr(DEFAULT_KEY))
    await vault.close()
    env = _env(settings)

    runpod.hold()  # workers stay INITIALIZING: the workflow waits durably for them
    first = await Child.start(env, "start", user.id)
    assert await first.next() == {"launched": True}
    deployment_id = (await first.next())["deployment_id"]
    assert await asyncio.to_thread(runpod.polled.wait, 60)  # it is waiting for readiness
    first.proc.send_signal(signal.SIGKILL)
    assert await first.proc.wait() == -signal.SIGKILL

    client = DBOSClient(system_database_url=system_database_url(app_database))
    try:
        status = await (await client.retrieve_workflow_async(deployment_id)).get_status()
        assert status.status == "PENDING"
        runpod.release()
        second = await Child.start(env, "resume", deployment_id)
        assert await second.next() == {"launched": True}
        assert await second.next() == {"outcome": "ready"}
        assert await second.proc.wait() == 0
        events = [e async for e in client.read_stream_async(deployment_id, PROGRESS)]
    finally:
        client.destroy()

    assert len(runpod.state.templates) == 1 and len(runpod.state.endpoints) == 1
    assert len(runpod.calls_to("POST /v2/templates")) == 1
    assert len(runpod.calls_to("POST /v2/serverless")) == 1
    stages = [e["stage"] for e in events if e["kind"] == "stage"]
    assert stages == ["creating_template", "creating_endpoint", "waiting", "smoke_test"]
    assert events[-1]["kind"] == "completed"
    vault = await Vault.open(settings)
    try:
        from vault.deployments import DeploymentStore

        record = await DeploymentStore(vault.sessions).get(deployment_id, user_id=user.id)
    finally:
        await vault.close()
    assert record.state == "ready"
    assert record.endpoint_id in runpod.state.endpoints
    stack.assert_clean()
