"""The ComfyUI registry (`https://api.comfy.org`): which node pack provides a ComfyUI node
class (`GET /comfy-nodes/{comfyNodeName}/node`, the published Comfy API; no key needed),
and `CachedNodeLookup`, which keeps each answer with its date in a JSON file and reuses it
for a while, so a workflow's nodes are not looked up again on every analysis.

Errors: `RateLimited` (429, with `retry_after`), `Upstream` (5xx, timeouts, unreadable
bodies); an unknown class is not an error (None). See `tools.clients.errors`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from tools.clients._http import Clock, HttpApi, Retry, path_segment, utcnow
from tools.clients._messages import ProviderInfo
from tools.clients.errors import NotFound

__all__ = ["COMFY_REGISTRY", "CachedNodeLookup", "ComfyRegistryClient", "RegistryNode"]

COMFY_REGISTRY = ProviderInfo(
    name="ComfyUI registry",
    keys_url="https://registry.comfy.org",  # reads need no key; where packs are published
)


class RegistryNode(BaseModel):
    """A node pack, as the registry describes it (the fields KripTik uses).

    Attributes:
        id: The registry's id, the one `comfy-node-install` takes (e.g. `comfyui-kjnodes`).
        name: Its display name.
        repository: Its source repository URL.
        latest_version: Its latest published version (None when it has none).
        publisher: The publisher's id.
    """

    model_config = ConfigDict(frozen=True)

    id: str
    name: str | None = None
    repository: str | None = None
    latest_version: str | None = None
    publisher: str | None = None


class _Version(BaseModel):
    version: str | None = None


class _Publisher(BaseModel):
    id: str | None = None


class _Node(BaseModel):
    # The registry's `Node` schema, read loosely: only what `RegistryNode` keeps.
    id: str
    name: str | None = None
    repository: str | None = None
    latest_version: _Version | None = None
    publisher: _Publisher | None = None


class ComfyRegistryClient:
    """The registry's public read API.

    Args:
        http: The process-wide HTTP client.
        base_url: `https://api.comfy.org` (a loopback fake in tests).
        timeout_s: Per-request timeout.
        retry: Retry policy (a fake clock in tests).
    """

    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        base_url: str = "https://api.comfy.org",
        timeout_s: float = 30.0,
        retry: Retry | None = None,
    ) -> None:
        self._api = HttpApi(
            http=http, base_url=base_url, info=COMFY_REGISTRY, token=None,
            timeout_s=timeout_s, retry=retry,
        )  # fmt: skip

    def __repr__(self) -> str:
        return f"ComfyRegistryClient(base_url={self._api.base_url!r})"

    async def node_for_class(self, class_type: str) -> RegistryNode | None:
        """The pack that provides the ComfyUI node class `class_type`, or None when the
        registry knows none (404)."""
        path = f"/comfy-nodes/{path_segment(class_type)}/node"
        try:
            data = await self._api.call("GET", path, what=f"a pack with the node {class_type}")
        except NotFound:
            return None
        raw = self._api.model(_Node, data)
        return RegistryNode(
            id=raw.id, name=raw.name, repository=raw.repository,
            latest_version=raw.latest_version.version if raw.latest_version else None,
            publisher=raw.publisher.id if raw.publisher else None,
        )  # fmt: skip


class _Entry(BaseModel):
    checked: datetime
    node: RegistryNode | None


class CachedNodeLookup:
    """`ComfyRegistryClient.node_for_class` with each answer (a pack, or "none") kept with
    the time it was asked, in memory and in a JSON file, and reused until `max_age`.

    Args:
        client: The registry client.
        path: The JSON file to keep answers in (None: memory only).
        max_age: How long an answer is reused.
        clock: The current time (a fake in tests).
    """

    def __init__(
        self,
        client: ComfyRegistryClient,
        *,
        path: Path | None = None,
        max_age: timedelta = timedelta(days=7),
        clock: Clock = utcnow,
    ) -> None:
        self._client, self._path, self._max_age, self._clock = client, path, max_age, clock
        self._entries: dict[str, _Entry] = _read(path)
        self._lock = asyncio.Lock()

    async def node_for_class(self, class_type: str) -> RegistryNode | None:
        """The cached answer while it is fresh, else the registry's (then kept)."""
        entry = self._entries.get(class_type)
        if entry is not None and self._clock() - entry.checked < self._max_age:
            return entry.node
        node = await self._client.node_for_class(class_type)
        self._entries[class_type] = _Entry(checked=self._clock(), node=node)
        if self._path is not None:
            async with self._lock:
                await asyncio.to_thread(_write, self._path, dict(self._entries))
        return node

    def as_of(self, class_types: Iterable[str] = ()) -> date | None:
        """The date of the oldest answer kept for `class_types` (every answer when empty);
        None when none is kept."""
        wanted = list(class_types) or list(self._entries)
        dates = [self._entries[t].checked.date() for t in wanted if t in self._entries]
        return min(dates, default=None)


def _read(path: Path | None) -> dict[str, _Entry]:
    """Answers kept in `path`; a missing or unreadable file is an empty cache."""
    if path is None or not path.is_file():
        return {}
    try:
        raw: Any = json.loads(path.read_text(encoding="utf-8"))
        return {str(k): _Entry.model_validate(v) for k, v in dict(raw["lookups"]).items()}
    except (ValueError, KeyError, TypeError, ValidationError):
        return {}


def _write(path: Path, entries: dict[str, _Entry]) -> None:
    lookups = {k: e.model_dump(mode="json") for k, e in sorted(entries.items())}
    tmp = path.with_name(path.name + ".tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp.write_text(json.dumps({"lookups": lookups}, indent=1), encoding="utf-8")
    tmp.replace(path)  # atomic: a reader never sees half a file
