"""The chat's writes keep up when many sessions talk at once, so an instance that dies
loses no more than the writes under way.

Chainlit persists every message and step in fire-and-forget tasks. The data layer orders
them so that they land as they were made; ordering them across the whole process (one
lock for every session) made every session's writes queue behind every other's: with 50
sessions on one instance, most of the user messages of the last minute were still queued
in memory when the load test killed it, and the users who reopened their thread on the
other instance did not find them. Ordering is needed only within a session.

On PostgreSQL, for real: another connection holds one thread's row, so that session's
step write waits in the database; another session's write goes through meanwhile, and
each session's own writes still land in the order they were made.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from chainlit.context import init_http_context
from pydantic import SecretStr
from sqlalchemy import text

from tests.conftest import new_master_key
from ui.web.data_layer import ChatDataLayer
from vault import Settings, Vault

CREATED = "2026-12-07T12:00:00.000001Z"


@pytest.fixture
async def vault(database: str, tmp_path: Path) -> AsyncIterator[Vault]:
    opened = await Vault.open(Settings(
        home=tmp_path, database_url=database, master_key=SecretStr(new_master_key())
    ))  # fmt: skip
    yield opened
    await opened.close()


def _step(step_id: str, thread_id: str, output: str) -> Any:
    return {"id": step_id, "threadId": thread_id, "name": "KripTik AI", "type": "assistant_message",
            "output": output, "input": "", "createdAt": CREATED}  # fmt: skip


async def _session(layer: ChatDataLayer, name: str, thread_id: str) -> None:
    """A user's chat session (its own Chainlit context) and its thread."""
    user = await layer.get_user(name)
    assert user is not None
    init_http_context(user=user)
    await layer.update_thread(thread_id, user_id=user.id)


async def test_one_sessions_slow_write_does_not_hold_up_anothers(vault: Vault) -> None:
    layer = ChatDataLayer(lambda: vault)
    for name in ("ann", "bob"):
        await vault.users.create(name, SecretStr("a-long-password-1"))
    holding, release = asyncio.Event(), asyncio.Event()

    async def ann() -> None:
        await _session(layer, "ann", "t-ann")
        async with vault.engine.connect() as other:  # another writer holds Ann's thread
            await other.execute(text("SELECT id FROM chat_threads WHERE id = 't-ann' FOR UPDATE"))
            holding.set()
            # As Chainlit writes: tasks made in order, none awaited.
            first = asyncio.create_task(layer.create_step(_step("a1", "t-ann", "first")))
            second = asyncio.create_task(layer.update_step(_step("a1", "t-ann", "second")))
            await release.wait()
            await other.rollback()
        await asyncio.gather(first, second)

    async def bob() -> bool:
        """Whether Bob's write went through while Ann's waited."""
        await _session(layer, "bob", "t-bob")
        await holding.wait()
        try:
            await asyncio.wait_for(layer.create_step(_step("b1", "t-bob", "hello")), 10)
            return True
        except TimeoutError:
            return False
        finally:
            release.set()

    _, went_through = await asyncio.wait_for(asyncio.gather(ann(), bob()), 60)
    assert went_through, "Bob's write waited for Ann's"
    ann_thread, bob_thread = await layer.get_thread("t-ann"), await layer.get_thread("t-bob")
    assert ann_thread is not None and bob_thread is not None
    assert [s.get("output") for s in bob_thread["steps"]] == ["hello"]
    assert [s.get("output") for s in ann_thread["steps"]] == ["second"]  # in the order made
