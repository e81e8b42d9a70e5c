"""The VRAM picture: where a model's memory goes (weights, KV cache, activations,
overhead), against the memory of the GPU pools that could hold it, with the chosen one
marked. Rendered by `public/elements/VramChart.jsx`.

Every figure is in GiB, the unit of the approval card, and the chart says which workload
(dtype, context, batch) it was drawn for. It is drawn three times at most in a turn, each
time from a typed value, never recomputed here:

```
VramEstimate  estimate_vram's summary: the parts and the band; the pools from the
              packaged table, unpriced (no pool is chosen yet, and the live prices are
              not known here)
GpuChoice     choose_gpu's pick (tools.sizing.pick): the pool it chose, priced from the
              same catalogue the tool used
Approval      the deployment plan's pick (DeploymentPlan.gpu_pick), the one the approval
              card shows: the chart then names the same pool, price and context
```
A pool holds the model when one card, at the share vLLM may claim (`utilization`), holds
the upper end of the estimate's band, as in `choose_gpu`; the chart shades that band and
marks its upper end on every pool.
"""

from __future__ import annotations

# Chainlit's CustomElement is only partly annotated.
# pyright: reportUnknownMemberType=false
from typing import Any, Final

import chainlit as cl

from tools.model_results import VramSummary
from tools.sizing import GpuPick, PoolRow, load_catalog, pool_label

ELEMENT: Final = "VramChart"
UTILIZATION: Final = 0.9
UNIT: Final = "GiB"
_GB_PER_GIB: Final = (1 << 30) / 1e9
_SMALLER_SHOWN: Final = 2
_FITTING_SHOWN: Final = 4


def _gib(gb: float) -> float:
    """A decimal-GB figure of `VramSummary` (what the model reads) in GiB."""
    return round(gb / _GB_PER_GIB, 2)


def _unpriced_pools(fit_gib: float) -> list[dict[str, Any]]:
    """The packaged pools beside an estimate no pool was chosen for yet: no price, since a
    packaged price could contradict the live one the card will show."""
    pools = load_catalog().pools
    capacity = {p.id: p.usable_bytes * UTILIZATION / (1 << 30) for p in pools}
    by_size = sorted(pools, key=lambda p: (capacity[p.id], p.flex_usd_per_s))
    fitting = [p for p in by_size if capacity[p.id] >= fit_gib][:_FITTING_SHOWN]
    smaller = [p for p in by_size if capacity[p.id] < fit_gib][-_SMALLER_SHOWN:]
    return [
        {"id": p.id, "label": pool_label(p.id), "capacity_gb": round(capacity[p.id], 2),
         "fits": capacity[p.id] >= fit_gib, "chosen": False, "price": "", "note": None}
        for p in smaller + fitting
    ]  # fmt: skip


def vram_props(repo_id: str, summary: VramSummary) -> dict[str, Any]:
    """The chart of an estimate alone (`estimate_vram`), before any pool is chosen."""
    low, high = _gib(summary.band_low_gb), _gib(summary.band_high_gb)
    pools = _unpriced_pools(high)
    workload = f"{summary.dtype}, {summary.context_tokens:,}-token context, batch {summary.batch}"
    note = (
        f"The real peak is expected between {low:.1f} and {high:.1f} {UNIT}; GPUs are chosen "
        f"for {high:.1f} {UNIT}, the upper end. Pools count {UTILIZATION:.0%} of each card, "
        "the share vLLM may use; they are priced once one is chosen."
    )
    if not any(p["fits"] for p in pools):
        note = "No single GPU holds this; a smaller context or a quantized build would. " + note
    parts = (summary.weights_gb, summary.kv_cache_gb, summary.activations_gb, summary.overhead_gb)
    return _props(repo_id, _gib(summary.total_gb), (low, high), tuple(map(_gib, parts)),
                  pools, chosen=None, subtitle=f"Estimate for {workload}.", note=note)  # fmt: skip


def _row(row: PoolRow) -> dict[str, Any]:
    gpus = f"{row.gpu_count} x " if row.gpu_count > 1 else ""
    return {
        "id": row.pool_id, "label": row.label, "capacity_gb": row.capacity_gib,
        "fits": row.fits, "chosen": row.chosen, "price": f"{gpus}${row.usd_per_hour:.2f}/h",
        "note": "no capacity now" if row.has_capacity is False else None,
    }  # fmt: skip


def pick_props(repo_id: str, pick: GpuPick, *, source: str) -> dict[str, Any]:
    """The chart of a pick: `choose_gpu`'s, or the deployment plan's (`source` says which,
    e.g. "the deployment plan on the approval card")."""
    chosen = (
        f"{pick.gpu_count} x {pick.pool_label} at ${pick.usd_per_hour:.2f}/h per worker"
        if pick.pool_label and pick.gpu_count and pick.usd_per_hour is not None
        else None
    )
    note = (
        f"The real peak is expected between {pick.low_gib:.1f} and {pick.high_gib:.1f} {UNIT}; "
        f"GPUs are chosen for {pick.high_gib:.1f} {UNIT}, the upper end. Pools count "
        f"{pick.utilization:.0%} of each card, the share vLLM may use; prices as of "
        f"{pick.catalog_as_of.isoformat()}."
    )
    if pick.capacity_note:
        note = f"{pick.capacity_note[0].upper()}{pick.capacity_note[1:]}. {note}"
    if chosen is None:
        note = "No GPU holds this; a smaller context or a quantized build would. " + note
    parts = (pick.weights_gib, pick.kv_cache_gib, pick.activations_gib, pick.overhead_gib)
    return _props(repo_id, pick.need_gib, (pick.low_gib, pick.high_gib), parts,
                  [_row(r) for r in pick.pools], chosen=chosen,
                  subtitle=f"From {source}: {pick.workload()}.", note=note)  # fmt: skip


def _props(
    repo_id: str, total: float, band: tuple[float, float], parts: tuple[float, ...],
    pools: list[dict[str, Any]], *, chosen: str | None, subtitle: str, note: str,
) -> dict[str, Any]:  # fmt: skip
    # The keys keep their `_gb` names so that charts stored before GiB still draw; `unit`
    # says what the numbers are.
    weights, kv_cache, activations, overhead = parts
    return {
        "model": repo_id,
        "parts": {"weights": weights, "kv_cache": kv_cache, "activations": activations,
                  "overhead": overhead},
        "total_gb": total, "band": {"low_gb": band[0], "high_gb": band[1]},
        "pools": pools, "chosen": chosen, "subtitle": subtitle, "note": note, "unit": UNIT,
    }  # fmt: skip


def vram_element(props: dict[str, Any]) -> cl.CustomElement:
    return cl.CustomElement(name=ELEMENT, props=props, display="inline")
