"""Who the data layer and the /audit panel act for: feedback only from the thread's owner,
whether the caller comes from a Chainlit session or from the token an HTTP route checked;
no joining a thread id that carries another user's records; the audit panel's rows are
the caller's own."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest
from chainlit.context import init_http_context
from chainlit.types import Feedback
from chainlit.user import PersistedUser
from pydantic import SecretStr

from tests.ui.audit_panel import capture_audit_panel
from ui.web import reports
from ui.web.data_layer import ChatDataLayer
from vault import Vault

T = TypeVar("T")


async def _user(vault: Vault, layer: ChatDataLayer, name: str) -> PersistedUser:
    await vault.users.create(name, SecretStr("a-long-password-1"))
    user = await layer.get_user(name)
    assert user is not None
    return user


async def _as(user: PersistedUser, call: Callable[[], Awaitable[T]]) -> T:
    """Run `call` in a fresh task whose Chainlit session is `user`'s (a socket event)."""

    async def run() -> T:
        init_http_context(user=user)
        return await call()

    return await asyncio.create_task(run(), context=contextvars.Context())


async def _over_http(
    layer: ChatDataLayer, token_of: str | None, call: Callable[[], Awaitable[T]]
) -> T:
    """Run `call` the way a Chainlit HTTP route does: no Chainlit context, after the login
    dependency looked the token's user up (`authenticate_user` -> `get_user`)."""

    async def run() -> T:
        if token_of is not None:
            await layer.get_user(token_of)
        return await call()

    return await asyncio.create_task(run(), context=contextvars.Context())


async def _alices_thread(vault: Vault, layer: ChatDataLayer) -> tuple[PersistedUser, str]:
    alice = await _user(vault, layer, "alice")

    async def start() -> str:
        await layer.update_thread("t1", name="Deploy", user_id=alice.id)
        step: Any = {"id": "s1", "threadId": "t1", "type": "assistant_message", "output": "Hi"}
        await layer.create_step(step)
        return await layer.upsert_feedback(Feedback(forId="s1", value=1, threadId="t1"))

    feedback_id = await _as(alice, start)
    assert feedback_id
    return alice, feedback_id


async def _vote(layer: ChatDataLayer) -> int | None:
    thread = await layer.get_thread("t1")
    assert thread is not None
    feedback = thread["steps"][0].get("feedback")
    return None if feedback is None else feedback.get("value")


async def test_feedback_is_given_and_removed_only_by_the_threads_owner(vault: Vault) -> None:
    layer = ChatDataLayer(lambda: vault)
    alice, feedback_id = await _alices_thread(vault, layer)
    bob = await _user(vault, layer, "bob")
    vote = Feedback(forId="s1", value=0, threadId="t1", comment="bob was here")
    assert await _as(bob, lambda: layer.upsert_feedback(vote)) == ""
    assert await _as(bob, lambda: layer.delete_feedback(feedback_id)) is False
    assert await _vote(layer) == 1
    assert await _as(alice, lambda: layer.delete_feedback(feedback_id)) is True
    assert await _vote(layer) is None


async def test_feedback_over_http_acts_for_the_authenticated_user(vault: Vault) -> None:
    layer = ChatDataLayer(lambda: vault)
    _, feedback_id = await _alices_thread(vault, layer)
    await _user(vault, layer, "bob")
    vote = Feedback(forId="s1", value=0, threadId="t1")
    assert await _over_http(layer, "bob", lambda: layer.upsert_feedback(vote)) == ""
    assert await _over_http(layer, None, lambda: layer.upsert_feedback(vote)) == ""  # nobody
    assert not await _over_http(layer, "bob", lambda: layer.delete_feedback(feedback_id))
    assert not await _over_http(layer, "mallory", lambda: layer.delete_feedback(feedback_id))
    assert await _vote(layer) == 1
    assert await _over_http(layer, "alice", lambda: layer.upsert_feedback(vote)) == feedback_id
    assert await _vote(layer) == 0


async def test_a_thread_id_on_another_users_records_cannot_be_joined(vault: Vault) -> None:
    """Chainlit's socket joins a thread id when `get_thread` finds nothing, or finds a
    thread whose author is the caller. A chat alice deleted, whose audit rows stay, reads
    to bob as a thread he is not the author of; to alice as no thread at all."""
    layer = ChatDataLayer(lambda: vault)
    alice, bob = await _user(vault, layer, "alice"), await _user(vault, layer, "bob")
    await vault.audit.record_tool(
        thread_id="t-gone", user_id=alice.id, tool="check_credential", tool_call_id="c1",
        args={}, outcome="success", summary="alice's key is valid",
    )  # fmt: skip
    seen_by_bob = await _over_http(layer, "bob", lambda: layer.get_thread("t-gone"))
    assert seen_by_bob is not None and seen_by_bob["userIdentifier"] != bob.identifier
    assert seen_by_bob["steps"] == [] and seen_by_bob["metadata"] == {}
    assert await _as(bob, lambda: layer.get_thread("t-gone")) == seen_by_bob
    assert await _over_http(layer, "alice", lambda: layer.get_thread("t-gone")) is None
    assert await _over_http(layer, "bob", lambda: layer.get_thread("t-new")) is None


@pytest.fixture
def panel(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What /audit shows, with Chainlit's message and elements replaced by plain dicts."""
    return capture_audit_panel(monkeypatch)


async def test_the_audit_panel_defaults_to_the_sessions_user(
    vault: Vault, panel: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    layer = ChatDataLayer(lambda: vault)
    alice, bob = await _user(vault, layer, "alice"), await _user(vault, layer, "bob")
    audit = vault.audit
    await audit.record_tool(
        thread_id="t1", user_id=alice.id, tool="check_credential", tool_call_id="c1",
        args={}, outcome="success", summary="ok",
    )  # fmt: skip

    async def show() -> list[Any]:
        panel.clear()
        await reports.show_audit(audit, thread_id="t1", is_admin=False)
        return [row for element in panel for row in element.get("props", {}).get("rows", [])]

    assert len(await _as(alice, show)) == 1
    assert await _as(bob, show) == []
    assert await asyncio.create_task(show(), context=contextvars.Context()) == []  # no user
