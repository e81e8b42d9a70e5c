"""The chat over socket.io, for what a browser makes slow: a denied approval, a cancelled
and an unanswered key question, two users at once, and a reconnect mid-stream."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest
import socketio

from tests.e2e.chat_client import ChatClient, Event, no_answer, said, task_ended
from tests.e2e.harness import App, planted_key
from tests.e2e.llm_script import DEPLOY
from tests.services.kriptik import cli_env, kriptik
from vault import Settings

ASK_TIMEOUT_S = 4  # this module's app gives up on an unanswered question after 4 s


def _action(client: ChatClient, ask: dict[str, Any], name: str) -> dict[str, Any]:
    """The button `name` that was sent with this ask (the browser acks with it)."""
    ask_id = ask["msg"]["id"]
    return next(
        d for n, d in client.events if n == "action" and d["forId"] == ask_id and d["name"] == name
    )


async def _deny(client: ChatClient, ask: dict[str, Any]) -> Any:
    return _action(client, ask, "deny") if ask["spec"]["type"] == "action" else {"submitted": False}


async def _cancel(_client: ChatClient, ask: dict[str, Any]) -> Any:
    return {"submitted": False}


def _admin(app: App, **kwargs: Any) -> ChatClient:
    return ChatClient(app.url, "admin", app.server.admin_password, **kwargs)


def _llm_saw(app: App, fragment: str) -> bool:
    return any(fragment in body for body in app.llm.bodies)


async def test_a_denied_approval_creates_nothing_and_the_model_is_told(chat_app: App) -> None:
    # A stored RunPod key: without one KripTik prices nothing and asks for no approval.
    key = planted_key()
    chat_app.add_runpod_key(key)
    added = kriptik(
        "keys",
        "add",
        "runpod",
        "--user",
        "admin",
        "--no-validate",
        env=cli_env(chat_app.home),
        stdin=key,
    )
    assert added.returncode == 0, added.stderr
    client = _admin(chat_app, on_ask=_deny)
    await client.connect()
    await client.send("e2e approve")
    await client.wait_for(said("Approval answered:"))
    await client.disconnect()
    assert "**Denied** by admin" in client.text()
    cards = [d for n, d in client.events if n == "element" and d.get("name") == "ApprovalCard"]
    first, last = cards[0]["props"], cards[-1]["props"]
    assert (first["status"], last["status"], last["decided_by"]) == ("pending", "denied", "admin")
    rows = {row["name"]: row["value"] for row in last["rows"]}
    assert list(rows) == [
        "Provider",
        "Creates",
        "GPU pool",
        "VRAM",
        "Workers",
        "Running",
        "Idle",
        "1,000 requests",
        "Runs exactly",  # the bound plan: what runs is what this card shows
    ]
    assert (
        rows["GPU pool"] == "24 GB PRO (ADA_24) x 1 GPU"
        and rows["Idle"] == "$1.12/hour: 1 worker always on"
    )
    assert not chat_app.stack.runpod.calls_to("POST /v2/serverless")
    assert _llm_saw(chat_app, "denied")


async def test_a_cancelled_key_question_stores_nothing(chat_app: App) -> None:
    client = _admin(chat_app, on_ask=_cancel)
    await client.connect()
    await client.send("e2e ask huggingface")
    await client.wait_for(said("Key question answered:"))
    await client.disconnect()
    assert "Cancelled: no Hugging Face key was stored." in client.text()
    vault = await _vault(chat_app)
    try:
        admin = await vault.users.get("admin")
        assert admin is not None
        assert not await vault.credentials.has(admin.id, "huggingface")
    finally:
        await vault.close()


async def _gives_up(_client: ChatClient, _ask: dict[str, Any]) -> Any:
    return None  # what the server gets back when the wait ends without an answer


async def test_an_unanswered_key_question_times_out(chat_app: App) -> None:
    # With the `ask_timeout_s` setting the app gives up after ASK_TIMEOUT_S; without it
    # (the wait is then 10 minutes) the client answers "nothing", which takes the same path.
    real_timeout = "ask_timeout_s" in Settings.model_fields
    client = _admin(chat_app, on_ask=no_answer if real_timeout else _gives_up)
    await client.connect()
    await client.send("e2e ask github")
    await client.wait_for(said("No GitHub key was entered in time"), within_s=ASK_TIMEOUT_S + 20)
    _, told = await client.wait_for(said("Key question answered:"))
    await client.disconnect()
    assert "RUNPOD" not in told["output"] and "GITHUB_TOKEN stored" not in told["output"]


async def test_two_users_at_once_see_only_their_own_chat(chat_app: App) -> None:
    added = kriptik("users", "add", "bob", env=cli_env(chat_app.home), stdin="bobs-long-password\n")
    assert added.returncode == 0, added.stderr
    alice = _admin(chat_app)
    bob = ChatClient(chat_app.url, "bob", "bobs-long-password")
    await asyncio.gather(alice.connect(), bob.connect())
    await asyncio.gather(alice.send("e2e echo alpha 25"), bob.send("e2e echo bravo 25"))
    await asyncio.gather(alice.wait_for(said("alpha24")), bob.wait_for(said("bravo24")))
    assert "bravo" not in json.dumps(alice.events)
    assert "alpha" not in json.dumps(bob.events)
    thread = alice.messages()[0]["threadId"]
    await asyncio.gather(alice.disconnect(), bob.disconnect())
    intruder = ChatClient(chat_app.url, "bob", "bobs-long-password")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await intruder.connect(thread_id=thread)


async def test_a_reconnect_mid_stream_still_gets_the_whole_reply(chat_app: App) -> None:
    # The model holds the rest of its reply until the client is back, however long the
    # reconnect takes on a busy machine.
    held = chat_app.llm.hold(before="charlie20")
    client = _admin(chat_app)
    await client.connect()
    await client.send("e2e echo charlie 40")
    await client.wait_for(lambda e: e[0] == "stream_token" and "charlie3" in str(e[1].get("token")))
    await client.disconnect()
    mark = len(client.events)
    await client.connect(fresh=False)  # same session id: the server carries on where it was
    held.release()
    _, final = await client.wait_for(said("charlie39"), after=mark)
    assert final["output"] == " ".join(f"charlie{i}" for i in range(40))


def _stage(props: dict[str, Any], key: str) -> str:
    return next(s["state"] for s in props["stages"] if s["key"] == key)


async def _vault(app: App) -> Any:
    from vault import Vault

    return await Vault.open(Settings(home=app.home), migrate=False)


async def test_a_reopened_thread_keeps_the_agent_history(chat_app: App) -> None:
    first = _admin(chat_app)
    await first.connect()
    await first.send("e2e echo delta 3")
    await first.wait_for(said("delta2"))
    await first.wait_for(task_ended)  # the turn, and so its history, is stored
    thread = first.messages()[0]["threadId"]
    await first.disconnect()
    again = _admin(chat_app)  # a new page load: a new session resuming the thread
    await again.connect(thread_id=thread)
    await again.send("e2e recall")
    _, reply = await again.wait_for(said("Earlier you said:"))
    assert "e2e echo delta 3" in reply["output"]
    await again.disconnect()


async def test_a_failing_model_gives_a_next_step_not_a_traceback(chat_app: App) -> None:
    client = _admin(chat_app)
    await client.connect()
    await client.send("e2e fail")
    _, notice = await client.wait_for(said("try again"))
    await client.disconnect()
    assert "Traceback" not in client.text() and 'File "' not in client.text()
    assert notice["output"].startswith("**Could not continue:**")


async def test_a_key_pasted_into_the_chat_goes_nowhere(chat_app: App) -> None:
    pasted = planted_key("hf_")
    client = _admin(chat_app)
    await client.connect()
    await client.send(pasted)
    await client.wait_for(said("looks like it contains an API key"))
    await client.disconnect()
    assert chat_app.leaks(pasted) == []


async def test_stop_ends_the_turn_and_keeps_what_was_said(chat_app: App) -> None:
    # The model holds the rest of its reply, so Stop lands mid-stream however slow the
    # machine; released once the turn has ended, it has nobody left to talk to.
    held = chat_app.llm.hold(before="foxtrot10")
    client = _admin(chat_app)
    await client.connect()
    await client.send("e2e echo foxtrot 80")
    await client.wait_for(lambda e: e[0] == "stream_token" and "foxtrot3" in str(e[1].get("token")))
    await client.sio.emit("stop")
    await client.wait_for(said("Task manually stopped."))
    _, partial = await client.wait_for(said("foxtrot0"))
    await client.wait_for(task_ended)
    held.release()
    await client.disconnect()
    assert "foxtrot79" not in partial["output"]
    assert not _llm_saw(chat_app, "foxtrot79")  # the model was not asked again


async def test_deployment_progress_survives_a_reload(chat_app: App) -> None:
    key = planted_key()
    chat_app.add_runpod_key(key)
    runpod = chat_app.stack.runpod.state
    # The workers stay initializing while the page is away; they become ready (at the
    # next poll) only once the page is back, however long the reconnect takes.
    runpod.ready_after = 1_000_000

    async def answer(client: ChatClient, ask: dict[str, Any]) -> Any:
        if ask["spec"]["type"] == "element":
            return {"value": key, "submitted": True}
        return _action(client, ask, "approve")

    def panel(status: str, *, waiting: bool = False) -> Callable[[Event], bool]:
        return lambda e: (
            e[0] == "element"
            and e[1].get("name") == "Progress"
            and e[1]["props"]["status"] == status
            and (not waiting or _stage(e[1]["props"], "waiting") == "running")
        )

    first = _admin(chat_app, on_ask=answer)
    await first.connect()
    await first.send(DEPLOY)
    # Running, and waiting for its workers: the endpoint exists.
    _, shown = await first.wait_for(panel("running", waiting=True), within_s=60)
    thread = shown["threadId"]
    await first.disconnect()  # the page goes away mid-deployment
    again = _admin(chat_app)  # and comes back: a new session reopening the thread
    await again.connect(thread_id=thread)
    # The thread is back once the app has re-attached the panel to the deployment.
    await again.wait_for(lambda e: e[0] == "resume_thread")
    runpod.ready_after = 0  # as the module's app had it
    for endpoint in list(runpod.endpoints.values()):
        endpoint.polls_left = 0
    _, done = await again.wait_for(panel("done"), within_s=60)
    assert done["id"] == shown["id"]  # the same panel, brought up to date
    stages = {s["key"]: s["state"] for s in done["props"]["stages"]}
    assert stages["waiting"] == "done" and stages["smoke_test"] == "done"
    await again.disconnect()
    assert chat_app.leaks(key) == []
