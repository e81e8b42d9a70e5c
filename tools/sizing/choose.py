"""`choose_gpu`: the cheapest RunPod serverless pool (and GPU count) that holds an estimate.

A single GPU is preferred whenever one holds the estimate; tensor parallelism is the answer
only when no single card is large enough.

vLLM claims `gpu_memory_utilization` (default 0.9) of each card, so an option fits when
the per-GPU requirement stays within that share of the card's usable memory. With tensor
parallelism over n GPUs, weights, activations and KV heads split n ways (KV heads are
replicated when n exceeds them), while each GPU keeps its own CUDA context and pays for
NCCL buffers.

The estimate is calibrated against HF transformers `generate()` (docs/sizing.md), not vLLM:
vLLM pre-allocates `gpu_memory_utilization` of the card and fills the rest with KV blocks,
so on vLLM the estimate is the working set that must fit inside that share, not what
nvidia-smi will show.

A pool the live catalogue reports without capacity (no card in stock for serverless) is
passed over for the next cheapest that fits, and the choice says so (`capacity_note`):
the cheapest pool on paper is no use if no worker can start on it.

Every fit test uses the upper end of the estimate's band (`VramEstimate.gpu_fit_bytes`,
`tools.sizing.band`), not the estimate itself: the real peak may lie a little above the
estimate, and a card chosen on the upper end still holds it.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Final

from pydantic import BaseModel, ConfigDict, Field

from tools.sizing.catalog import GpuCatalog, GpuPool, load_catalog, pool_label
from tools.sizing.diffusion import OffloadOption
from tools.sizing.errors import InvalidOptionError, SizingError
from tools.sizing.requirements import ModelRequirements
from tools.sizing.vram import VramEstimate, estimate_vram

__all__ = [
    "GpuChoice",
    "GpuOption",
    "capacity_note",
    "choose_gpu",
    "per_gpu_bytes",
    "per_gpu_fit_bytes",
]

_GIB: Final = 1 << 30
_NCCL_BYTES: Final = 256 * (1 << 20)
_COUNTS: Final = (1, 2, 4, 8)
_SECONDS_PER_HOUR: Final = 3600


class GpuOption(BaseModel):
    """One way to run the estimate: a pool and a GPU count per worker."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    pool_id: str
    label: str
    gpu_type_ids: tuple[str, ...]
    gpu_count: int
    memory_gb: int
    usable_bytes: int
    budget_bytes: int
    required_bytes: int = Field(description="Per GPU, at the upper end of the band.")
    headroom_bytes: int
    usd_per_second: float
    usd_per_hour: float
    active_usd_per_second: float | None
    has_capacity: bool | None = Field(
        default=None, description="The pool's live availability; None when unknown."
    )

    @property
    def fits(self) -> bool:
        return self.headroom_bytes >= 0


class GpuChoice(BaseModel):
    """The cheapest fitting option, every fitting pool, or why nothing fits."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    fits: bool
    best: GpuOption | None
    options: tuple[GpuOption, ...]
    required_bytes: int = Field(description="On one GPU, at the upper end of the band.")
    gpu_memory_utilization: float
    max_context_that_fits: int | None = None
    max_context_option: GpuOption | None = None
    message: str
    catalog_as_of: date
    offload: OffloadOption | None = Field(
        default=None, description="A diffusers pipeline's offload option the choice assumes."
    )
    estimate: VramEstimate | None = Field(
        default=None,
        description="The estimate the choice rests on, when not the one given: a pipeline "
        "that fits only with model CPU offload.",
    )
    passed_over: tuple[GpuOption, ...] = Field(
        default=(), description="Cheaper fitting options skipped: no capacity now."
    )


def capacity_note(passed_over: tuple[GpuOption, ...], best: GpuOption | None) -> str | None:
    """Why the chosen pool is not the cheapest that fits, in the words every view shows
    ("24 GB (AMPERE_24) has no capacity now; using 24 GB PRO (ADA_24) at $1.12/h");
    None when it is the cheapest."""
    if best is None:
        return None
    if best.has_capacity is False:
        return (
            f"no pool that fits has capacity now; using {pool_label(best.pool_id)} at "
            f"${best.usd_per_hour:.2f}/h, whose workers wait until a card is free"
        )
    if not passed_over:
        return None
    skipped = list(dict.fromkeys(pool_label(o.pool_id) for o in passed_over))
    verb = "has" if len(skipped) == 1 else "have"
    return (
        f"{', '.join(skipped)} {verb} no capacity now; using {pool_label(best.pool_id)} "
        f"at ${best.usd_per_hour:.2f}/h"
    )


def per_gpu_bytes(estimate: VramEstimate, count: int) -> int:
    """Bytes each GPU needs when the estimate is split over `count` GPUs."""
    if count == 1:
        return estimate.total_bytes
    kv_heads = estimate.num_kv_heads or count
    kv_share = max(1 / count, 1 / kv_heads)
    split = (
        estimate.weights_bytes + estimate.activation_bytes + estimate.allocator_overhead_bytes
    ) / count
    return int(
        split + estimate.kv_cache_bytes * kv_share + estimate.cuda_context_bytes + _NCCL_BYTES
    )


def per_gpu_fit_bytes(estimate: VramEstimate, count: int) -> int:
    """What each of `count` GPUs must hold: its share at the upper end of the band."""
    if count == 1:
        return estimate.gpu_fit_bytes
    margin = estimate.gpu_fit_bytes / estimate.total_bytes if estimate.total_bytes else 1.0
    return math.ceil(per_gpu_bytes(estimate, count) * margin)


def _counts(estimate: VramEstimate, max_gpus: int) -> list[int]:
    if estimate.basis != "transformer":
        return [1]  # pipelines and custom code do not shard across GPUs by themselves
    heads = estimate.num_attention_heads or 1
    return [n for n in _COUNTS if n <= max_gpus and heads % n == 0]


def _option(pool: GpuPool, count: int, estimate: VramEstimate, utilization: float) -> GpuOption:
    required = per_gpu_fit_bytes(estimate, count)
    budget = int(pool.usable_bytes * utilization)
    rate = pool.flex_usd_per_s * count
    return GpuOption(
        pool_id=pool.id,
        label=pool.label,
        gpu_type_ids=tuple(t.id for t in pool.gpu_types),
        gpu_count=count,
        memory_gb=pool.memory_gb,
        usable_bytes=pool.usable_bytes,
        budget_bytes=budget,
        required_bytes=required,
        headroom_bytes=budget - required,
        usd_per_second=rate,
        usd_per_hour=rate * _SECONDS_PER_HOUR,
        active_usd_per_second=pool.active_usd_per_s * count if pool.active_usd_per_s else None,
        has_capacity=pool.has_capacity,
    )


def _fitting(
    estimate: VramEstimate, catalog: GpuCatalog, utilization: float, max_gpus: int
) -> list[GpuOption]:
    found: list[GpuOption] = []
    for pool in catalog.pools:
        for count in _counts(estimate, max_gpus):
            option = _option(pool, count, estimate, utilization)
            if option.fits:
                found.append(option)
                break  # the smallest count that fits is the cheapest for this pool
    # One GPU beats a cheaper tensor-parallel set: no NCCL traffic, and a worker is far more
    # likely to find one free card than several on one machine.
    return sorted(found, key=lambda o: (o.gpu_count > 1, o.usd_per_second, -o.headroom_bytes))


def _largest_context(
    estimate: VramEstimate, requirements: ModelRequirements, catalog: GpuCatalog,
    utilization: float, max_gpus: int,
) -> tuple[int, GpuOption] | None:  # fmt: skip
    def cheapest(context: int) -> GpuOption | None:
        smaller = estimate_vram(
            requirements, estimate.dtype, context, estimate.batch, kv_dtype=estimate.kv_dtype,
            attention=estimate.attention, cuda_context_bytes=estimate.cuda_context_bytes,
        )  # fmt: skip
        options = _fitting(smaller, catalog, utilization, max_gpus)
        return options[0] if options else None

    low, high, best = 1, estimate.context_tokens - 1, None
    while low <= high:
        middle = (low + high) // 2
        option = cheapest(middle)
        if option is None:
            high = middle - 1
        else:
            best, low = (middle, option), middle + 1
    return best


def _gib(value: int) -> str:
    return f"{value / _GIB:.1f} GiB"


def _not_fitting(
    estimate: VramEstimate, requirements: ModelRequirements | None, catalog: GpuCatalog,
    gpu_memory_utilization: float, max_gpus: int,
) -> tuple[tuple[int, GpuOption] | None, str]:  # fmt: skip
    """Why nothing fits, and the largest context that would (when one does)."""
    largest = max(catalog.pools, key=lambda p: p.usable_bytes)
    top = max(_counts(estimate, max_gpus))
    message = (
        f"does not fit: needs up to {_gib(estimate.gpu_fit_bytes)} on one GPU "
        f"(estimate {_gib(estimate.total_bytes)}, weights {_gib(estimate.weights_bytes)}); "
        f"even {top} x {largest.id} ({_gib(per_gpu_fit_bytes(estimate, top))} each) exceeds "
        f"{gpu_memory_utilization:.0%} of {_gib(largest.usable_bytes)}"
    )
    found: tuple[int, GpuOption] | None = None
    if requirements is not None and estimate.basis == "transformer" and estimate.context_tokens > 1:
        try:
            found = _largest_context(
                estimate, requirements, catalog, gpu_memory_utilization, max_gpus
            )
        except SizingError:
            found: tuple[int, GpuOption] | None = None
    if found is not None:
        context, option = found
        message += (
            f". It fits up to --context {context} on {option.gpu_count} x {option.pool_id}; "
            "or lower --batch, or serve a quantized variant (--dtype int4 / fp8)"
        )
    else:
        message += (
            ". The weights alone are too large: serve a quantized variant (--dtype int4 / fp8)"
        )
    return found, message


def choose_gpu(
    estimate: VramEstimate,
    *,
    requirements: ModelRequirements | None = None,
    catalog: GpuCatalog | None = None,
    gpu_memory_utilization: float = 0.9,
    max_gpus: int = 8,
) -> GpuChoice:
    """Pick the cheapest pool (and GPU count) that holds `estimate`.

    Args:
        estimate: From `estimate_vram`.
        requirements: The model, so that, when nothing fits, the largest context that
            would fit can be found.
        catalog: Pools to choose from (default: the packaged table).
        gpu_memory_utilization: Share of each card vLLM may use (0 < u <= 1).
        max_gpus: Largest tensor-parallel GPU count to consider (1, 2, 4 or 8).

    Raises:
        InvalidOptionError: Utilization outside (0, 1] or `max_gpus` below 1.
    """
    if not 0 < gpu_memory_utilization <= 1:
        raise InvalidOptionError(
            f"gpu_memory_utilization must be above 0 and at most 1 (got {gpu_memory_utilization})"
        )
    if max_gpus < 1:
        raise InvalidOptionError(f"max_gpus must be at least 1 (got {max_gpus})")
    catalog = catalog or load_catalog()
    given = estimate
    options = _fitting(estimate, catalog, gpu_memory_utilization, max_gpus)
    offloaded = None if options else _offloaded(estimate, requirements)
    if offloaded is not None:  # a pipeline that fits with one component on the GPU at a time
        fitting = _fitting(offloaded, catalog, gpu_memory_utilization, max_gpus)
        estimate, options = (offloaded, fitting) if fitting else (estimate, options)
    if options:
        return _fitting_choice(estimate, given, options, gpu_memory_utilization, catalog)
    found, message = _not_fitting(estimate, requirements, catalog, gpu_memory_utilization,
                                  max_gpus)  # fmt: skip
    return GpuChoice(
        fits=False,
        best=None,
        options=(),
        max_context_that_fits=found[0] if found else None,
        max_context_option=found[1] if found else None,
        required_bytes=estimate.gpu_fit_bytes,
        gpu_memory_utilization=gpu_memory_utilization,
        message=message,
        catalog_as_of=catalog.as_of,
        offload=estimate.offload,
    )


def _fitting_choice(
    estimate: VramEstimate, given: VramEstimate, options: list[GpuOption], utilization: float,
    catalog: GpuCatalog,
) -> GpuChoice:  # fmt: skip
    """The cheapest of `options` that has capacity (the cheapest of all when none reports
    any), and why; `estimate` is `given`, or its offloaded twin."""
    at = next((i for i, o in enumerate(options) if o.has_capacity is not False), 0)
    best, passed_over = options[at], tuple(options[:at])
    gpus = f"{best.gpu_count} x " if best.gpu_count > 1 else ""
    note = capacity_note(passed_over, best)
    message = (
        (
            f"fits on {gpus}{pool_label(best.pool_id, catalog)} with {_gib(best.headroom_bytes)} "
            f"to spare at {utilization:.0%} utilization; ${best.usd_per_second:.5f}/s "
            f"(${best.usd_per_hour:.2f}/h) while a worker runs"
        )
        + _offload_note(estimate, given)
        + (f"; {note}" if note else "")
    )
    return GpuChoice(
        fits=True,
        best=best,
        options=tuple(options),
        required_bytes=estimate.gpu_fit_bytes,
        gpu_memory_utilization=utilization,
        message=message,
        catalog_as_of=catalog.as_of,
        offload=estimate.offload,
        estimate=None if estimate is given else estimate,
        passed_over=passed_over,
    )


def _offloaded(
    estimate: VramEstimate, requirements: ModelRequirements | None
) -> VramEstimate | None:
    """A diffusers pipeline estimated with model CPU offload, when `estimate` kept every
    component on the GPU (sequential offload is too slow to choose for anyone)."""
    sizing = estimate.diffusion
    if requirements is None or sizing is None or sizing.offload != "none":
        return None
    return estimate_vram(
        requirements, estimate.dtype, batch=estimate.batch,
        cuda_context_bytes=estimate.cuda_context_bytes, height=sizing.height,
        width=sizing.width, frames=sizing.frames, offload="model",
    )  # fmt: skip


def _offload_note(estimate: VramEstimate, given: VramEstimate) -> str:
    if estimate is given:
        return ""
    return (
        f", with model CPU offload: no pool holds every component at once "
        f"({_gib(given.gpu_fit_bytes)}), one at a time needs {_gib(estimate.gpu_fit_bytes)}"
    )
