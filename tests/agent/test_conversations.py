"""Per-thread agent history on SQLite and PostgreSQL, through pydantic-ai's own store logic."""

from __future__ import annotations

import pytest
from pydantic_ai import Agent
from pydantic_ai.conversation import Conversation
from pydantic_ai.conversation_store import ConversationConflict
from pydantic_ai.messages import ModelMessagesTypeAdapter
from pydantic_ai.models.test import TestModel
from sqlalchemy import func, select

from vault import REDACTOR, Vault
from vault.conversations import EntryRow, SqlConversationStore

SECRET = "hf_ConversationRedaction0123456789abcdefXY"


async def entries(vault: Vault) -> int:
    async with vault.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(EntryRow)) or 0)


async def test_a_thread_is_saved_appended_and_resumed(vault: Vault) -> None:
    store = SqlConversationStore(vault.sessions)
    agent = Agent(TestModel(custom_output_text="fine"))
    first = await agent.run("one", conversation=Conversation(conversation_id="thread-a"))
    await store.save(first, scope="ann")
    assert await entries(vault) == 2

    loaded = await store.load("thread-a", scope="ann")
    assert loaded is not None and loaded.messages == first.all_messages()
    second = await agent.run("two", conversation=loaded)
    await store.save(second, scope="ann")
    assert await entries(vault) == 4  # appended, never rewritten

    again = await store.load("thread-a")
    assert again is not None and len(again.messages) == 4
    assert again.usage.requests == 2
    window = await store.load("thread-a", limit=2)
    assert window is not None and window.messages == again.messages[-2:]
    assert await store.load("thread-a", scope="bob") is None  # someone else's thread
    assert [r.conversation_id for r in await store.read_records(scope="ann")] == ["thread-a"]

    # Two instances that loaded the same revision: the second save must not overwrite.
    stale = await store.load("thread-a")
    assert stale is not None
    await store.save(await agent.run("three", conversation=again))
    with pytest.raises(ConversationConflict):
        await store.save(await agent.run("four", conversation=stale))

    latest = await store.load("thread-a")
    assert latest is not None and latest.revision is not None
    await store.delete("thread-a")
    assert await store.load("thread-a") is None and await entries(vault) == 0


async def test_history_never_stores_a_known_key(vault: Vault) -> None:
    REDACTOR.register(SECRET)
    try:
        store = SqlConversationStore(vault.sessions)
        run = await Agent(TestModel(custom_output_text=f"echo {SECRET}")).run(
            "hello", conversation=Conversation(conversation_id="thread-b")
        )
        await store.save(run, scope="ann")
    finally:
        REDACTOR.clear()
    loaded = await store.load("thread-b")
    assert loaded is not None
    dumped = ModelMessagesTypeAdapter.dump_json(loaded.messages).decode()
    assert SECRET not in dumped and "echo [REDACTED]" in dumped
