"""The VRAM picture: where a model's memory goes (weights, KV cache, activations,
overhead), against the memory of the GPU pools that could hold it, with the chosen one
marked. Rendered by `public/elements/VramChart.jsx`.

The numbers come from `estimate_vram`'s typed result (the `VramEstimate` event), the
chosen pool from `choose_gpu`'s (`GpuChoice`); the pools from the GPU catalog, each
counted at the share of its card that vLLM may claim (`gpu_memory_utilization`), the
same rule `choose_gpu` applies to a single GPU. A pool holds the model when it holds the
upper end of the estimate's band (where the real peak is expected to fall), as in
`choose_gpu`; the chart shades that band and marks its upper end on every pool.
"""

from __future__ import annotations

# Chainlit's CustomElement is only partly annotated.
# pyright: reportUnknownMemberType=false
from typing import Any, Final

import chainlit as cl

from tools.model_results import VramSummary
from tools.sizing import GpuCatalog, GpuPool, load_catalog

ELEMENT: Final = "VramChart"
UTILIZATION: Final = 0.9
_GB: Final = 1e9
_SMALLER_SHOWN: Final = 2
_FITTING_SHOWN: Final = 4


def _capacity_gb(pool: GpuPool) -> float:
    return pool.usable_bytes * UTILIZATION / _GB


def _pools(fit_gb: float, catalog: GpuCatalog, chosen: str | None) -> list[dict[str, Any]]:
    """The pools to draw; `fit_gb` is what a pool must hold (the band's upper end)."""
    by_size = sorted(catalog.pools, key=lambda p: (_capacity_gb(p), p.flex_usd_per_s))
    fitting = [p for p in by_size if _capacity_gb(p) >= fit_gb]
    smaller = [p for p in by_size if _capacity_gb(p) < fit_gb][-_SMALLER_SHOWN:]
    if chosen is None and fitting:
        chosen = min(fitting, key=lambda p: p.flex_usd_per_s).id
    shown = smaller + fitting[:_FITTING_SHOWN]
    if chosen and chosen not in {p.id for p in shown} and (pick := catalog.pool(chosen)):
        shown.append(pick)
    return [
        {
            "id": pool.id,
            "label": pool.label,
            "capacity_gb": round(_capacity_gb(pool), 2),
            "fits": _capacity_gb(pool) >= fit_gb,
            "chosen": pool.id == chosen,
            "price": f"${pool.flex_usd_per_s * 3600:.2f}/h",
        }
        for pool in sorted(shown, key=_capacity_gb)
    ]


def vram_props(
    repo_id: str,
    summary: VramSummary,
    *,
    chosen_pool: str | None = None,
    catalog: GpuCatalog | None = None,
) -> dict[str, Any]:
    """The chart's props (GB, decimal, as the assistant states them)."""
    low, high = summary.band_low_gb, summary.band_high_gb
    pools = _pools(high, catalog or load_catalog(), chosen_pool)
    chosen = next((p for p in pools if p["chosen"]), None)
    note = (
        f"The real peak is expected between {low:.1f} and {high:.1f} GB; GPUs are chosen "
        f"for {high:.1f} GB, the upper end. "
        f"Pools count {UTILIZATION:.0%} of each card, the share vLLM may use. "
        f"{summary.dtype}, {summary.context_tokens:,}-token context, batch {summary.batch}."
    )
    if not any(p["fits"] for p in pools):
        note = "No single GPU holds this; a smaller context or a quantized build would. " + note
    return {
        "model": repo_id,
        "parts": {
            "weights": summary.weights_gb,
            "kv_cache": summary.kv_cache_gb,
            "activations": summary.activations_gb,
            "overhead": summary.overhead_gb,
        },
        "total_gb": summary.total_gb,
        "band": {"low_gb": low, "high_gb": high},
        "pools": pools,
        "chosen": chosen["label"] if chosen else None,
        "note": note,
        "unit": "GB",
    }


def vram_element(props: dict[str, Any]) -> cl.CustomElement:
    return cl.CustomElement(name=ELEMENT, props=props, display="inline")
