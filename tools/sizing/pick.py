"""`GpuPick`: a plan's GPU decision as every view shows it (the VRAM chart, the approval
card, the CLI, the stored deployment): the estimate and its band in GiB, at the context
and dtype it was made for; the pool chosen, by its one display name (`pool_label`), with
its price; why it is not the cheapest pool that fits, when it is not (no capacity); and
the pools the chart draws beside it.

It is built once, by `pick_gpu`, from the very estimate, choice and catalogue a plan was
made from, and views only format it: a view that recomputed any of it (another context,
the packaged prices instead of the live ones) could disagree with the card it sits next to.
"""

from __future__ import annotations

from datetime import date
from typing import Final

from pydantic import BaseModel, ConfigDict, Field

from tools.sizing.catalog import GpuCatalog, GpuPool, load_catalog, pool_label
from tools.sizing.choose import GpuChoice, GpuOption, capacity_note
from tools.sizing.vram import VramEstimate

__all__ = ["GpuPick", "PoolRow", "pick_gpu"]

_GIB: Final = 1 << 30
_SECONDS_PER_HOUR: Final = 3600
# The chart's rows: the largest pools that fall short, and the smallest that hold it.
_SMALLER_SHOWN: Final = 2
_FITTING_SHOWN: Final = 4


class PoolRow(BaseModel):
    """One pool beside the estimate: one card's share vLLM may use, and a worker's price."""

    model_config = ConfigDict(frozen=True)

    pool_id: str
    label: str = Field(description="`pool_label(pool_id)`.")
    capacity_gib: float = Field(description="One card's usable memory x the utilization.")
    gpu_count: int = Field(description="GPUs per worker that `usd_per_hour` pays for.")
    usd_per_hour: float
    fits: bool = Field(description="One card holds the upper end of the band.")
    chosen: bool
    has_capacity: bool | None = None


class GpuPick(BaseModel):
    """The GPU decision of one plan, in the figures and words every view shows."""

    model_config = ConfigDict(frozen=True)

    dtype: str
    context_tokens: int | None = Field(description="None for a workload without tokens.")
    batch: int
    need_gib: float
    low_gib: float
    high_gib: float = Field(description="The band's upper end: what the pool was chosen for.")
    weights_gib: float
    kv_cache_gib: float
    activations_gib: float
    overhead_gib: float
    pool: str | None = Field(description="None when nothing fits.")
    pool_label: str | None
    gpu_count: int | None
    usd_per_second: float | None = Field(description="One running worker, all its GPUs.")
    capacity_note: str | None = Field(description="Why not the cheapest pool that fits.")
    utilization: float
    pools: tuple[PoolRow, ...]
    catalog_as_of: date

    @property
    def usd_per_hour(self) -> float | None:
        return None if self.usd_per_second is None else self.usd_per_second * _SECONDS_PER_HOUR

    def workload(self) -> str:
        """What the estimate was made for, e.g. "bf16, 8,192-token context, batch 1"."""
        context = f"{self.context_tokens:,}-token context, " if self.context_tokens else ""
        return f"{self.dtype}, {context}batch {self.batch}"


def _gib(value: int, digits: int = 2) -> float:
    return round(value / _GIB, digits)


def _capacity_gib(pool: GpuPool, utilization: float) -> float:
    return pool.usable_bytes * utilization / _GIB


def _rows(
    catalog: GpuCatalog, choice: GpuChoice, chosen: GpuOption | None, fit_gib: float
) -> tuple[PoolRow, ...]:
    """The pools the chart draws: the two largest that fall short, the four smallest that
    hold it, and the chosen one; each priced as the choice priced it."""
    utilization = choice.gpu_memory_utilization
    by_size = sorted(catalog.pools, key=lambda p: (_capacity_gib(p, utilization), p.flex_usd_per_s))
    fitting = [p for p in by_size if _capacity_gib(p, utilization) >= fit_gib]
    smaller = [p for p in by_size if _capacity_gib(p, utilization) < fit_gib][-_SMALLER_SHOWN:]
    shown = smaller + fitting[:_FITTING_SHOWN]
    if chosen and chosen.pool_id not in {p.id for p in shown}:
        shown += [p for p in catalog.pools if p.id == chosen.pool_id]
    priced = {o.pool_id: o for o in choice.options}
    rows: list[PoolRow] = []
    for pool in sorted(shown, key=lambda p: _capacity_gib(p, utilization)):
        option = chosen if chosen and chosen.pool_id == pool.id else priced.get(pool.id)
        rows.append(
            PoolRow(
                pool_id=pool.id,
                label=pool_label(pool.id, catalog),
                capacity_gib=round(_capacity_gib(pool, utilization), 2),
                gpu_count=option.gpu_count if option else 1,
                usd_per_hour=option.usd_per_hour if option else pool.flex_usd_per_s * 3600,
                fits=_capacity_gib(pool, utilization) >= fit_gib,
                chosen=chosen is not None and pool.id == chosen.pool_id,
                has_capacity=pool.has_capacity,
            )
        )
    return tuple(rows)


def _note(choice: GpuChoice, option: GpuOption | None) -> str | None:
    """Why the option is not the cheapest that fits; for a pool the user named, only
    whether it has capacity (naming it was the reason)."""
    if option is None or option == choice.best:
        return capacity_note(choice.passed_over, option)
    if option.has_capacity is False:
        return (
            f"{pool_label(option.pool_id)} has no capacity now; its workers wait until a "
            "card is free"
        )
    return None


def pick_gpu(
    estimate: VramEstimate,
    choice: GpuChoice,
    *,
    catalog: GpuCatalog | None = None,
    option: GpuOption | None = None,
) -> GpuPick:
    """The pick of `choice`, in GiB, at `estimate`'s workload.

    Args:
        estimate: The estimate the choice rests on (`choice.estimate` when it offloaded).
        choice: From `choose_gpu`, over `catalog`.
        catalog: The catalogue the choice was made over (default: the packaged table).
        option: The option the plan takes (default `choice.best`): a pool the user named.
    """
    catalog = catalog or load_catalog()
    option = option or choice.best
    overhead = estimate.cuda_context_bytes + estimate.allocator_overhead_bytes
    return GpuPick(
        dtype=estimate.dtype,
        context_tokens=estimate.context_tokens if estimate.diffusion is None else None,
        batch=estimate.batch,
        # The figures the card states to one decimal: held at one decimal, so no view that
        # rounds them again (Python's half-even, JavaScript's half-up) can show another.
        need_gib=_gib(estimate.total_bytes, 1),
        low_gib=_gib(estimate.band.low_bytes, 1),
        high_gib=_gib(estimate.gpu_fit_bytes, 1),
        weights_gib=_gib(estimate.weights_bytes),
        kv_cache_gib=_gib(estimate.kv_cache_bytes),
        activations_gib=_gib(estimate.activation_bytes),
        overhead_gib=_gib(overhead),
        pool=option.pool_id if option else None,
        pool_label=pool_label(option.pool_id, catalog) if option else None,
        gpu_count=option.gpu_count if option else None,
        usd_per_second=option.usd_per_second if option else None,
        capacity_note=_note(choice, option),
        utilization=choice.gpu_memory_utilization,
        pools=_rows(catalog, choice, option, estimate.gpu_fit_bytes / _GIB),
        catalog_as_of=choice.catalog_as_of,
    )
