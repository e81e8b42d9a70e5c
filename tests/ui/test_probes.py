"""The chat app's probes (`ui.web.probes`): `/readyz` with the real engine and the real
workflow engine, on SQLite and PostgreSQL, going 503 when the PostgreSQL database stops
and back to 200 when it returns; and both routes served by `kriptik serve` itself, with
no login, while its logs come out as JSON lines."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.engine import make_url

from tests.conftest import need_service, new_master_key
from tests.pipeline.launched import launched_pipeline
from tests.services import postgres
from tests.services.kriptik import serve
from tools.pipeline.handle import PipelineHandle
from tools.pipeline.readiness import engine_check
from tools.pipeline.services import Timings
from ui.root import Root
from ui.web.probes import liveness, readiness
from vault import Settings, Vault
from vault.migrations import HEAD


def _body(response: Any) -> dict[str, Any]:
    return json.loads(bytes(response.body))


async def test_liveness_answers_without_anything() -> None:
    response = await liveness()
    assert response.status_code == 200 and _body(response) == {"status": "ok"}
    assert response.headers["cache-control"] == "no-store"


async def test_not_ready_before_start_up_has_built_the_root() -> None:
    response = await readiness(None)
    assert response.status_code == 503
    body = _body(response)
    assert body["status"] == "not ready"
    assert set(body["checks"]) == {"database", "migrations", "workflow_engine"}


async def test_the_engine_check_follows_the_pipeline_handle() -> None:
    assert engine_check(PipelineHandle()).detail.startswith("not running")
    launch: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    starting = PipelineHandle.launching(launch)
    assert (engine_check(starting).ok, engine_check(starting).detail) == (False, "still starting")
    launch.set_result(None)  # a launch that failed resolves to None
    assert not engine_check(starting).ok and "did not start" in engine_check(starting).detail


@pytest.fixture
async def root(settings: Settings) -> AsyncIterator[Root]:
    """The app's composition root over the test's database, with no pipeline yet."""
    vault = await Vault.open(settings)
    http = httpx.AsyncClient(trust_env=False)
    yield Root(settings, vault, http)
    await http.aclose()
    await vault.close()


async def test_ready_once_the_workflow_engine_has_started(root: Root) -> None:
    waiting = await readiness(root)
    assert waiting.status_code == 503
    checks = _body(waiting)["checks"]
    assert checks["database"]["ok"] and checks["migrations"] == {"ok": True, "detail": f"at {HEAD}"}
    assert not checks["workflow_engine"]["ok"]
    async with launched_pipeline(root.settings, root.vault, root.http, timings=Timings()) as pipe:
        root.pipeline = PipelineHandle.of(pipe)
        ready = await readiness(root)
        assert ready.status_code == 200
        assert _body(ready)["status"] == "ready"
    root.pipeline = PipelineHandle()


async def _admin() -> asyncpg.Connection:
    assert postgres.ADMIN_URL
    url = make_url(postgres.ADMIN_URL).set(drivername="postgresql")
    return await asyncpg.connect(url.render_as_string(hide_password=False))


async def _allow_connections(database: str, allowed: bool) -> None:
    """Open or close a database to new connections; closing also ends the ones it has (the
    shared server itself keeps running)."""
    admin = await _admin()
    try:
        await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS {str(allowed).lower()}')
        if not allowed:
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = $1 AND pid <> pg_backend_pid()",
                database,
            )
    finally:
        await admin.close()


async def test_not_ready_while_the_database_is_down_and_ready_again_after(tmp_path: Path) -> None:
    if not await postgres.available():
        need_service("PostgreSQL", 'run `eval "$(scripts/start-postgres.sh)"`')
    async with postgres.fresh_database() as url:
        name = make_url(url).database
        assert name
        settings = Settings(
            home=tmp_path / "home", database_url=url, master_key=SecretStr(new_master_key())
        )
        vault = await Vault.open(settings)
        try:
            async with httpx.AsyncClient(trust_env=False) as http:
                await _stop_and_return(Root(settings, vault, http), name)
        finally:
            await vault.close()


async def _stop_and_return(root: Root, name: str) -> None:
    """Ready, then not ready while database `name` takes no connections, then ready."""
    async with launched_pipeline(root.settings, root.vault, root.http, timings=Timings()) as pipe:
        root.pipeline = PipelineHandle.of(pipe)
        assert (await readiness(root)).status_code == 200
        await _allow_connections(name, False)
        try:
            down = await readiness(root, timeout_s=5)
        finally:
            await _allow_connections(name, True)
        assert down.status_code == 503
        checks = _body(down)["checks"]
        assert not checks["database"]["ok"] and not checks["migrations"]["ok"]
        assert checks["workflow_engine"]["ok"]
        text = bytes(down.body).decode()
        assert name not in text and "postgres" not in text.lower()
        assert (await readiness(root)).status_code == 200


# What Chainlit's text format would look like (`chainlit.cli`'s `basicConfig`).
_TEXT_LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d - (DEBUG|INFO|WARNING|ERROR) - ")


def test_served_probes_need_no_login_and_logs_are_json(tmp_path: Path) -> None:
    with serve(tmp_path / "home", KRIPTIK_LOG_FORMAT="json") as server:
        other_site = {"Origin": "https://elsewhere.example"}  # a GET passes the guard
        live = httpx.get(f"{server.url}/healthz", headers=other_site, timeout=30)
        assert live.status_code == 200 and live.json() == {"status": "ok"}
        deadline = time.monotonic() + 120
        while (ready := httpx.get(f"{server.url}/readyz", timeout=30)).status_code != 200:
            assert ready.status_code == 503, ready.text  # starting: the engine, not an error
            assert time.monotonic() < deadline, ready.text
            time.sleep(0.1)  # polling the server's readiness state, not a fixed wait
        assert ready.json()["status"] == "ready"
        assert set(ready.json()["checks"]) == {"database", "migrations", "workflow_engine"}
        log = server.log()
    records = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert any(record["logger"] == "chainlit" for record in records), log
    assert not [line for line in log.splitlines() if _TEXT_LOG_LINE.match(line)], log
