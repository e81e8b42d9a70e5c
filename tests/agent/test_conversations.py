"""Per-thread agent history on SQLite and PostgreSQL, through pydantic-ai's own store logic."""

from __future__ import annotations

import pytest
from pydantic_ai import Agent
from pydantic_ai.conversation import Conversation
from pydantic_ai.conversation_store import ConversationConflict
from pydantic_ai.messages import ModelMessagesTypeAdapter
from pydantic_ai.models.test import TestModel
from sqlalchemy import event, func, select

from agent.history import SqlConversationStore
from agent.interaction import DeclineAll
from ui.root import Root
from vault import REDACTOR, Settings, Vault
from vault.conversation_tables import EntryRow

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
    assert loaded is not None and store.hits == 1  # the cache holds what was stored
    dumped = ModelMessagesTypeAdapter.dump_json(loaded.messages).decode()
    assert SECRET not in dumped and "echo [REDACTED]" in dumped


# The cache of parsed threads (one per store, validated by the stored revision)


async def test_a_thread_saved_here_loads_from_the_cache_as_stored(vault: Vault) -> None:
    store = SqlConversationStore(vault.sessions)
    agent = Agent(TestModel(custom_output_text="fine"))
    first = await agent.run("one", conversation=Conversation(conversation_id="thread-c"))
    await store.save(first, scope="ann")

    loaded = await store.load("thread-c", scope="ann", limit=10)
    assert (store.hits, store.misses) == (1, 0)  # no entry read back, none parsed
    fresh = await SqlConversationStore(vault.sessions).load("thread-c", scope="ann", limit=10)
    assert loaded is not None and fresh is not None
    assert loaded.messages == fresh.messages and loaded.revision == fresh.revision
    assert loaded.usage == fresh.usage

    # A run may change the messages it was given; the cache keeps what was stored.
    loaded.messages[0].parts = []
    loaded.messages[-1].run_id = "changed"
    second = await agent.run("two", conversation=loaded)
    await store.save(second, scope="ann")
    again = await store.load("thread-c", scope="ann", limit=10)
    fresh = await SqlConversationStore(vault.sessions).load("thread-c", scope="ann", limit=10)
    assert again is not None and fresh is not None and len(again.messages) == 4
    assert again.messages == fresh.messages and (store.hits, store.misses) == (2, 0)
    assert await store.load("thread-c", scope="bob") is None  # scope is checked first


async def test_another_writer_makes_the_next_load_read_again(vault: Vault) -> None:
    here, there = SqlConversationStore(vault.sessions), SqlConversationStore(vault.sessions)
    agent = Agent(TestModel(custom_output_text="fine"))
    await here.save(await agent.run("one", conversation=Conversation(conversation_id="t-d")))
    stale = await here.load("t-d")  # from the cache, at the first revision
    assert stale is not None and here.hits == 1

    theirs = await there.load("t-d")
    assert theirs is not None and there.misses == 1
    two = await agent.run("two", conversation=theirs)
    await there.save(two)

    # The revision moved on: this store reads the entries again and sees their turn.
    latest = await here.load("t-d")
    assert latest is not None and here.misses == 1 and len(latest.messages) == 4
    assert latest.revision == two.conversation.revision
    # A save that continues the stale copy conflicts, and writes nothing.
    with pytest.raises(ConversationConflict):
        await here.save(await agent.run("three", conversation=stale))
    assert await entries(vault) == 4
    mine = await here.load("t-d")
    assert mine is not None and here.hits == 2  # what it read again is cached
    await here.save(await agent.run("three", conversation=mine))
    final = await there.load("t-d")
    assert final is not None and len(final.messages) == 6 and there.misses == 2


async def test_the_cache_is_bounded_and_least_recently_used_goes(vault: Vault) -> None:
    store = SqlConversationStore(vault.sessions, max_threads=2)
    agent = Agent(TestModel(custom_output_text="fine"))
    for name in ("t-1", "t-2", "t-3"):
        await store.save(await agent.run(name, conversation=Conversation(conversation_id=name)))
    assert store.cached() == (2, 4)
    assert await store.load("t-2") is not None and (store.hits, store.misses) == (1, 0)
    assert await store.load("t-1") is not None and store.misses == 1  # dropped: read again
    assert await store.load("t-3") is not None and store.misses == 2  # t-1 pushed it out
    assert await store.load("t-1") is not None and store.hits == 2
    assert store.cached() == (2, 4)

    # And at most so many messages in all: a second turn on t-1 pushes t-3 out.
    store = SqlConversationStore(vault.sessions, max_messages=5)
    assert await store.load("t-3") is not None and await store.load("t-1") is not None
    assert store.cached() == (2, 4)
    t1 = await store.load("t-1")
    assert t1 is not None
    await store.save(await agent.run("again", conversation=t1))
    assert store.cached() == (1, 4)
    assert await store.load("t-1") is not None and store.hits == 2
    assert await store.load("t-3") is not None and store.misses == 3


async def test_a_window_is_cached_and_a_longer_history_read_again(vault: Vault) -> None:
    store = SqlConversationStore(vault.sessions)
    agent = Agent(TestModel(custom_output_text="fine"))
    conversation = Conversation(conversation_id="t-w")
    for text in ("one", "two", "three"):
        result = await agent.run(text, conversation=conversation)
        await store.save(result)
        loaded = await store.load("t-w", limit=3)
        assert loaded is not None
        conversation = loaded
    assert len(conversation.messages) == 3 and store.misses == 0
    whole = await store.load("t-w")
    assert whole is not None and len(whole.messages) == 6 and store.misses == 1
    assert whole.messages[-3:] == conversation.messages

    # Branching goes through the cache too, and moves the thread off it.
    branched = await store.branch("t-w", at=2, expected_revision=whole.revision)
    assert len(branched.messages) == 2
    after = await store.load("t-w")
    assert after is not None and after.messages == whole.messages[:2]


async def test_a_turn_reads_the_record_once_and_no_entries(vault: Vault) -> None:
    store = SqlConversationStore(vault.sessions)
    agent = Agent(TestModel(custom_output_text="fine"))
    await store.save(await agent.run("one", conversation=Conversation(conversation_id="t-s")))
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(" ".join(statement.split()).upper())

    event.listen(vault.engine.sync_engine, "before_cursor_execute", seen)
    try:
        loaded = await store.load("t-s", limit=10)
        assert loaded is not None
        await store.save(await agent.run("two", conversation=loaded))
    finally:
        event.remove(vault.engine.sync_engine, "before_cursor_execute", seen)
    selects = [s for s in statements if s.startswith(("SELECT", "WITH"))]
    assert len(selects) == 1 and "FROM AGENT_CONVERSATIONS" in selects[0]  # the load's check
    assert any(s.startswith("UPDATE AGENT_CONVERSATIONS") for s in statements)
    assert await entries(vault) == 4


async def test_the_root_hands_every_turn_its_one_store(settings: Settings) -> None:
    first, second = await Root.open(settings), await Root.open(settings)  # two instances
    try:
        turns = [
            first.turn(user_id="u1", user_name="ann", thread_id=thread, interaction=DeclineAll())
            for thread in ("t-1", "t-2")
        ]
        other = second.turn(user_id="u1", user_name="ann", thread_id="t-1",
                            interaction=DeclineAll())  # fmt: skip
        assert turns[0].history is turns[1].history  # its cache outlives a turn
        assert other.history is not turns[0].history  # two roots on one database never share
    finally:
        await first.close()
        await second.close()
