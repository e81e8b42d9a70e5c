"""A cheaper agent, on the wire: the real `OpenRouterModel` and `openai` client against the
loopback chat fake (tools/simulator/llm.py), which keeps a prompt cache as the providers
behind OpenRouter do and reports it as OpenRouter does.

- the breakpoints are sent (`cache_control` on the last tool schema, the instructions and
  the last message), each valid against OpenRouter's published schema (the fake's
  contract checks them, and every response's usage), and every request of a turn begins
  with the same bytes;
- the cached tokens the usage reports reach the turn's usage, the audit's cost and the
  usage line, priced at the model's cache-read price;
- caching off sends no breakpoint, and a route that caches automatically gets none;
- the daily dollar cap holds on a local server that reports no price.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from pydantic_ai.models import override_allow_model_requests

from agent import TurnContext, run_turn
from agent.events import Notice
from agent.history import SqlConversationStore
from agent.llm import LOCAL_KEY, ChatModels
from tests.agent.conftest import Turn
from tools.publish.service import LivePublishing
from tools.services import LiveServices
from tools.simulator._chat_contract import breakpoints
from tools.simulator._prompt_cache import prompt_tokens
from tools.simulator.all import FakeStack
from tools.simulator.llm import LlmFake, Reply, prices_of
from tools.simulator.openrouter import DEFAULT_KEY
from tools.simulator.server import ServedApp
from ui.web.render import usage_line
from vault import Settings, UserView, Vault

REPO = "kriptik-test/tiny-llama"
ROUTE = "POST /api/v1/chat/completions"
LOCAL_ROUTE = "POST /v1/chat/completions"
EPHEMERAL = {"type": "ephemeral", "ttl": "5m"}


@pytest.fixture(scope="module")
def llm_server(fake_stack: FakeStack) -> Iterator[tuple[LlmFake, str]]:
    fake = LlmFake(rest=fake_stack.openrouter, keys={DEFAULT_KEY, LOCAL_KEY})
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
    with override_allow_model_requests(True):  # every request goes to the loopback fake
        yield agent_settings.model_copy(update={
            "openrouter_base_url": llm_server[1] + "/api/v1",
            "model": "anthropic/claude-sonnet-4.5",
            "openrouter_api_key": SecretStr(DEFAULT_KEY),
        })  # fmt: skip


async def play(settings: Settings, vault: Vault, user: UserView, text: str) -> Turn:
    turn, models = Turn(), ChatModels()
    async with httpx.AsyncClient(timeout=settings.http_timeout_s) as http:
        ctx = TurnContext(settings=settings, vault=vault, user_id=user.id, user_name=user.name,
                          thread_id="cache-1", services=LiveServices(vault, settings, http),
                          publishing=LivePublishing(vault, settings, http), models=models,
                          history=SqlConversationStore(vault.sessions))  # fmt: skip
        async for event in run_turn(ctx, text):
            turn.events.append(event)
    await models.close()
    return turn


def _inspect_then_answer(llm: LlmFake) -> None:
    """Two requests in one turn, their usage measured by the fake from what was sent."""
    llm.script += [Reply(calls=[("inspect_model", {"repo_id": REPO})], measured=True),
                   Reply(text="It is a tiny llama.", measured=True)]  # fmt: skip


def _prefix(body: dict[str, Any]) -> bytes:
    system = [m for m in body["messages"] if m["role"] == "system"]
    return json.dumps([body.get("tools"), system], separators=(",", ":")).encode()


async def test_the_breakpoints_go_on_the_wire_and_the_cache_pays_for_the_second_request(
    llm: LlmFake, wire_settings: Settings, agent_vault: Vault, user: UserView
) -> None:
    _inspect_then_answer(llm)
    turn = await play(wire_settings, agent_vault, user, f"What is {REPO}?")
    assert turn.final.status == "done" and turn.final.text == "It is a tiny llama."

    first, second = bodies = [c.json() for c in llm.calls_to(ROUTE)]
    for body in bodies:
        assert "cache_control" in body["tools"][-1]  # the tool schemas
        assert "cache_control" in body["messages"][0]["content"][-1]  # the instructions
        assert "cache_control" in body["messages"][-1]["content"][-1]  # the conversation
        # Each marker, and each response's usage, is checked against OpenRouter's published
        # description by the fake's contract (`llm` fixture: `assert_clean`).
        assert [b["cache_control"] for b in breakpoints(body)] == [EPHEMERAL] * 3
    assert _prefix(first) == _prefix(second)  # the same bytes before the conversation
    # The user's message lost its breakpoint to the tool result, and nothing else changed.
    assert first["messages"][1]["content"][0]["text"] == second["messages"][1]["content"]

    # The usage, as the fake reported it: the second request read what the first wrote.
    sent = [prompt_tokens(b) for b in bodies]
    usage = turn.final.usage
    assert usage.requests == 2 and usage.input_tokens == sum(sent)
    assert usage.cached_tokens == sent[0]
    assert usage.cache_write_tokens == sent[1]  # all of the first, then what the second added
    prices = prices_of(wire_settings.model)
    read_part = sent[0] * (prices.prompt - prices.cache_read)
    full = sum(sent) * prices.prompt + usage.output_tokens * prices.completion
    written = sent[1] * (prices.cache_write - prices.prompt)
    assert usage.cost_usd == pytest.approx(full - read_part + written, abs=1e-7)
    assert usage.cost_usd < full + written  # the read was cheaper than sending it again
    rows = [r for r in await agent_vault.audit.records() if r.kind == "model"]
    # Each row holds its own request's cost rounded to a micro-dollar: the sum may differ
    # from the rounded total by half a micro-dollar per row.
    stored = sum(r.cost_microusd or 0 for r in rows)
    assert abs(stored - usage.cost_usd * 1_000_000) <= 0.5 * len(rows)
    assert f"({sent[0]:,} cached)" in usage_line(usage)


async def test_caching_off_sends_no_breakpoint(
    llm: LlmFake, wire_settings: Settings, agent_vault: Vault, user: UserView
) -> None:
    _inspect_then_answer(llm)
    off = wire_settings.model_copy(update={"llm_prompt_caching": False})
    turn = await play(off, agent_vault, user, f"What is {REPO}?")
    bodies = [c.json() for c in llm.calls_to(ROUTE)]
    assert [breakpoints(b) for b in bodies] == [[], []]
    assert turn.final.usage.cached_tokens == 0 and turn.final.usage.cache_write_tokens == 0


async def test_a_route_that_caches_by_itself_gets_a_stable_prefix_and_no_breakpoint(
    llm: LlmFake, wire_settings: Settings, agent_vault: Vault, user: UserView
) -> None:
    _inspect_then_answer(llm)
    auto = wire_settings.model_copy(update={"model": "openai/gpt-4o-mini"})
    turn = await play(auto, agent_vault, user, f"What is {REPO}?")
    first, second = bodies = [c.json() for c in llm.calls_to(ROUTE)]
    assert [breakpoints(b) for b in bodies] == [[], []]
    assert _prefix(first) == _prefix(second)
    # OpenAI-style caching: the first request's prompt served the second, no write billed.
    assert turn.final.usage.cached_tokens == prompt_tokens(first) >= 1024
    assert turn.final.usage.cache_write_tokens == 0


async def test_the_dollar_cap_holds_on_a_local_server_that_reports_no_price(
    llm: LlmFake, agent_settings: Settings, llm_server: tuple[LlmFake, str],
    agent_vault: Vault, user: UserView,
) -> None:  # fmt: skip
    llm.script += [Reply(calls=[("inspect_model", {"repo_id": REPO})], measured=True),
                   Reply(text="never sent")]  # fmt: skip
    local = agent_settings.model_copy(update={
        "llm_base_url": llm_server[1] + "/v1", "model": "local/llama",
        "daily_cost_cap_usd": 0.001, "unpriced_llm_usd_per_mtok": 1.0,
    })  # fmt: skip
    with override_allow_model_requests(True):
        turn = await play(local, agent_vault, user, f"What is {REPO}?")
        [sent] = [c.json() for c in llm.calls_to(LOCAL_ROUTE)]
        assert turn.final.status == "cost_cap" and not turn.final.usage.cost_known
        [notice] = turn.of(Notice)
        tokens = turn.final.usage.input_tokens + turn.final.usage.output_tokens
        assert tokens == prompt_tokens(sent) + turn.final.usage.output_tokens >= 1000
        assert f"of your $0.00 daily model budget (counting {tokens:,} tokens" in notice.text
        assert "KRIPTIK_UNPRICED_LLM_USD_PER_MTOK" in notice.text
        # The audit keeps the cost unknown; the next turn is refused before any request.
        rows = [r for r in await agent_vault.audit.records() if r.kind == "model"]
        assert [r.cost_microusd for r in rows] == [None]
        again = await play(local, agent_vault, user, "and now?")
        assert again.final.status == "cost_cap" and len(llm.calls_to(LOCAL_ROUTE)) == 1
        assert again.final.usage.today_usd == pytest.approx(float(Decimal(tokens) / 10**6))


async def test_the_day_s_use_counts_priced_dollars_and_unpriced_tokens_apart(vault: Vault) -> None:
    """One query for what the cap counts, on SQLite and PostgreSQL (`vault` fixture)."""
    from datetime import timedelta

    from vault.models import utcnow

    log = vault.audit
    for user, cost, tokens in [("ann", Decimal("0.0012"), (10, 2)), ("ann", None, (20, 5)),
                               ("ann", None, (100, 0)), ("bob", None, (7, 7))]:  # fmt: skip
        await log.record_model_request(thread_id="t", user_id=user, model="m/x",
                                       input_tokens=tokens[0], output_tokens=tokens[1],
                                       cost_usd=cost, started_at=utcnow())  # fmt: skip
    since = utcnow() - timedelta(minutes=1)
    assert await log.model_use_since("ann", since) == (Decimal("0.0012"), 125)
    assert await log.model_use_since("bob", since) == (Decimal(0), 14)
    assert await log.model_use_since("ann", utcnow() + timedelta(minutes=1)) == (Decimal(0), 0)
