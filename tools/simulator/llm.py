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
reply's length, and their cost at a small model's prices. Its tool-call ids derive from
the request, so the same request gets the same reply.

A streamed reply sends its text word by word before its tool calls, as models do.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import jsonschema
from jsonschema.protocols import Validator
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from tools.simulator._base import FakeRequest, bearer, json_response, route
from tools.simulator._wire import Exchange
from tools.simulator.openrouter import DEFAULT_KEY, OpenRouterErrors

__all__ = ["Assistant", "LlmFake", "Reply", "with_usage"]

# OpenRouter's price for a small model (USD per token, prompt and completion), and the
# usual ~4 characters per token, for the usage of an assistant's replies.
_PROMPT_USD: float = 0.15e-6
_COMPLETION_USD: float = 0.60e-6
_CHARS_PER_TOKEN = 4

_REQUEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["model", "messages"],
    "properties": {
        "model": {"type": "string", "minLength": 1},
        "stream": {"type": "boolean"},
        "messages": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["role"],
                "properties": {
                    "role": {"enum": ["system", "developer", "user", "assistant", "tool"]}
                },
            },
        },
        "tools": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["type", "function"],
                "properties": {
                    "type": {"const": "function"},
                    "function": {
                        "type": "object",
                        "required": ["name", "parameters"],
                        "properties": {
                            "name": {"type": "string", "pattern": "^[a-zA-Z0-9_-]{1,64}$"}
                        },
                    },
                },
            },
        },
        "models": {"type": "array", "items": {"type": "string"}},
        "usage": {"type": "object", "properties": {"include": {"type": "boolean"}}},
    },
}


class _ChatContract:
    """The chat-completions request body, as OpenAI documents it (the parts we send)."""

    def check_request(self, ex: Exchange) -> list[str]:
        try:
            body = json.loads(ex.body)
        except ValueError:
            return ["the body is not JSON"]
        # Typed through the protocol: the concrete class's stubs leave an overload untyped.
        validator = cast("Validator", jsonschema.Draft202012Validator(_REQUEST_SCHEMA))
        return [f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(body)]

    def check_response(
        self, ex: Exchange, status: int, headers: dict[str, str], body: bytes
    ) -> list[str]:
        return []


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


Assistant = Callable[[dict[str, Any]], Reply]


def with_usage(reply: Reply, body: dict[str, Any]) -> Reply:
    """`reply` with the usage OpenRouter would report for it: tokens from the length of
    what was sent (messages and tool schemas) and of the reply, and their cost."""
    sent = len(json.dumps(body.get("messages") or [])) + len(json.dumps(body.get("tools") or []))
    made = len(reply.text) + len(json.dumps(reply.calls))
    prompt, completion = max(1, sent // _CHARS_PER_TOKEN), max(1, made // _CHARS_PER_TOKEN)
    cost = round(prompt * _PROMPT_USD + completion * _COMPLETION_USD, 8)
    return Reply(reply.text, list(reply.calls), cost, prompt, completion)


class LlmFake(OpenRouterErrors):
    name = "OpenRouter chat"

    def __init__(
        self,
        *,
        rest: ASGIApp | None = None,
        keys: set[str] | None = None,
        assistant: Assistant | None = None,
    ) -> None:
        super().__init__(_ChatContract())
        self.rest = rest
        self.keys = keys if keys is not None else {DEFAULT_KEY}
        self.assistant = assistant
        self.script: list[Reply] = []
        self.provider = "FakeProvider"
        self._ids = itertools.count(1)

    def reset_state(self) -> None:
        self.script.clear()

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
        if self.script:
            reply, ids = self.script.pop(0), None
        elif self.assistant is not None:
            reply = with_usage(self.assistant(body), body)
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
        return {"prompt_tokens": reply.prompt_tokens, "completion_tokens": reply.completion_tokens,
                "total_tokens": total, "cost": reply.cost}  # fmt: skip

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
