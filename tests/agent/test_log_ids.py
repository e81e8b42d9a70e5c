"""Every record logged while a chat turn runs names the turn's user in the JSON log lines
(`vault.logs`), and records logged after it do not: here, httpx's line for the Hub
request that the turn's `inspect_model` makes."""

from __future__ import annotations

import io
import json
from typing import Any

import httpx

from agent.scripted import Call, Reply
from tests.agent.conftest import Chat

REPO = "kriptik-test/tiny-llama"


async def test_a_turns_records_carry_its_user_id(
    chat: Any, httpx_lines: io.StringIO, http: httpx.AsyncClient
) -> None:
    c: Chat = chat([Call(tool="inspect_model", args={"repo_id": REPO}), Reply(text="done")])
    turn = await c.turn("inspect it")
    assert turn.final.status == "done"
    await http.get(c.settings.huggingface_base_url)  # after the turn, in the test's task
    records = [json.loads(line) for line in httpx_lines.getvalue().splitlines()]
    assert len(records) >= 2
    *during, after = records
    assert {r["user_id"] for r in during} == {c.user.id}
    assert after["user_id"] is None
