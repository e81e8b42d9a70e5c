"""`agent.completions.ChatClient` sends what the stock OpenAI SDK sends, without its walk
over messages and tools: pinned on the types (nothing there to transform) and on the wire."""

from __future__ import annotations

import json
import types
from typing import Annotated, Any, Union, get_args, get_origin, get_type_hints

import httpx2
import pytest
from openai import AsyncOpenAI, DefaultAsyncHttpxClient, omit
from openai._utils import PropertyInfo  # pyright: ignore[reportPrivateUsage]
from openai.types.chat import ChatCompletionMessageParam, ChatCompletionToolUnionParam
from typing_extensions import is_typeddict

from agent.completions import PASSED_THROUGH, ChatClient

_TYPES = {"messages": ChatCompletionMessageParam, "tools": ChatCompletionToolUnionParam}


def _transformed_fields(tp: Any, path: str, seen: set[int]) -> list[str]:
    """Every place under `tp` where the SDK's walk would change a value: an alias or a format."""
    if id(tp) in seen:
        return []
    seen.add(id(tp))
    found: list[str] = []
    if get_origin(tp) is Annotated:
        found += [
            path for m in tp.__metadata__ if isinstance(m, PropertyInfo) and (m.alias or m.format)
        ]
    if is_typeddict(tp):
        for name, hint in get_type_hints(tp, include_extras=True).items():
            found += _transformed_fields(hint, f"{path}.{name}", seen)
    elif get_origin(tp) in (Union, types.UnionType) or get_args(tp):
        for arg in get_args(tp):
            found += _transformed_fields(arg, path, seen)
    return found


@pytest.mark.parametrize("field", PASSED_THROUGH)
def test_passed_through_fields_have_nothing_to_transform(field: str) -> None:
    assert _transformed_fields(_TYPES[field], field, set()) == []


def test_the_type_walk_finds_an_alias() -> None:
    from openai.types.beta.agents.automation_target_param import (
        AutomationTargetParamNewSessionAgentCompaction as WithAlias,
    )

    assert _transformed_fields(WithAlias, "x", set()) == ["x.async_"]


_MESSAGES: list[dict[str, Any]] = [
    {"role": "system", "content": "You are KripTik."},
    {"role": "user", "content": [{"type": "text", "text": "size tencent/HunyuanWorld-Voyager"}]},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "inspect_model", "arguments": '{"repo_id": "x/y"}'},
            }
        ],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": "13B parameters"},
    {"role": "assistant", "content": "It needs 26 GB."},
]
_TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "inspect_model",
            "description": "Inspect a model.",
            "parameters": {
                "type": "object",
                "properties": {"repo_id": {"type": "string", "description": "The repo."}},
                "required": ["repo_id"],
                "additionalProperties": False,
            },
            "strict": True,
        },
    }
]


async def _sent(client_class: type[AsyncOpenAI], *, stream: bool) -> dict[str, Any]:
    bodies: list[dict[str, Any]] = []

    def answer(request: httpx2.Request) -> httpx2.Response:
        bodies.append(json.loads(request.content))
        if stream:
            return httpx2.Response(
                200, content=b"data: [DONE]\n\n", headers={"content-type": "text/event-stream"}
            )
        return httpx2.Response(200, json={
            "id": "c1", "object": "chat.completion", "created": 1, "model": "m",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": "ok"}}],
        })  # fmt: skip

    http = DefaultAsyncHttpxClient(transport=httpx2.MockTransport(answer))
    client = client_class(base_url="http://127.0.0.1:9/v1", api_key="k", http_client=http)
    create: Any = client.chat.completions.create  # the fixtures are plain dicts, as pydantic-ai's
    reply: Any = await create(
        model="m", messages=iter(_MESSAGES), tools=_TOOLS, tool_choice="auto",
        parallel_tool_calls=True, stream=stream,
        stream_options={"include_usage": True} if stream else omit,
        temperature=0.2, max_tokens=omit, seed=omit, user="u1",
        extra_headers={"X-Title": "KripTik"}, extra_body={"usage": {"include": True}},
    )  # fmt: skip
    if stream:
        async for _ in reply:
            pass
    await client.close()
    (body,) = bodies
    return body


@pytest.mark.parametrize("stream", [True, False])
async def test_the_same_body_as_the_stock_sdk(stream: bool) -> None:
    ours, stock = await _sent(ChatClient, stream=stream), await _sent(AsyncOpenAI, stream=stream)
    assert ours == stock
    assert ours["messages"] == _MESSAGES
    assert ours["usage"] == {"include": True}


def test_copies_keep_the_fast_path() -> None:
    client = ChatClient(base_url="http://127.0.0.1:9/v1", api_key="k")
    copy = client.with_options(max_retries=1)
    assert type(copy) is ChatClient
    assert type(copy.chat.completions).__name__ == "_Completions"
