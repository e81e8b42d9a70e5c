"""An OpenAI-compatible chat-completions fake, as OpenRouter serves it, for wire-level tests.

`POST /api/v1/chat/completions` (and `/v1/chat/completions` for OpenAI-compatible base
URLs) answers from a script of replies, one per request: text, or tool calls. With
`"stream": true` it sends server-sent events the way OpenRouter does: a role chunk, the
content or the tool-call arguments split over several chunks, a finish chunk, then a
usage chunk with the request's cost, then `data: [DONE]`. Without streaming it returns
one `chat.completion` with OpenRouter's top-level `provider` field (pydantic-ai's
`OpenRouterModel` requires it). Requests are checked against a small JSON schema of the
chat-completions body; faults (429 with `retry-after-ms`, 500...) come from `FakeProvider`.

Every other path is passed to `rest` (the OpenRouter REST fake: `/key`, `/models`), so
one base URL serves both, as `openrouter.ai/api/v1` does.

    llm = LlmFake(rest=stack.openrouter)
    llm.script.append(Reply(text="hello"))            # or Reply(calls=[("inspect_model", {...})])

With an `assistant` (a function from the request body to a `Reply`, such as
`tools.simulator.assistant.answer`), a request the script does not answer is answered by
it, with usage as OpenRouter would report it: tokens estimated from the request's and the
reply's length, the prompt tokens served from and written to the provider's prompt cache
(`prompt_tokens_details.cached_tokens` and `cache_write_tokens`, see `_prompt_cache`), and
their cost at the model's prices in the OpenRouter catalogue (`openrouter.DEFAULT_MODELS`,
cache reads and writes at their own prices), or a small model's for a model not listed. A
scripted `Reply(measured=True)` gets the same usage. Its tool-call ids derive from the
request, so the same request gets the same reply.

A streamed reply sends its text word by word before its tool calls, as models do.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from tools.simulator._base import FakeRequest, bearer, json_response, route
from tools.simulator._chat_contract import ChatContract
from tools.simulator._prompt_cache import CHARS_PER_TOKEN, CacheUse, PromptCache, prompt_tokens
from tools.simulator.openrouter import DEFAULT_KEY, DEFAULT_MODELS, OpenRouterErrors

__all__ = ["Assistant", "LlmFake", "Prices", "Reply", "prices_of", "with_usage"]


@dataclass(frozen=True)
class Prices:
    """A model's prices in USD per token: prompt, completion, cache read and cache write."""

    prompt: float
    completion: float
    cache_read: float
    cache_write: float

    def cost(self, use: CacheUse, completion_tokens: int) -> float:
        fresh = max(0, use.prompt_tokens - use.read - use.written)
        return round(fresh * self.prompt + use.read * self.cache_read
                     + use.written * self.cache_write + completion_tokens * self.completion,
                     8)  # fmt: skip


# OpenRouter's price for a small model that caches automatically (reads at half price, as
# OpenAI's do; writes free), for a model the catalogue does not list.
_SMALL_MODEL = Prices(prompt=0.15e-6, completion=0.60e-6, cache_read=0.075e-6, cache_write=0.15e-6)


def prices_of(model: str) -> Prices:
    """`model`'s prices from the simulated OpenRouter catalogue (a cache price it does not
    list is the prompt price), or a small model's."""
    for entry in DEFAULT_MODELS:
        if entry["id"] == model:
            pricing: dict[str, str] = entry["pricing"]
            prompt = float(pricing["prompt"])
            return Prices(prompt, float(pricing["completion"]),
                          float(pricing.get("input_cache_read", prompt)),
                          float(pricing.get("input_cache_write", prompt)))  # fmt: skip
    return _SMALL_MODEL


@dataclass
class Reply:
    """One model reply: text, or tool calls as (name, arguments) pairs."""

    text: str = ""
    calls: list[tuple[str, dict[str, Any]]] = field(
        default_factory=list[tuple[str, dict[str, Any]]]
    )
    cost: float = 0.0012
    prompt_tokens: int = 900
    completion_tokens: int = 40
    cached_tokens: int = 0  # of prompt_tokens, read from the prompt cache
    cache_write_tokens: int = 0  # of prompt_tokens, written to it
    measured: bool = False  # a scripted reply whose usage the fake measures, as an assistant's


Assistant = Callable[[dict[str, Any]], Reply]


def with_usage(reply: Reply, body: dict[str, Any], use: CacheUse | None = None) -> Reply:
    """`reply` with the usage OpenRouter would report for it: tokens from the length of
    what was sent (tool schemas and messages) and of the reply, the prompt tokens the cache
    served and took (`use`; none without it), and their cost at the model's prices."""
    use = use or CacheUse(prompt_tokens(body))
    made = len(reply.text) + len(json.dumps(reply.calls))
    completion = max(1, made // CHARS_PER_TOKEN)
    cost = prices_of(str(body.get("model", ""))).cost(use, completion)
    return Reply(reply.text, list(reply.calls), cost, use.prompt_tokens, completion,
                 use.read, use.written)  # fmt: skip


class LlmFake(OpenRouterErrors):
    name = "OpenRouter chat"

    def __init__(
        self,
        *,
        rest: ASGIApp | None = None,
        keys: set[str] | None = None,
        assistant: Assistant | None = None,
    ) -> None:
        super().__init__(ChatContract())
        self.rest = rest
        self.keys = keys if keys is not None else {DEFAULT_KEY}
        self.assistant = assistant
        self.script: list[Reply] = []
        self.provider = "FakeProvider"
        self.cache = PromptCache()
        self._ids = itertools.count(1)

    def reset_state(self) -> None:
        self.script.clear()
        self.cache.clear()

    def authenticate(self, request: Request) -> Any:
        key = bearer(request)
        return key if key in self.keys else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope["path"].endswith("/chat/completions"):
            if self.rest is None:
                await Response(b'{"error":"no such route"}', 404)(scope, receive, send)
            else:
                await self.rest(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    @route("POST", "/api/v1/chat/completions")
    async def completions(self, req: FakeRequest) -> Response:
        return self._answer(req)

    @route("POST", "/v1/chat/completions")
    async def completions_v1(self, req: FakeRequest) -> Response:
        return self._answer(req)

    def _answer(self, req: FakeRequest) -> Response:
        body = req.json()
        use = self.cache.use(body)  # every request reaches the provider's cache
        if self.script:
            reply, ids = self.script.pop(0), None
            reply = with_usage(reply, body, use) if reply.measured else reply
        elif self.assistant is not None:
            reply = with_usage(self.assistant(body), body, use)
            # Ids from the request, not a counter: the same request, the same reply.
            digest = hashlib.sha256(json.dumps(body["messages"], sort_keys=True).encode())
            ids = [f"call_{digest.hexdigest()[:16]}_{n}" for n in range(len(reply.calls))]
        else:
            reply, ids = Reply(text="(the fake has no more replies)"), None
        gen = f"gen-{next(self._ids)}"
        calls = self._tool_calls(reply, ids)
        if body.get("stream"):
            stream = self._sse(gen, body["model"], reply, calls)
            return Response(stream, media_type="text/event-stream")
        return json_response(self._completion(gen, body["model"], reply, calls))

    def _usage(self, reply: Reply) -> dict[str, Any]:
        total = reply.prompt_tokens + reply.completion_tokens
        # OpenRouter's shape: cached_tokens always, cache_write_tokens only where writes
        # are billed (explicit caching).
        details: dict[str, int] = {"cached_tokens": reply.cached_tokens}
        if reply.cache_write_tokens:
            details["cache_write_tokens"] = reply.cache_write_tokens
        return {"prompt_tokens": reply.prompt_tokens, "completion_tokens": reply.completion_tokens,
                "total_tokens": total, "cost": reply.cost,
                "prompt_tokens_details": details}  # fmt: skip

    def _tool_calls(self, reply: Reply, ids: list[str] | None) -> list[dict[str, Any]]:
        return [
            {"index": n, "id": ids[n] if ids else f"call_{n}_{next(self._ids)}", "type": "function",
             "function": {"name": name, "arguments": json.dumps(args)}}
            for n, (name, args) in enumerate(reply.calls)
        ]  # fmt: skip

    def _completion(
        self, gen: str, model: str, reply: Reply, calls: list[dict[str, Any]]
    ) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
        if calls:
            message["tool_calls"] = [{k: v for k, v in c.items() if k != "index"} for c in calls]
        finish = "tool_calls" if reply.calls else "stop"
        return {"id": gen, "object": "chat.completion", "created": 1767225600, "model": model,
                "provider": self.provider,
                "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                "usage": self._usage(reply)}  # fmt: skip

    def _sse(self, gen: str, model: str, reply: Reply, calls: list[dict[str, Any]]) -> bytes:
        def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
            choices = [{"index": 0, "delta": delta, "finish_reason": finish}]
            return {"id": gen, "object": "chat.completion.chunk", "created": 1767225600,
                    "model": model, "provider": self.provider, "choices": choices} | extra  # fmt: skip

        chunks = [chunk({"role": "assistant", "content": ""})]
        words = reply.text.split(" ") if reply.text else []
        chunks += [chunk({"content": w if n == 0 else " " + w}) for n, w in enumerate(words)]
        for call in calls:
            args = call["function"]["arguments"]
            half = len(args) // 2
            first = {
                **call,
                "function": {"name": call["function"]["name"], "arguments": args[:half]},
            }
            chunks.append(chunk({"tool_calls": [first]}))
            chunks.append(
                chunk(
                    {
                        "tool_calls": [
                            {"index": call["index"], "function": {"arguments": args[half:]}}
                        ]
                    }
                )
            )
        chunks.append(chunk({}, "tool_calls" if reply.calls else "stop"))
        final = chunk({}, None, usage=self._usage(reply))
        final["choices"] = []
        chunks.append(final)
        events = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks)
        return (events + "data: [DONE]\n\n").encode()
