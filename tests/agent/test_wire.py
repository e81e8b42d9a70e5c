"""The real chat model on the wire: `OpenRouterModel` and the `openai` client against a
loopback OpenAI-compatible SSE fake (tools/simulator/llm.py): the OpenRouter key asked for
securely, a 429 then success, streamed tool calls, cost from OpenRouter's usage, the
daily cost cap, the `provider` field of non-streamed replies, and the fixed overhead."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic_ai import Agent
from pydantic_ai.models import override_allow_model_requests

from agent import NO_KEY, TurnContext, run_turn
from agent.events import Final, Notice, Progress, Question, TextDelta, ToolFinished, ToolStarted
from agent.history import SqlConversationStore
from agent.llm import ChatModels
from agent.scripted import ScriptedInteraction
from tests.agent.conftest import Turn
from tools.publish.service import LivePublishing
from tools.services import LiveServices
from tools.simulator.all import FakeStack
from tools.simulator.llm import LlmFake, Reply
from tools.simulator.openrouter import DEFAULT_KEY
from tools.simulator.server import ServedApp
from vault import Settings, UserView, Vault

REPO = "kriptik-test/tiny-llama"
ROUTE = "POST /api/v1/chat/completions"
OVERHEAD_LIMIT = 12 * 1024


@pytest.fixture(scope="module")
def llm_server(fake_stack: FakeStack) -> Iterator[tuple[LlmFake, str]]:
    fake = LlmFake(rest=fake_stack.openrouter)
    served = ServedApp(fake)
    yield fake, served.url
    served.stop()


@pytest.fixture
def llm(llm_server: tuple[LlmFake, str], fakes: FakeStack) -> Iterator[LlmFake]:
    fake = llm_server[0]
    fake.reset()
    yield fake
    fake.assert_clean()


@pytest.fixture
def wire_settings(agent_settings: Settings, llm_server: tuple[LlmFake, str]) -> Iterator[Settings]:
    assert llm_server[1].startswith("http://127.0.0.1:")
    # The real model classes refuse to run while ALLOW_MODEL_REQUESTS is False; here every
    # request goes to the loopback fake, so they may, for this module's tests only.
    with override_allow_model_requests(True):
        yield agent_settings.model_copy(update={
            "openrouter_base_url": llm_server[1] + "/api/v1",
            "fallback_models": ["openai/gpt-4o-mini"],
        })  # fmt: skip


def compact(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


async def play(settings: Settings, vault: Vault, user: UserView, **extra: Any) -> Turn:
    turn = Turn()
    models = ChatModels()
    async with httpx.AsyncClient(timeout=settings.http_timeout_s) as http:
        ctx = TurnContext(settings=settings, vault=vault, user_id=user.id, user_name=user.name,
                          thread_id="wire-1", services=LiveServices(vault, settings, http),
                          publishing=LivePublishing(vault, settings, http), models=models,
                          history=SqlConversationStore(vault.sessions), **extra)  # fmt: skip
        async for event in run_turn(ctx, f"What is {REPO}?"):
            turn.events.append(event)
    await models.close()
    return turn


async def test_streamed_tool_calls_a_429_and_the_cost_on_the_wire(
    llm: LlmFake, fakes: FakeStack, wire_settings: Settings, agent_vault: Vault, user: UserView
) -> None:
    llm.fail(ROUTE, 429, headers={"retry-after-ms": "5"})
    llm.script += [Reply(calls=[("inspect_model", {"repo_id": REPO})]),
                   Reply(text="It is a tiny llama.")]  # fmt: skip
    asked = ScriptedInteraction(secrets=[DEFAULT_KEY])
    turn = await play(wire_settings, agent_vault, user, interaction=asked)

    [question] = asked.questions
    assert question.provider == "openrouter" and question.tool_call_id is None
    assert [type(e) for e in turn.events if not isinstance(e, TextDelta)] == [
        Question, ToolStarted, Progress, ToolFinished, Final,
    ]  # fmt: skip
    assert turn.of(ToolStarted)[0].args == {"repo_id": REPO}
    assert turn.of(ToolFinished)[0].outcome == "success"
    assert len(turn.of(TextDelta)) > 1 and turn.final.text == "It is a tiny llama."
    usage = turn.final.usage
    assert (usage.requests, usage.input_tokens, usage.output_tokens) == (2, 1800, 80)
    assert usage.cost_known and usage.cost_usd == pytest.approx(0.0024)

    calls = llm.calls_to(ROUTE)
    assert [c.status for c in calls] == [429, 200, 200]  # the SDK retried the 429 itself
    assert fakes.openrouter.calls_to("GET /api/v1/key")  # the pasted key was validated
    first, second = calls[1].json(), calls[2].json()
    assert first["stream"] is True and first["usage"] == {"include": True}
    assert first["models"] == ["openai/gpt-4o-mini"] and first["model"] == wire_settings.model
    assert calls[1].headers["authorization"] == f"Bearer {DEFAULT_KEY}"
    assert calls[1].headers["x-title"] == "KripTik AI"
    assert {t["function"]["name"] for t in first["tools"]} >= {"inspect_model", "request_api_key"}
    [tool_result] = [m for m in second["messages"] if m["role"] == "tool"]
    assert REPO in json.dumps(tool_result["content"])  # a text part: it carries a breakpoint
    for call in calls:
        body = call.body.decode()
        assert DEFAULT_KEY not in body  # the key is in the auth header only, never the content

    rows = [r for r in await agent_vault.audit.records() if r.kind == "model"]
    assert [(r.model, r.cost_microusd, r.input_tokens) for r in rows] == [
        (wire_settings.model, 1200, 900), (wire_settings.model, 1200, 900),
    ]  # fmt: skip

    # The fixed overhead of every request: the system prompt and the tool schemas, as sent.
    system = next(m for m in first["messages"] if m["role"] == "system")
    overhead = len(compact(system)) + len(compact(first["tools"]))
    assert overhead <= OVERHEAD_LIMIT, f"system prompt + tool schemas are {overhead} bytes"
    assert len(calls[1].body) - overhead < 1024  # the rest of a first request is small


async def test_the_daily_cost_cap_stops_before_the_next_request(
    llm: LlmFake, wire_settings: Settings, agent_vault: Vault, user: UserView
) -> None:
    from pydantic import SecretStr

    await agent_vault.credentials.add(user.id, "openrouter", SecretStr(DEFAULT_KEY))
    llm.script += [Reply(calls=[("inspect_model", {"repo_id": REPO})], cost=0.02),
                   Reply(text="never sent")]  # fmt: skip
    capped = wire_settings.model_copy(update={"daily_cost_cap_usd": 0.01})
    turn = await play(capped, agent_vault, user)
    assert turn.final.status == "cost_cap" and len(llm.calls_to(ROUTE)) == 1
    [notice] = turn.of(Notice)
    assert "$0.02 of your $0.01 daily model budget" in notice.text
    # The next turn is refused before any model request.
    again = await play(capped, agent_vault, user)
    assert again.final.status == "cost_cap" and len(llm.calls_to(ROUTE)) == 1


async def test_no_key_and_no_answer_explains_what_to_do(
    wire_settings: Settings, agent_vault: Vault, user: UserView
) -> None:
    turn = await play(wire_settings, agent_vault, user)  # the default interaction cannot ask
    assert [type(e) for e in turn.events] == [Question, Notice, Final]
    assert turn.of(Notice)[0].text == NO_KEY and turn.final.status == "no_model"
    assert "To chat I need an OpenRouter API key" in NO_KEY


async def test_a_non_streamed_reply_carries_the_provider_field(
    llm: LlmFake, wire_settings: Settings
) -> None:
    from pydantic import SecretStr

    llm.script.append(Reply(text="pong"))
    models = ChatModels()
    async with models.open(wire_settings, SecretStr(DEFAULT_KEY)) as model:
        result = await Agent(model).run("ping")  # no event handler: a plain request
    await models.close()
    assert result.output == "pong"
    [call] = llm.calls_to(ROUTE)
    assert "stream" not in call.json() or call.json()["stream"] is False
    details = result.response.provider_details or {}
    assert details["downstream_provider"] == "FakeProvider" and details["cost"] == 0.0012


async def test_a_rejected_openrouter_key_says_what_to_do(
    llm: LlmFake, wire_settings: Settings, agent_vault: Vault, user: UserView
) -> None:
    from pydantic import SecretStr

    await agent_vault.credentials.add(user.id, "openrouter", SecretStr("sk-or-v1-" + "9" * 64))
    turn = await play(wire_settings, agent_vault, user)
    assert [c.status for c in llm.calls_to(ROUTE)] == [401]  # no retry of a bad key
    [notice] = turn.of(Notice)
    assert "rejected the key" in notice.text and "kriptik keys add openrouter" in notice.text
    assert turn.final.status == "failed"


async def test_the_server_wide_key_is_used_when_the_user_has_none(
    llm: LlmFake, wire_settings: Settings, agent_vault: Vault, user: UserView
) -> None:
    from pydantic import SecretStr

    llm.script.append(Reply(text="hello from the shared key"))
    shared = wire_settings.model_copy(update={"openrouter_api_key": SecretStr(DEFAULT_KEY)})
    asked = ScriptedInteraction()
    turn = await play(shared, agent_vault, user, interaction=asked)
    assert asked.questions == [] and turn.final.text == "hello from the shared key"
    assert llm.calls_to(ROUTE)[0].headers["authorization"] == f"Bearer {DEFAULT_KEY}"


@pytest.mark.parametrize("allowed", [False, True])
async def test_github_accounts_spend_the_server_wide_key_only_when_the_admin_allows_it(
    llm: LlmFake, wire_settings: Settings, agent_vault: Vault, allowed: bool
) -> None:
    """An account made by GitHub sign-in is asked for its own key, unless the admin set
    `oauth_users_use_server_llm_key`; password users keep the shared key (test above)."""
    from pydantic import SecretStr

    from vault.github_accounts import GitHubAccount

    gh_user = await agent_vault.github.admit(GitHubAccount(id=4242, login="gh-visitor"))
    llm.script.append(Reply(text="hello"))
    shared = wire_settings.model_copy(update={
        "openrouter_api_key": SecretStr(DEFAULT_KEY), "oauth_users_use_server_llm_key": allowed,
    })  # fmt: skip
    asked = ScriptedInteraction()  # declines the key question
    turn = await play(shared, agent_vault, gh_user, interaction=asked)
    if allowed:
        assert asked.questions == [] and turn.final.text == "hello"
        assert llm.calls_to(ROUTE)[0].headers["authorization"] == f"Bearer {DEFAULT_KEY}"
    else:
        assert [q.provider for q in asked.questions] == ["openrouter"]
        assert llm.calls_to(ROUTE) == []
