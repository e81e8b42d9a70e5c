"""An instance's heartbeat goes on while its connection pool is busy.

Under load every connection of an instance's pool can be taken: the load test's sessions
queue on the audit chain's lock, each holding a connection while it waits. A heartbeat
that waited for one of them fell silent for 15 s and more while the instance answered
`/healthz` in under half a second, long enough, with a short timeout, for a peer to
presume it dead and run its deployments a second time. The heartbeat has a connection of
its own. On PostgreSQL (the only database instances share), with the pool of the app's
vault exhausted on purpose.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.pool import QueuePool

from tests.conftest import new_master_key
from tools.pipeline.api import _instance_watch  # pyright: ignore[reportPrivateUsage]
from tools.pipeline.services import PipelineServices
from vault import Settings, Vault
from vault.instances import InstanceStore


async def test_the_heartbeat_beats_while_every_pooled_connection_is_taken(
    database: str, tmp_path: Path
) -> None:
    settings = Settings(home=tmp_path, database_url=database, instance_id="web-a",
                        master_key=SecretStr(new_master_key()))  # fmt: skip
    vault = await Vault.open(settings)
    held: list[AsyncConnection] = []
    async with httpx.AsyncClient() as http:
        watch = _instance_watch(
            PipelineServices(settings=settings, vault=vault, http=http), "web-a"
        )
        assert watch is not None
        try:
            await watch.register()
            pool = vault.engine.pool
            assert isinstance(pool, QueuePool)
            for _ in range(pool.size() + pool._max_overflow):  # pyright: ignore[reportPrivateUsage]
                held.append(await vault.engine.connect())
            await asyncio.wait_for(watch.beat(), 10)  # would wait for a pooled connection
            await asyncio.wait_for(watch.take_over(), 10)
        finally:
            for conn in held:
                await conn.close()
            await watch.stop()
    [row] = [r for r in await InstanceStore(vault.sessions).list() if r.instance_id == "web-a"]
    assert row.last_seen > row.started_at and row.claimed_by is None
    await vault.close()
