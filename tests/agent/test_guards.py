"""The turn's guards: the audit fails closed, no request leaves with a known key, tool
results are scrubbed, keys are recognised by shape, and the prompts stay loadable."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import BaseModel, Field
from pydantic_ai.messages import ModelRequest, UserPromptPart
from pydantic_ai.models import ModelRequestContext, ModelRequestParameters
from pydantic_ai.models.test import TestModel
from sqlalchemy.exc import OperationalError

from agent.events import Final, Notice, ToolStarted
from agent.guard import looks_secret, mask
from agent.hooks import TurnHooks, scrub
from agent.interaction import DeclineAll
from agent.prompts import render_prompt
from agent.scripted import Call, Reply
from agent.state import SecretInRequest, TurnState
from tests.agent.conftest import Chat
from tools.simulator.all import FakeStack
from vault import REDACTOR
from vault.audit import AuditLog

KNOWN = "rpa_KnownSecretForGuards0123456789abcdXYZ"


async def test_no_audit_row_means_the_tool_does_not_run(
    chat: Any, fakes: FakeStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: object, **kwargs: object) -> str:
        raise OperationalError("INSERT INTO audit_events", {}, Exception("disk I/O error"))

    monkeypatch.setattr(AuditLog, "begin_tool", broken)
    c: Chat = chat(
        [Call(tool="inspect_model", args={"repo_id": "kriptik-test/tiny-llama"}), Reply(text="x")]
    )
    turn = await c.turn("inspect it")
    assert [type(e) for e in turn.events] == [ToolStarted, Notice, Final]
    assert (
        "audit log could not be written, so KripTik did not run inspect_model"
        in turn.events[1].text
    )
    assert turn.final.status == "failed"
    assert fakes.huggingface.calls == []  # the tool never ran
    assert len(c.model.requests) == 1


async def test_a_request_holding_a_known_key_is_never_sent() -> None:
    REDACTOR.register(KNOWN)
    try:
        state = TurnState(user_id="u", user_name="ann", thread_id="t", audit=None,  # type: ignore[arg-type]
                          interaction=DeclineAll(), key_service=None, emit=lambda e: None)  # type: ignore[arg-type]  # fmt: skip
        request = ModelRequestContext(
            model=TestModel(), messages=[ModelRequest(parts=[UserPromptPart(f"use {KNOWN}")])],
            model_settings=None, model_request_parameters=ModelRequestParameters(),
        )  # fmt: skip
        with pytest.raises(SecretInRequest):
            await TurnHooks(state).before_model_request(None, request)  # type: ignore[arg-type]
        state.daily_cap, state.day_spent = Decimal("1"), Decimal("1")
        clean = ModelRequestContext(
            model=TestModel(), messages=[ModelRequest(parts=[UserPromptPart("hello")])],
            model_settings=None, model_request_parameters=ModelRequestParameters(),
        )  # fmt: skip
        with pytest.raises(Exception, match=r"used \$1.00 of your \$1.00 daily model budget"):
            await TurnHooks(state).before_model_request(None, clean)  # type: ignore[arg-type]
    finally:
        REDACTOR.clear()


class _Result(BaseModel):
    message: str
    count: int


def test_tool_results_are_scrubbed_of_known_keys() -> None:
    REDACTOR.register(KNOWN)
    try:
        assert scrub(f"the provider echoed {KNOWN}") == "the provider echoed [REDACTED]"
        assert scrub(_Result(message=f"key {KNOWN}", count=2)) == _Result(
            message="key [REDACTED]", count=2
        )
        untouched = _Result(message="fine", count=1)
        assert scrub(untouched) is untouched and scrub(7) == 7
    finally:
        REDACTOR.clear()


class _Partly(BaseModel):
    message: str
    unsent: dict[str, str] = Field(exclude=True)  # never in what the model reads


def test_a_scrubbed_result_keeps_what_the_model_does_not_read() -> None:
    REDACTOR.register(KNOWN)
    try:
        cleaned = scrub(_Partly(message=f"key {KNOWN}", unsent={"A": "b"}))
        assert cleaned == _Partly(message="key [REDACTED]", unsent={"A": "b"})
    finally:
        REDACTOR.clear()


@pytest.mark.parametrize(
    "text",
    [
        "sk-or-v1-" + "a1" * 32,
        "hf_" + "AbCd1234" * 4,
        "ghp_" + "AbCd1234" * 4 + "xyzw",
        "github_pat_" + "11AbCd1234_" * 5,
        "rpa_" + "ABCD1234efgh" * 3,
        "nfp_" + "abcd1234EFGH" * 3,
        "AKIAABCDEFGHIJKLMNOP",
        "-----BEGIN PRIVATE KEY-----",
        "Xk9" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY",  # an unprefixed random token
    ],
)
def test_key_shapes_are_recognised_and_masked(text: str) -> None:
    assert looks_secret(f"my key is {text} ok") and text not in mask(f"my key is {text} ok")


@pytest.mark.parametrize(
    "text",
    [
        "Deploy Qwen/Qwen2.5-7B-Instruct on an AMPERE_24 pool",
        "https://huggingface.co/meta-llama/Llama-3.1-8B-Instruct/tree/main",
        "sha 8032dc2dcf939e174cc88f2113e86fd03b0d843b and endpoint abcdef123456",
        "a context of 131072 tokens at bf16 with batch 8",
    ],
)
def test_ordinary_text_is_not_mistaken_for_a_key(text: str) -> None:
    assert not looks_secret(text) and mask(text) == text


def test_the_system_prompt_renders_and_covers_the_rules() -> None:
    text = render_prompt("system", user_name="ann", today="2026-01-01")
    for rule in ("inspect_model", "request_api_key", "are data, not", "state its price", "ann"):
        assert rule in text
    with pytest.raises(Exception, match="user_name"):
        render_prompt("system", today="2026-01-01")
