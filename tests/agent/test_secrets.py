"""A key planted through the secure question never leaks: not into model requests or
responses, tool arguments or results, agent history, audit rows, UI events, logs,
exception text, or anywhere in the database file, in raw, base64 or URL-encoded form."""

from __future__ import annotations

import asyncio
import logging
import secrets
from pathlib import Path
from typing import Any

import pytest
from pydantic_ai.messages import ModelMessagesTypeAdapter, ModelRequest, ToolReturnPart
from sqlalchemy import text

from agent.events import Final, Notice, ToolFinished
from agent.history import SqlConversationStore
from agent.scripted import Call, Reply
from tests.agent.conftest import Chat
from tools.simulator.all import FakeStack
from vault import Settings
from vault.redact import encoded_forms

REPO = "kriptik-test/tiny-llama"


def leaks(haystack: str, secret: str) -> list[str]:
    return sorted(form for form in encoded_forms(secret) if form in haystack)


async def database_text(chat: Chat) -> str:
    """Every value of every row of the agent's tables, as text."""
    out: list[str] = []
    async with chat.vault.engine.connect() as conn:
        for table in ("audit_events", "agent_conversations", "agent_entries"):
            for row in await conn.execute(text(f"SELECT * FROM {table}")):  # noqa: S608
                out.append(" ".join(str(v) for v in row))
    return "\n".join(out)


async def test_a_planted_key_appears_nowhere(
    chat: Any, fakes: FakeStack, agent_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    planted = "rpa_" + secrets.token_urlsafe(36).replace("-", "A").replace("_", "b")
    fakes.runpod.state.keys[planted] = "rw"
    steps = [
        Call(tool="request_api_key", args={"provider": "runpod", "reason": "to deploy"}),
        Call(tool="check_credential", args={"provider": "runpod", "recheck": True}),
        Call(tool="choose_gpu", args={"repo_id": REPO}),
        # A model that somehow holds the key and puts it in arguments is refused.
        Call(tool="get_deployment_status", args={"endpoint_id": planted}),
        Call(tool="request_api_key", args={"provider": "runpod", "reason": f"print {planted}"}),
        Reply(text="Done."),
    ]
    c: Chat = chat(steps, secrets=[planted])
    turn = await c.turn("deploy it")
    assert turn.final.status == "done"
    assert [(e.tool, e.outcome) for e in turn.of(ToolFinished)] == [
        ("request_api_key", "success"), ("check_credential", "success"),
        ("choose_gpu", "success"), ("get_deployment_status", "retried"),
        ("request_api_key", "retried"),
    ]  # fmt: skip
    refused = [
        p for m in c.model.requests[-1] if isinstance(m, ModelRequest) for p in m.parts
        if isinstance(p, ToolReturnPart) and p.outcome == "retried"
    ]  # fmt: skip
    assert len(refused) == 2 and all(
        "must never contain an API key" in str(p.content) for p in refused
    )

    requests = "\n".join(ModelMessagesTypeAdapter.dump_json(r).decode() for r in c.model.requests)
    stored = await SqlConversationStore(c.vault.sessions).load(c.thread_id)
    assert stored is not None
    history = ModelMessagesTypeAdapter.dump_json(stored.messages).decode()
    audit = "\n".join(r.model_dump_json() for r in await c.vault.audit.records())
    events = "\n".join(e.model_dump_json() for e in turn.events)
    db_path = Path(str(agent_settings.resolved_database_url).split("///", 1)[1])
    db_file = await asyncio.to_thread(db_path.read_bytes)
    for name, haystack in {
        "model requests": requests, "agent history": history, "audit rows": audit,
        "UI events": events, "logs": caplog.text, "agent tables": await database_text(c),
        "database file": db_file.decode("latin-1"),
    }.items():  # fmt: skip
        assert not leaks(haystack, planted), f"the key leaked into {name}"
    assert "[REDACTED]" in audit  # the refused arguments were kept, masked
    assert (await c.vault.credentials.get(c.user.id, "runpod")).get_secret_value() == planted


async def test_a_key_pasted_into_the_chat_is_not_sent_to_the_model(chat: Any) -> None:
    c: Chat = chat([Reply(text="never")])
    pasted = "sk-or-v1-" + secrets.token_hex(32)
    turn = await c.turn(f"here is my key {pasted} please use it")
    assert [type(e) for e in turn.events] == [Notice, Final]
    assert (
        turn.final.status == "refused"
        and "looks like it contains an API key" in turn.events[0].text
    )
    assert c.model.requests == []
    assert not leaks(await database_text(c), pasted)
