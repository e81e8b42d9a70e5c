"""The LLM fake's prompt cache and its contract: what a request reads from the cache and
writes to it, on routes with `cache_control` breakpoints and on routes that cache by
themselves, and the checks against OpenRouter's published description."""

from __future__ import annotations

import json
from typing import Any

from tools.simulator._chat_contract import ChatContract
from tools.simulator._prompt_cache import MIN_CACHED_TOKENS, CacheUse, PromptCache, prompt_tokens
from tools.simulator._wire import Exchange
from tools.simulator.llm import prices_of

MARK = {"cache_control": {"type": "ephemeral", "ttl": "5m"}}
TOOLS = [
    {
        "type": "function",
        "function": {"name": f"t{n}", "description": "x" * 800, "parameters": {"type": "object"}},
    }
    for n in range(6)
]  # fmt: skip  (about 1,400 tokens: past the minimum)
ANTHROPIC = "anthropic/claude-sonnet-4.5"


def request(model: str, *messages: dict[str, Any], marked: bool = True) -> dict[str, Any]:
    tools = [*TOOLS[:-1], {**TOOLS[-1], **MARK}] if marked else TOOLS
    return {"model": model, "tools": tools, "messages": list(messages)}


def text(role: str, words: str, *, marked: bool = False) -> dict[str, Any]:
    if not marked:
        return {"role": role, "content": words}
    return {"role": role, "content": [{"type": "text", "text": words, **MARK}]}


def test_a_breakpoint_route_reads_what_the_request_before_wrote() -> None:
    cache = PromptCache()
    first = request(ANTHROPIC, text("user", "hello", marked=True))
    use = cache.use(first)
    assert use == CacheUse(prompt_tokens(first), read=0, written=prompt_tokens(first))
    # The next request moves the breakpoint to its new last message: the bytes before it
    # are the same (a marked part reads as the plain string), so it reads them back.
    second = request(ANTHROPIC, text("user", "hello"), text("assistant", "hi"),
                     text("user", "again", marked=True))  # fmt: skip
    use = cache.use(second)
    assert use.read == prompt_tokens(first)
    assert use.written == prompt_tokens(second) - prompt_tokens(first)


def test_a_breakpoint_route_without_breakpoints_caches_nothing() -> None:
    cache = PromptCache()
    plain = request(ANTHROPIC, text("user", "hello"), marked=False)
    assert cache.use(plain) == CacheUse(prompt_tokens(plain))
    assert cache.use(plain) == CacheUse(prompt_tokens(plain))  # nothing was written
    # Written with a breakpoint, it is still not read by a request that has none.
    cache.use(request(ANTHROPIC, text("user", "hello", marked=True)))
    assert cache.use(plain).read == 0


def test_a_prefix_below_the_minimum_is_not_cached() -> None:
    cache = PromptCache()
    short = {"model": ANTHROPIC, "messages": [text("user", "hi", marked=True)]}
    assert prompt_tokens(short) < MIN_CACHED_TOKENS
    assert cache.use(short).written == 0 and cache.use(short).read == 0


def test_a_changed_prefix_misses_and_each_model_has_its_own_cache() -> None:
    cache = PromptCache()
    cache.use(request(ANTHROPIC, text("user", "hello", marked=True)))
    other_tools = request(ANTHROPIC, text("user", "hello", marked=True))
    other_tools["tools"][0] = {**other_tools["tools"][0], "type": "function2"}
    assert cache.use(other_tools).read == 0
    assert (
        cache.use(request("anthropic/claude-opus-4", text("user", "hello", marked=True))).read == 0
    )


def test_an_automatic_route_reads_the_longest_prefix_it_saw_and_bills_no_write() -> None:
    cache = PromptCache()
    first = request("openai/gpt-4o-mini", text("user", "hello"), marked=False)
    assert cache.use(first) == CacheUse(prompt_tokens(first))
    second = request("openai/gpt-4o-mini", text("user", "hello"), text("assistant", "hi"),
                     text("user", "again"), marked=False)  # fmt: skip
    assert cache.use(second) == CacheUse(prompt_tokens(second), read=prompt_tokens(first))


def test_cached_tokens_are_priced_at_the_catalogue_s_cache_prices() -> None:
    sonnet = prices_of(ANTHROPIC)
    assert (sonnet.prompt, sonnet.cache_read, sonnet.cache_write) == (3e-6, 0.3e-6, 3.75e-6)
    use = CacheUse(prompt_tokens=10_000, read=8_000, written=1_000)
    assert sonnet.cost(use, 100) == round(1_000 * 3e-6 + 8_000 * 0.3e-6 + 1_000 * 3.75e-6
                                          + 100 * 15e-6, 8)  # fmt: skip
    assert prices_of("unknown/model").cache_read < prices_of("unknown/model").prompt


def _exchange(body: dict[str, Any]) -> Exchange:
    return Exchange(method="POST", template="/api/v1/chat/completions", params={}, query=[],
                    headers={}, body=json.dumps(body).encode(),
                    content_type="application/json")  # fmt: skip


def test_the_contract_checks_breakpoints_and_usage_against_openrouter_s_description() -> None:
    contract = ChatContract()
    good = request(ANTHROPIC, text("user", "hello", marked=True))
    assert contract.check_request(_exchange(good)) == []
    bad = request(ANTHROPIC, text("user", "hello", marked=True))
    bad["messages"][0]["content"][0]["cache_control"] = {"type": "persistent"}
    assert contract.check_request(_exchange(bad))
    usage = {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12, "cost": 0.1,
             "prompt_tokens_details": {"cached_tokens": 8, "cache_write_tokens": 2}}  # fmt: skip
    chunk = {"id": "gen-1", "choices": [], "usage": usage}
    stream = f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n".encode()
    ex = _exchange(good)
    assert contract.check_response(ex, 200, {}, stream) == []
    usage["prompt_tokens_details"]["cached_tokens"] = "eight"
    assert contract.check_response(ex, 200, {}, json.dumps(chunk).encode())
