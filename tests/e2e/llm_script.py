"""A loopback OpenAI-compatible chat server that plays scenarios, for the UI tests.

The scenario is chosen by the last user message of each request, and the step within it by
how many assistant messages follow that message: so one server serves several users and
several tests at once, with no state between requests except the recorded bodies (which
the tests scan for planted keys). Text streams in small chunks with short pauses, so a
browser can watch it arrive. A test that must see a reply mid-stream holds it: the stream
stops before a given word until the test releases it, however slow the machine.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

MODEL = "kriptik-test/scripted"
DEPLOY_REPO = "Qwen/Qwen2.5-7B-Instruct"
DEPLOY = f"Deploy {DEPLOY_REPO} as an API I can call."
INTRO = f"I'll size {DEPLOY_REPO} first, then set it up on your RunPod account."


@dataclass(frozen=True)
class Tool:
    name: str
    args: dict[str, Any]


@dataclass(frozen=True)
class Say:
    text: str
    tools: tuple[Tool, ...] = ()
    pause_s: float = 0.02


Script = Callable[[list[dict[str, Any]]], Say]


def _last_tool_result(messages: list[dict[str, Any]]) -> str:
    tools = [m for m in messages if m.get("role") == "tool"]
    return str(tools[-1].get("content", "")) if tools else ""


def _deploy(step: int, messages: list[dict[str, Any]]) -> Say:
    match step:
        case 0:
            return Say(INTRO, (Tool("estimate_vram", {"repo_id": DEPLOY_REPO}),), pause_s=0.15)
        case 1:
            reason = "to create the endpoint on your RunPod account"
            return Say("", (Tool("request_api_key", {"provider": "runpod", "reason": reason}),))
        case 2:
            args = {
                "repo_id": DEPLOY_REPO,
                "pool": "ADA_24",
                "gpu_count": 1,
                "workers_min": 0,
                "workers_max": 1,
            }
            return Say("", (Tool("create_runpod_endpoint", args),))
        case _:
            result = _last_tool_result(messages)
            try:
                report = json.loads(result)
                where = f"{DEPLOY_REPO} is {report['state']} on RunPod (endpoint {report['endpoint_id']})."
            except (ValueError, KeyError, TypeError):
                where = f"Here is where things stand: {result[:120]}"
            return Say(f"{where} That is all for now.")


def _ask_key(provider: str) -> Script:
    def play(messages: list[dict[str, Any]]) -> Say:
        if _assistant_turns(messages) == 0:
            return Say(
                "",
                (Tool("request_api_key", {"provider": provider, "reason": "to read the model"}),),
            )
        return Say(f"Key question answered: {_last_tool_result(messages)[:160]}")

    return play


def _approve_endpoint(messages: list[dict[str, Any]]) -> Say:
    if _assistant_turns(messages) == 0:
        args = {
            "repo_id": DEPLOY_REPO,
            "pool": "ADA_24",
            "gpu_count": 1,
            "workers_min": 1,
            "workers_max": 2,
        }
        return Say("", (Tool("create_runpod_endpoint", args),))
    return Say(f"Approval answered: {_last_tool_result(messages)[:160]}")


def _echo(word: str, count: int) -> Script:
    return lambda _messages: Say(" ".join(f"{word}{i}" for i in range(count)), pause_s=0.05)


def _assistant_turns(messages: list[dict[str, Any]]) -> int:
    last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
    return sum(1 for m in messages[last_user + 1 :] if m.get("role") == "assistant")


def _user_text(messages: list[dict[str, Any]]) -> str:
    users = [m for m in messages if m.get("role") == "user"]
    content = users[-1].get("content", "") if users else ""
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return str(content)


def choose(messages: list[dict[str, Any]]) -> Say:
    text = _user_text(messages)
    if text == DEPLOY:
        return _deploy(_assistant_turns(messages), messages)
    if text.startswith("e2e ask "):
        return _ask_key(text.removeprefix("e2e ask ").strip())(messages)
    if text == "e2e approve":
        return _approve_endpoint(messages)
    if text == "e2e recall":
        earlier = [str(m.get("content")) for m in messages if m.get("role") == "user"][:-1]
        return Say("Earlier you said: " + " | ".join(earlier) if earlier else "Nothing earlier.")
    if text.startswith("e2e echo "):
        word, _, count = text.removeprefix("e2e echo ").partition(" ")
        return _echo(word, int(count or 40))(messages)
    return Say(f"You said: {text}")


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-e2e", "object": "chat.completion.chunk", "created": int(time.time()),
        "model": MODEL, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }  # fmt: skip


def _pieces(text: str) -> list[str]:
    words = text.split(" ")
    return [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words) if w or i]


@dataclass
class Hold:
    """Streams stop before the first piece that contains `before`, until `release()`."""

    before: str
    _released: threading.Event = field(default_factory=threading.Event)

    def release(self) -> None:
        self._released.set()

    async def passed(self) -> None:
        if not self._released.is_set():  # the server's loop runs on in the meantime
            await asyncio.to_thread(self._released.wait)


async def _stream(say: Say, holds: Callable[[str], list[Hold]]) -> AsyncIterator[bytes]:
    def line(data: dict[str, Any]) -> bytes:
        return f"data: {json.dumps(data)}\n\n".encode()

    yield line(_chunk({"role": "assistant", "content": ""}))
    for piece in _pieces(say.text) if say.text else []:
        await asyncio.sleep(say.pause_s)  # a model producing tokens, not a wait for state
        for hold in holds(piece):
            await hold.passed()
        yield line(_chunk({"content": piece}))
    for index, tool in enumerate(say.tools):
        call = {"index": index, "id": f"call_{index}_{tool.name}", "type": "function",
                "function": {"name": tool.name, "arguments": json.dumps(tool.args)}}  # fmt: skip
        yield line(_chunk({"tool_calls": [call]}))
    yield line(_chunk({}, "tool_calls" if say.tools else "stop"))
    usage = {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150}
    yield line(
        {
            "id": "chatcmpl-e2e",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": MODEL,
            "choices": [],
            "usage": usage,
        }
    )
    yield b"data: [DONE]\n\n"


def _whole(say: Say) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": say.text or None}
    if say.tools:
        message["tool_calls"] = [
            {"id": f"call_{i}_{t.name}", "type": "function",
             "function": {"name": t.name, "arguments": json.dumps(t.args)}}
            for i, t in enumerate(say.tools)
        ]  # fmt: skip
    return {
        "id": "chatcmpl-e2e", "object": "chat.completion", "created": int(time.time()),
        "model": MODEL, "provider": "e2e",
        "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if say.tools else "stop"}],
        "usage": {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150},
    }  # fmt: skip


@dataclass
class ScriptedLLM:
    """The server's app and everything it was sent (raw request bodies, as text)."""

    bodies: list[str] = field(default_factory=list[str])
    _holds: list[Hold] = field(default_factory=list[Hold])
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def hold(self, *, before: str) -> Hold:
        """Stop every reply before its first piece containing `before`, until released."""
        hold = Hold(before)
        with self._lock:
            self._holds.append(hold)
        return hold

    def release_all(self) -> None:
        with self._lock:
            for hold in self._holds:
                hold.release()

    def _holds_for(self, piece: str) -> list[Hold]:
        with self._lock:
            return [hold for hold in self._holds if hold.before in piece]

    async def completions(self, request: Request) -> Response:
        raw = (await request.body()).decode()
        with self._lock:
            self.bodies.append(raw + "\n" + json.dumps(dict(request.headers)))
        body = json.loads(raw)
        if _user_text(body.get("messages", [])) == "e2e fail":
            return JSONResponse(
                {"error": {"message": "scripted failure", "type": "invalid_request_error"}}, 400
            )
        say = choose(body.get("messages", []))
        if body.get("stream"):
            return StreamingResponse(_stream(say, self._holds_for), media_type="text/event-stream")
        return JSONResponse(_whole(say))

    async def models(self, _request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [{"id": MODEL, "object": "model"}]})

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/v1/chat/completions", self.completions, methods=["POST"]),
            Route("/v1/models", self.models, methods=["GET"]),
        ])  # fmt: skip

    def captured(self) -> str:
        with self._lock:
            return "\n".join(self.bodies)
