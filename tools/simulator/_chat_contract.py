"""The chat-completions contract of the LLM fake: the request body (the parts we send, as
OpenAI documents them), every `cache_control` breakpoint in it, and the usage of every
response (streamed or not), the last two against OpenRouter's published description
(`openrouter.subset.openapi.json`: `ChatContentCacheControl`, `ChatUsage`)."""

from __future__ import annotations

import json
from functools import cache
from typing import Any, cast

import jsonschema
from jsonschema.protocols import Validator

from tools.simulator._contract import load_spec
from tools.simulator._wire import Exchange

__all__ = ["ChatContract", "breakpoints"]

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


@cache
def _openrouter(name: str) -> Validator:
    """A validator for one schema of OpenRouter's description, its `$ref`s resolvable."""
    spec = load_spec("openrouter.subset.openapi.json")
    schema = {**spec["components"]["schemas"][name], "components": spec["components"]}
    # Typed through the protocol: the concrete class's stubs leave an overload untyped.
    return cast("Validator", jsonschema.Draft202012Validator(schema))


def _errors(validator: Validator, value: Any, where: str) -> list[str]:
    return [f"{where}: {e.message}" for e in validator.iter_errors(value)]


def breakpoints(body: Any) -> list[dict[str, Any]]:
    """Every block of a request that carries `cache_control`: tool schemas, content parts."""
    if not isinstance(body, dict):
        return []
    request = cast("dict[str, Any]", body)
    blocks: list[Any] = list(request.get("tools") or [])
    messages: list[Any] = list(request.get("messages") or [])
    for message in messages:
        content: Any = (
            cast("dict[str, Any]", message).get("content") if isinstance(message, dict) else None
        )
        blocks += content if isinstance(content, list) else []
    return [b for b in blocks if isinstance(b, dict) and "cache_control" in b]


def _usages(body: bytes) -> list[object]:
    """The usage objects of a response: a chat completion's, or a stream's chunks'."""
    text = body.decode(errors="replace")
    if not text.startswith("data: "):
        parsed: object = json.loads(text) if text.startswith("{") else {}
        found = [parsed]
    else:
        found = [json.loads(line[6:]) for line in text.splitlines()
                 if line.startswith("data: {")]  # fmt: skip
    return [c["usage"] for c in found if isinstance(c, dict) and "usage" in c]


class ChatContract:
    """The chat-completions request and the usage of its response (see the module)."""

    def check_request(self, ex: Exchange) -> list[str]:
        try:
            body = json.loads(ex.body)
        except ValueError:
            return ["the body is not JSON"]
        validator = cast("Validator", jsonschema.Draft202012Validator(_REQUEST_SCHEMA))
        found = [f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(body)]
        marker = _openrouter("ChatContentCacheControl")
        for block in breakpoints(body):
            found += _errors(marker, block["cache_control"], "cache_control")
        return found

    def check_response(
        self, ex: Exchange, status: int, headers: dict[str, str], body: bytes
    ) -> list[str]:
        if status != 200:
            return []
        usage = _openrouter("ChatUsage")
        return [e for u in _usages(body) for e in _errors(usage, u, "usage")]
