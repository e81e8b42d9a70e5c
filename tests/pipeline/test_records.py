"""Deployment records on SQLite and PostgreSQL: owner isolation, per-user caps (also under
concurrent requests), the fields the pipeline may change, the migration, and where DBOS
keeps its system database."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from pydantic import SecretStr
from sqlalchemy import inspect as sa_inspect

from tools.pipeline.api import dbos_config, system_database_url
from vault import Vault
from vault.deployments import (
    DeploymentCapReached,
    DeploymentCaps,
    DeploymentNotFound,
    DeploymentRecord,
    DeploymentStore,
)
from vault.models import utcnow

FIELDS = {"repo_id": "org/m", "revision": "a" * 40, "kind": "vllm", "name": "kriptik-m"}


async def _user(vault: Vault, name: str) -> str:
    return (await vault.users.create(name, SecretStr("correct-horse-1"))).id


async def test_records_belong_to_their_owner(vault: Vault) -> None:
    store = DeploymentStore(vault.sessions)
    alice, bob = await _user(vault, "alice"), await _user(vault, "bob")
    view = await store.create(
        alice, caps=DeploymentCaps(max_live=2, max_workers=3, max_gpus=2), thread_id="t", **FIELDS
    )
    await store.update(view.id, endpoint_id="ep123", state="ready")
    assert (await store.find(alice, "ep123")).id == view.id
    assert (await store.find(alice, view.id)).endpoint_id == "ep123"
    with pytest.raises(DeploymentNotFound):
        await store.find(bob, "ep123")
    with pytest.raises(DeploymentNotFound):
        await store.get(view.id, user_id=bob)
    assert await store.list(bob) == []
    assert [v.id for v in await store.list(alice, live_only=True)] == [view.id]


async def test_caps_count_live_deployments_only(vault: Vault) -> None:
    store = DeploymentStore(vault.sessions)
    user = await _user(vault, "carol")
    caps = DeploymentCaps(max_live=1, max_workers=2, max_gpus=1)
    first = await store.create(user, caps=caps, **FIELDS)
    with pytest.raises(DeploymentCapReached, match="tear one down first"):
        await store.create(user, caps=caps, **FIELDS)
    roomy = DeploymentCaps(max_live=5, max_workers=2, max_gpus=1)
    with pytest.raises(DeploymentCapReached, match="your limit is 2 per endpoint"):
        await store.create(user, caps=roomy, workers_max=3, **FIELDS)
    with pytest.raises(DeploymentCapReached, match="needs 2 GPUs per worker and your limit is 1"):
        await store.create(user, caps=roomy, gpu_count=2, **FIELDS)
    await store.update(first.id, state="torn_down")
    await store.create(user, caps=caps, **FIELDS)  # room again


async def test_concurrent_creates_cannot_both_pass_the_cap(vault: Vault) -> None:
    store = DeploymentStore(vault.sessions)
    user = await _user(vault, "dave")
    caps = DeploymentCaps(max_live=1, max_workers=3, max_gpus=2)
    results = await asyncio.gather(
        *(store.create(user, caps=caps, **FIELDS) for _ in range(4)), return_exceptions=True
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert len(await store.list(user)) == 1


async def test_only_pipeline_fields_change_and_cost_adds_up(vault: Vault) -> None:
    store = DeploymentStore(vault.sessions)
    view = await store.create(
        await _user(vault, "erin"),
        caps=DeploymentCaps(max_live=2, max_workers=3, max_gpus=2),
        **FIELDS,
    )
    with pytest.raises(ValueError, match="not updatable: user_id"):
        await store.update(view.id, user_id="someone-else")
    # Cost adds up through the accrual's compare-and-set, each step from where the last
    # one counted to (tools.pipeline.cost; overlapping pollers: test_running_cost.py).
    start = utcnow()
    for step in range(4):
        counted_to = None if step == 0 else start + timedelta(minutes=step - 1)
        to = start + timedelta(minutes=step)
        assert await store.accrue_cost(view.id, 0.25, expected=counted_to, to=to)
    assert (await store.get(view.id, user_id=None)).cost_usd == pytest.approx(1.0)


async def test_the_migration_matches_the_table(vault: Vault) -> None:
    def columns(connection: object) -> dict[str, bool]:
        found = sa_inspect(connection).get_columns("deployments")  # type: ignore[arg-type]
        return {c["name"]: bool(c["nullable"]) for c in found}

    async with vault.engine.connect() as conn:
        migrated = await conn.run_sync(columns)
    declared = {c.name: bool(c.nullable) for c in DeploymentRecord.__table__.columns}
    assert migrated == declared


def test_the_system_database_follows_the_app_database(tmp_path: object) -> None:
    assert system_database_url("sqlite+aiosqlite:////data/kriptik.db") == (
        "sqlite:////data/kriptik-dbos.sqlite"
    )
    assert system_database_url("postgresql+asyncpg://u:p@db:5432/kriptik") == (
        "postgresql://u:p@db:5432/kriptik"
    )
    with pytest.raises(ValueError, match="file-backed"):
        system_database_url("sqlite+aiosqlite:///:memory:")
    config = dbos_config("postgres://u@h/k")
    assert config["application_version"] == "kriptik-pipeline-2"  # set, never a code hash
    assert config["system_database_url"] == "postgresql://u@h/k"
