"""RunPod serverless GPU pools: a dated table shipped with the package, refreshable from
the live `GET /v2/catalog/gpus` response.

A serverless endpoint asks for *pools* (`gpu.pools: ["ADA_24"]`) and a worker may land on
any card of the pool, so a pool's usable memory is that of its smallest card.

Every view names a pool the same way, through `pool_label` ("24 GB PRO (ADA_24)"): the
tier RunPod's console shows, from this table, and the id a request sends.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date
from functools import lru_cache
from importlib import resources
from typing import Any, Final, cast

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from tools.sizing.errors import SizingError

__all__ = [
    "GpuCatalog",
    "GpuPool",
    "GpuType",
    "catalog_from_runpod",
    "load_catalog",
    "pool_label",
]

_MIB: Final = 1 << 20
_GIB: Final = 1 << 30
# Cards report less than their marketing size (an "48 GB" L40S shows 45 GiB); unknown cards
# from the live catalog get the worst ratio we know.
_UNKNOWN_USABLE_RATIO: Final = 0.937
_SECONDS_PER_HOUR: Final = 3600


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class GpuType(_Frozen):
    """One card, by RunPod's GPU type id."""

    id: str
    name: str
    memory_gb: int
    usable_mib: int = Field(description="Total memory the driver reports for this card.")

    @property
    def usable_bytes(self) -> int:
        return self.usable_mib * _MIB


class GpuPool(_Frozen):
    """A serverless pool: its cards and its price per GPU per second."""

    id: str
    label: str
    memory_gb: int
    flex_usd_per_s: float = Field(gt=0)
    active_usd_per_s: float | None = Field(default=None, gt=0)
    gpu_types: tuple[GpuType, ...] = Field(min_length=1)
    # From the live catalogue's serverless availability: False when no card of the pool
    # has any stock now, None when unknown (the packaged table, or not asked).
    has_capacity: bool | None = None

    @property
    def usable_bytes(self) -> int:
        """Memory of the smallest card in the pool (a worker may get any of them)."""
        return min(t.usable_bytes for t in self.gpu_types)


class GpuCatalog(_Frozen):
    """Pools with their date and provenance."""

    as_of: date
    sources: dict[str, str] = Field(default_factory=dict)
    pools: tuple[GpuPool, ...] = Field(min_length=1)

    def pool(self, pool_id: str) -> GpuPool | None:
        """The pool with this id, if the catalog has it."""
        return next((p for p in self.pools if p.id == pool_id), None)


@lru_cache(maxsize=1)
def load_catalog() -> GpuCatalog:
    """The dated table shipped with KripTik (`gpu_catalog.json`)."""
    text = resources.files("tools.sizing").joinpath("gpu_catalog.json").read_text("utf-8")
    return GpuCatalog.model_validate(json.loads(text))


def pool_label(pool_id: str, catalog: GpuCatalog | None = None) -> str:
    """The one display name of a pool, as the chart, the card, the CLI and the panels show
    it: the tier (from `catalog`, else the packaged table) and the id, "24 GB PRO (ADA_24)".
    An id neither knows is shown as it is."""
    pool = (catalog.pool(pool_id) if catalog else None) or load_catalog().pool(pool_id)
    return f"{pool.label} ({pool_id})" if pool else pool_id


class _LiveGpu(BaseModel):
    """The fields of a v2 `GpuType` we use, from the raw JSON or from a parsed object."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    pool: str | None = None
    memory: int = Field(gt=0, validation_alias=AliasChoices("memory", "memory_gb"))
    price_per_hour: float | None = Field(
        default=None, validation_alias=AliasChoices("serverless_price_hr", "price_per_hour")
    )
    # NONE, LOW, MEDIUM or HIGH when the catalogue was asked for availability.
    availability: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _price(cls, data: object) -> object:
        # Raw JSON nests the serverless $/GPU-hour in `price`; parsed objects flatten it.
        if not isinstance(data, Mapping):
            return data
        raw = cast("Mapping[str, Any]", data)
        price: object = raw.get("price")
        if isinstance(price, Mapping):
            return {**raw, "price_per_hour": cast("Mapping[str, Any]", price).get("serverless")}
        return raw


def _live_gpus(gpus: Mapping[str, Any] | Sequence[object]) -> list[_LiveGpu]:
    raw: object = gpus.get("gpus") if isinstance(gpus, Mapping) else gpus
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        raise SizingError(
            "the RunPod GPU catalog response has no 'gpus' list; keep the packaged table"
        )
    parsed: list[_LiveGpu] = []
    for item in cast("Sequence[object]", raw):
        try:
            parsed.append(_LiveGpu.model_validate(item))
        except ValidationError:
            continue  # one odd entry must not discard the rest of the catalog
    return parsed


def _live_pool(
    pool_id: str, members: list[_LiveGpu], old: GpuPool | None, known: Mapping[str, GpuType]
) -> GpuPool | None:
    """One pool from the live response, or None when neither it nor the table prices it."""
    prices = [g.price_per_hour for g in members if g.price_per_hour]
    flex = max(prices) / _SECONDS_PER_HOUR if prices else (old.flex_usd_per_s if old else None)
    if flex is None:
        return None
    types = tuple(
        GpuType(
            id=g.id,
            name=g.name,
            memory_gb=g.memory,
            usable_mib=known[g.id].usable_mib
            if g.id in known
            else int(g.memory * _GIB * _UNKNOWN_USABLE_RATIO) // _MIB,
        )
        for g in members
    )
    return GpuPool(
        id=pool_id,
        label=old.label if old else f"{min(g.memory for g in members)} GB",
        memory_gb=min(g.memory for g in members),
        flex_usd_per_s=flex,
        active_usd_per_s=old.active_usd_per_s if old else None,
        gpu_types=types,
        has_capacity=_capacity(members),
    )


def _capacity(members: list[_LiveGpu]) -> bool | None:
    """A worker may land on any card of the pool: it has capacity while any card has stock.
    None when the response carried no availability."""
    levels = [g.availability for g in members if g.availability]
    return any(level != "NONE" for level in levels) if levels else None


def catalog_from_runpod(
    gpus: Mapping[str, Any] | Sequence[object], *, as_of: date, base: GpuCatalog | None = None
) -> GpuCatalog:
    """Build a catalog from a `GET /v2/catalog/gpus` response body.

    Pools come from each GPU's `pool`; the per-GPU serverless list price ($/h) becomes the
    flex $/s. A pool the response cannot price keeps the packaged price when there is one.

    Args:
        gpus: The decoded JSON body (`{"gpus": [GpuType, ...]}`), or the GPU types as
            `RunPodClient.gpu_types()` returns them.
        as_of: The date the response was fetched.
        base: Table that supplies usable memory and active prices (default: packaged).

    Raises:
        SizingError: The response holds no serverless GPU we can use.
    """
    base = base or load_catalog()
    known = {t.id: t for p in base.pools for t in p.gpu_types}
    grouped: dict[str, list[_LiveGpu]] = defaultdict(list)
    for gpu in _live_gpus(gpus):
        if gpu.pool:
            grouped[gpu.pool].append(gpu)
    pools = [
        pool
        for pool_id, members in sorted(grouped.items())
        if (pool := _live_pool(pool_id, members, base.pool(pool_id), known)) is not None
    ]
    if not pools:
        raise SizingError(
            "the RunPod GPU catalog lists no priced serverless pools; keep the packaged table"
        )
    return GpuCatalog(
        as_of=as_of,
        sources={
            "pools": "RunPod GET /v2/catalog/gpus",
            "flex_usd_per_s": "price.serverless ($/h per GPU) / 3600, from the same response",
            "active_usd_per_s": base.sources.get("active_usd_per_s", "packaged table"),
            "usable_mib": base.sources.get("usable_mib", "packaged table"),
        },
        pools=tuple(pools),
    )
