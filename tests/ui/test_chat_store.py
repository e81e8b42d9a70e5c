"""The chat tables' queries (`vault.chat.ChatStore`) on SQLite and PostgreSQL: merges that
never lose an output, ownership that cannot be taken, pages, search and cascades."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pydantic import SecretStr

from vault import REDACTOR, Vault
from vault.chat import ChatStore

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


async def _user(vault: Vault, name: str) -> str:
    return (await vault.users.create(name, SecretStr("a-long-password-1"))).id


async def test_a_late_empty_write_never_wipes_a_step_output(vault: Vault) -> None:
    store = ChatStore(vault.sessions)
    await store.upsert_step(
        "s1", "t1", {"name": "Inspecting x", "type": "tool", "output": "done", "created_at": T0}
    )
    await store.upsert_step("s1", "t1", {"output": "", "input": ""})  # the send task landing late
    bundle = await store.get_thread("t1")
    assert bundle is not None
    assert [(s.id, s.output, s.name) for s in bundle.steps] == [("s1", "done", "Inspecting x")]
    await store.upsert_step("s1", "t1", {"output": "updated"})
    bundle = await store.get_thread("t1")
    assert bundle is not None and bundle.steps[0].output == "updated"


async def test_a_step_cannot_move_to_another_thread(vault: Vault) -> None:
    store = ChatStore(vault.sessions)
    assert await store.upsert_step("s1", "t1", {"output": "mine", "created_at": T0})
    assert not await store.upsert_step("s1", "t2", {"output": "hijacked"})
    bundle = await store.get_thread("t1")
    assert bundle is not None and bundle.steps[0].output == "mine"


async def test_a_thread_owned_by_one_user_cannot_be_claimed(vault: Vault) -> None:
    alice, bob = await _user(vault, "alice"), await _user(vault, "bob")
    store = ChatStore(vault.sessions)
    assert await store.update_thread("t1", name="Deploy", user_id=alice)
    assert not await store.update_thread("t1", name="Mine now", user_id=bob)
    assert await store.thread_owner("t1") == (alice, "alice")
    bundle = await store.get_thread("t1")
    assert bundle is not None and bundle.thread.name == "Deploy" and bundle.author == "alice"


async def test_metadata_merges_and_none_removes_a_key(vault: Vault) -> None:
    store = ChatStore(vault.sessions)
    await store.update_thread("t1", metadata={"chat_profile": "a", "client_type": "webapp"})
    await store.update_thread("t1", metadata={"chat_profile": None, "chat_settings": {}})
    bundle = await store.get_thread("t1")
    assert bundle is not None
    assert bundle.thread.meta == {"client_type": "webapp", "chat_settings": {}}


async def test_threads_page_newest_first_with_search(vault: Vault) -> None:
    alice, bob = await _user(vault, "alice"), await _user(vault, "bob")
    store = ChatStore(vault.sessions)
    for index in range(5):
        await store.update_thread(f"t{index}", name=f"Chat {index}", user_id=alice)
        await store.upsert_step(f"m{index}", f"t{index}", {
            "type": "user_message", "output": f"deploy model-{index}", "created_at": T0 + timedelta(minutes=index)
        })  # fmt: skip
    await store.update_thread("unnamed", user_id=alice)  # never had a first message
    await store.update_thread("other", name="Bob's", user_id=bob)
    first, more = await store.list_threads(alice, first=2)
    assert more and len(first) == 2
    second, _ = await store.list_threads(alice, first=10, cursor=first[-1].id)
    names = [t.name for t in first + second]
    assert sorted(names) == [f"Chat {i}" for i in range(5)]  # all of alice's named threads, once
    found, _ = await store.list_threads(alice, first=10, search="MODEL-3")
    assert [t.id for t in found] == ["t3"]
    assert [t.id for t in (await store.list_threads(bob, first=10))[0]] == ["other"]


async def test_feedback_needs_a_step_of_that_thread(vault: Vault) -> None:
    alice = await _user(vault, "alice")
    store = ChatStore(vault.sessions)
    await store.update_thread("t1", user_id=alice)
    await store.upsert_step("s1", "t1", {"type": "assistant_message", "created_at": T0})
    await store.update_thread("t2", user_id=alice)
    vote = {"for_id": "s1", "comment": None, "user_id": alice}
    assert await store.upsert_feedback("f1", value=1, thread_id="t2", **vote) is None
    assert await store.upsert_feedback("f1", value=1, **vote | {"comment": "good"}) == "f1"
    assert await store.upsert_feedback("f2", value=0, **vote) == "f1"  # replaced
    bundle = await store.get_thread("t1")
    assert bundle is not None and bundle.feedback["s1"].value == 0
    assert await store.delete_feedback("f1", user_id=alice)


async def test_deleting_a_thread_removes_everything_in_it(vault: Vault) -> None:
    alice = await _user(vault, "alice")
    store = ChatStore(vault.sessions)
    await store.update_thread("t1", user_id=alice)
    await store.upsert_step("s1", "t1", {"created_at": T0})
    await store.upsert_element("e1", "t1", {"for_id": "s1", "name": "VramChart", "props": {"a": 1}})
    assert await store.upsert_feedback("f1", for_id="s1", value=1, comment=None, user_id=alice)
    await store.delete_thread("t1")
    assert await store.get_thread("t1") is None
    assert await store.get_element("t1", "e1") is None


async def test_known_keys_are_masked_before_they_are_stored(vault: Vault) -> None:
    secret = "rpa_planted0SECRET0value0for0the0store0test"
    REDACTOR.register(secret)
    store = ChatStore(vault.sessions)
    await store.upsert_step(
        "s1", "t1", {"output": f"key {secret} echoed", "input": secret, "created_at": T0}
    )
    await store.update_thread("t1", name=f"pasted {secret}")
    bundle = await store.get_thread("t1")
    assert bundle is not None
    assert secret not in bundle.steps[0].output + bundle.steps[0].input + (bundle.thread.name or "")
