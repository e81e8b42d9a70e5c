"""Prompt caching as OpenRouter reports it, for the chat-completions fake: how many of a
request's prompt tokens were read from the provider's cache (`usage.prompt_tokens_details.
cached_tokens`) and how many were written to it (`cache_write_tokens`).

- Routes with explicit breakpoints (`anthropic/*`, `google/*`, as OpenRouter documents
  them): a prefix is written only where a block carries `cache_control`, and only when it
  holds at least `MIN_CACHED_TOKENS` (Anthropic's minimum); a later request with a
  breakpoint reads the longest written prefix it starts with that ends at or before its last
  breakpoint (Anthropic looks back from each breakpoint), and pays to write what its last
  breakpoint adds. A request without breakpoints reads and writes nothing.
- Every other route caches automatically (OpenAI, DeepSeek...): each request's prefixes of
  `MIN_CACHED_TOKENS` or more are kept, a later request reads the longest it starts with,
  and no write is billed.

A request is read in the order providers render it: the tool schemas, then the messages
(system first); a block per tool, per message head and per content part, with a string
content read as one text part. `cache_control` is not part of a block's bytes, so moving a
breakpoint (the last message carries it, then the next one does) keeps the prefix the same.
Tokens are the usual ~4 characters each. Each model has a cache of its own.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CHARS_PER_TOKEN", "MIN_CACHED_TOKENS", "CacheUse", "PromptCache", "explicit_route",
    "prompt_tokens",
]  # fmt: skip

CHARS_PER_TOKEN = 4
MIN_CACHED_TOKENS = 1024
_EXPLICIT_ROUTES = ("anthropic/", "google/")


def explicit_route(model: str) -> bool:
    """Whether OpenRouter caches this model only at `cache_control` breakpoints."""
    return model.removeprefix("~").startswith(_EXPLICIT_ROUTES)


@dataclass(frozen=True)
class CacheUse:
    """A request's prompt tokens, and how many of them the cache served and took."""

    prompt_tokens: int
    read: int = 0
    written: int = 0


@dataclass(frozen=True)
class _Boundary:
    digest: str  # of the prefix ending here
    tokens: int  # the prefix's tokens
    breakpoint: bool  # the block ending here carries cache_control


def _dicts(value: object) -> list[dict[str, Any]]:
    items: list[Any] = value if isinstance(value, list) else []  # pyright: ignore[reportUnknownVariableType]
    return [item for item in items if isinstance(item, dict)]


def _block(value: dict[str, Any]) -> tuple[str, bool]:
    clean = {k: v for k, v in value.items() if k != "cache_control"}
    return json.dumps(clean, sort_keys=True, ensure_ascii=False), "cache_control" in value


def _blocks(body: dict[str, Any]) -> Iterator[tuple[str, bool]]:
    """Each block of the request, in render order: (its bytes, whether it is a breakpoint)."""
    for tool in _dicts(body.get("tools")):
        yield _block(tool)
    for message in _dicts(body.get("messages")):
        content: object = message.get("content")
        parts = [{"type": "text", "text": content}] if isinstance(content, str) else _dicts(content)
        yield _block({k: v for k, v in message.items() if k != "content"})
        for part in parts:
            yield _block(part)


def _boundaries(body: dict[str, Any]) -> list[_Boundary]:
    running, chars, found = hashlib.sha256(), 0, list[_Boundary]()
    for text, marked in _blocks(body):
        data = text.encode()
        running.update(len(data).to_bytes(8, "big") + data)
        chars += len(text)
        found.append(_Boundary(running.copy().hexdigest(), chars // CHARS_PER_TOKEN, marked))
    return found


def prompt_tokens(body: dict[str, Any]) -> int:
    """The request's prompt tokens: its tool schemas and messages, ~4 characters each."""
    bounds = _boundaries(body)
    return max(1, bounds[-1].tokens if bounds else 0)


class PromptCache:
    """What the providers behind OpenRouter keep cached, per model, for one fake."""

    def __init__(self) -> None:
        self._kept: dict[tuple[str, str], int] = {}  # (model, prefix digest) -> tokens

    def clear(self) -> None:
        self._kept.clear()

    def use(self, body: dict[str, Any]) -> CacheUse:
        """Serve `body`'s prompt from the cache where it can, and keep what it adds."""
        model = str(body.get("model", ""))
        bounds = _boundaries(body)
        prompt = max(1, bounds[-1].tokens if bounds else 0)  # as `prompt_tokens` counts
        if explicit_route(model):
            marks = [n for n, b in enumerate(bounds) if b.breakpoint]
            readable = bounds[: marks[-1] + 1] if marks else []
            kept = [bounds[n] for n in marks if bounds[n].tokens >= MIN_CACHED_TOKENS]
        else:
            readable = bounds
            kept = [b for b in bounds if b.tokens >= MIN_CACHED_TOKENS]
        read = max((b.tokens for b in readable if (model, b.digest) in self._kept), default=0)
        for bound in kept:
            self._kept[(model, bound.digest)] = bound.tokens
        top = max((b.tokens for b in kept), default=0)
        written = max(0, top - read) if explicit_route(model) else 0
        return CacheUse(prompt, read, written)
