"""Chainlit's data layer over our tables: the dict shapes Chainlit expects, and the
guards it does not have (ownership, a metadata allow-list, masking of pasted keys)."""

from __future__ import annotations

from typing import Any

import chainlit as cl
from chainlit.context import init_http_context
from chainlit.types import Feedback, Pagination, ThreadFilter
from chainlit.user import PersistedUser
from pydantic import SecretStr

from ui.web.data_layer import ChatDataLayer
from vault import Vault

CREATED = "2026-11-27T12:00:00.000001Z"


async def _login(vault: Vault, layer: ChatDataLayer, name: str) -> PersistedUser:
    await vault.users.create(name, SecretStr("a-long-password-1"))
    user = await layer.get_user(name)
    assert user is not None
    init_http_context(user=user)  # the session the writes come from
    return user


def _step(step_id: str, thread_id: str, **fields: Any) -> Any:
    return {"id": step_id, "threadId": thread_id, "name": "KripTik AI", "type": "assistant_message",
            "output": "", "input": "", "createdAt": CREATED, "showInput": "json"} | fields  # fmt: skip


async def test_users_are_ours_and_never_created_from_a_token(vault: Vault) -> None:
    layer = ChatDataLayer(lambda: vault)
    alice = await _login(vault, layer, "alice")
    assert alice.identifier == "alice" and alice.metadata == {"id": alice.id, "role": "user"}
    assert await layer.create_user(cl.User(identifier="mallory")) is None
    assert await layer.get_user("mallory") is None


async def test_a_thread_round_trips_in_chainlit_shapes(vault: Vault) -> None:
    layer = ChatDataLayer(lambda: vault)
    alice = await _login(vault, layer, "alice")
    await layer.update_thread("t1", name="custom_element", user_id=alice.id)  # not a name
    await layer.update_thread("t1", name="Deploy   Qwen\n" + "x" * 200)
    await layer.create_step(
        _step("s1", "t1", type="tool", name="Inspected a/b", output="done", showInput=False)
    )
    await layer.update_step(
        _step("s1", "t1", type="tool", name="Inspected a/b", output="", showInput=False)
    )
    await layer.create_step(_step("s2", "t1", output="Hello"))
    assert await layer.upsert_feedback(Feedback(forId="s2", value=1, threadId="t1")) != ""
    thread = await layer.get_thread("t1")
    assert thread is not None
    assert thread["name"] == "Deploy Qwen " + "x" * 68
    assert thread["userIdentifier"] == "alice" and await layer.get_thread_author("t1") == "alice"
    first, second = thread["steps"]
    assert (first["id"], first["output"], first["showInput"], first["createdAt"]) == (
        "s1",
        "done",
        False,
        CREATED,
    )
    assert second.get("feedback", {}).get("value") == 1
    page = await layer.list_threads(Pagination(first=5), ThreadFilter(userId=alice.id))
    assert [t["id"] for t in page.data] == ["t1"] and not page.pageInfo.hasNextPage
    assert (await layer.list_threads(Pagination(first=5), ThreadFilter())).data == []


async def test_only_the_allowed_session_metadata_is_stored(vault: Vault) -> None:
    layer = ChatDataLayer(lambda: vault)
    alice = await _login(vault, layer, "alice")
    await layer.update_thread("t1", user_id=alice.id, metadata={
        "chat_settings": {}, "client_type": "webapp", "env": {"OPENAI_API_KEY": "sk-leak"},
        "user": {"identifier": "alice"}, "is_shared": True, "anything": "else",
    })  # fmt: skip
    thread = await layer.get_thread("t1")
    assert thread is not None and thread["metadata"] == {
        "chat_settings": {},
        "client_type": "webapp",
    }


async def test_writes_into_someone_elses_thread_are_dropped(vault: Vault) -> None:
    layer = ChatDataLayer(lambda: vault)
    alice = await _login(vault, layer, "alice")
    await layer.update_thread("t1", name="Mine", user_id=alice.id)
    await layer.create_step(_step("s1", "t1", output="alice's"))
    bob = await _login(vault, layer, "bob")
    await layer.update_thread("t1", name="Bob's now", user_id=bob.id)
    await layer.create_step(_step("s1", "t1", output="overwritten"))
    await layer.create_step(_step("s2", "t1", output="injected"))
    await layer.create_element(
        cl.CustomElement(name="X", props={"a": 1}, for_id="s1", thread_id="t1")
    )
    thread = await layer.get_thread("t1")
    assert thread is not None
    assert thread["name"] == "Mine" and thread["userId"] == alice.id
    assert [(s["id"], s["output"]) for s in thread["steps"]] == [("s1", "alice's")]
    assert thread["elements"] == []


async def test_custom_elements_are_stored_as_props_and_files_are_not(vault: Vault) -> None:
    layer = ChatDataLayer(lambda: vault)
    alice = await _login(vault, layer, "alice")
    await layer.update_thread("t1", user_id=alice.id)
    chart = cl.CustomElement(
        name="VramChart", props={"total_gb": 17.2}, for_id="s1", thread_id="t1"
    )
    await layer.create_element(chart)
    await layer.create_element(
        cl.File(name="audit.jsonl", content=b"{}", for_id="s1", thread_id="t1")
    )
    thread = await layer.get_thread("t1")
    assert thread is not None and [(e["name"], e["props"]) for e in thread["elements"] or []] == [
        ("VramChart", {"total_gb": 17.2})
    ]
    assert (await layer.get_element("t1", chart.id) or {}).get("forId") == "s1"
    await layer.delete_element(chart.id, "t1")
    assert await layer.get_element("t1", chart.id) is None


async def test_a_key_pasted_into_the_chat_is_never_stored(vault: Vault) -> None:
    layer = ChatDataLayer(lambda: vault)
    alice = await _login(vault, layer, "alice")
    pasted = "rpa_" + "Q7x" * 14
    await layer.update_thread("t1", name=f"my key is {pasted}", user_id=alice.id)
    await layer.create_step(_step("s1", "t1", type="user_message", output=f"use {pasted}"))
    thread = await layer.get_thread("t1")
    assert thread is not None
    assert pasted not in str(thread)
