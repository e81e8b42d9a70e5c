"""The VRAM band: where the real peak is expected around an estimate, and the GPU chosen on
its upper end, so that a card chosen for a measured model holds its measured peak."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from tests.sizing.conftest import requirements
from tools.sizing import (
    VramBand,
    band_for,
    choose_gpu,
    estimate_vram,
    load_catalog,
    requirements_from_config,
)
from tools.sizing.band import BAND_RULES, BandBasis

GIB = 1 << 30
TOTAL = 20 * GIB
MEASURED: dict[str, Any] = json.loads(
    (Path(__file__).parent / "fixtures" / "measured_h100.json").read_text(encoding="utf-8")
)
SCENARIO = MEASURED["scenario"]


@pytest.mark.parametrize(
    ("basis", "low", "high"),
    [
        ("transformer", TOTAL / 1.10, TOTAL * 1.03),
        ("diffusion", TOTAL / 1.15, TOTAL * 1.10),
        ("weights-only", TOTAL / 1.5, TOTAL * 1.25),
        ("model-card", TOTAL / 1.5, TOTAL * 1.25),
    ],
)
def test_each_basis_has_its_own_band(basis: BandBasis, low: float, high: float) -> None:
    band = band_for(TOTAL, basis)
    assert band.low_bytes == math.floor(low) and band.high_bytes == math.ceil(high)
    assert band.low_bytes < TOTAL < band.high_bytes
    assert band.reason and band.source


def test_a_rough_estimate_gets_a_wider_band_than_a_calibrated_one() -> None:
    widths = {b: band_for(TOTAL, b).high_bytes - band_for(TOTAL, b).low_bytes for b in BAND_RULES}
    assert widths["transformer"] < widths["diffusion"] < widths["weights-only"]
    assert band_for(TOTAL, "transformer").reason != band_for(TOTAL, "model-card").reason


def test_nonsense_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        band_for(-1, "transformer")
    with pytest.raises(ValueError, match="no VRAM band for basis 'quantum'"):
        band_for(TOTAL, "quantum")  # pyright: ignore[reportArgumentType]
    assert band_for(0, "transformer") == VramBand(
        low_bytes=0, high_bytes=0, reason=BAND_RULES["transformer"].reason,
        source=BAND_RULES["transformer"].source,
    )  # fmt: skip


def test_an_estimate_carries_its_band_and_fits_gpus_on_the_upper_end() -> None:
    transformer = estimate_vram(requirements("Llama-3.1-8B"), "bf16", 4096, 1)
    assert transformer.band == band_for(transformer.total_bytes, "transformer")
    assert transformer.gpu_fit_bytes == transformer.band.high_bytes > transformer.total_bytes
    rough = estimate_vram(requirements_from_config({"model_type": "mystery"}, params=7 * 10**9))
    assert rough.basis == "weights-only"
    assert rough.band == band_for(rough.total_bytes, "weights-only")


@pytest.mark.parametrize("model", MEASURED["models"], ids=lambda m: m["name"])
def test_the_band_holds_every_measured_peak(model: dict[str, Any]) -> None:
    """Every row of the measured table falls inside its band, so the card the upper end
    chooses holds it."""
    peak = max(model[stage]["peak_incl_context"] for stage in ("prefill", "generate"))
    estimate = estimate_vram(
        requirements(model["name"]), SCENARIO["dtype"], SCENARIO["seq_len"], SCENARIO["batch"],
        attention=SCENARIO["attention"],
    )  # fmt: skip
    assert estimate.band.low_bytes <= peak <= estimate.gpu_fit_bytes
    choice = choose_gpu(estimate)
    assert choice.best is not None and choice.best.budget_bytes >= estimate.gpu_fit_bytes > peak


def _fit_context(budget: int) -> int:
    """The shortest context whose band's upper end no longer fits `budget` bytes."""
    r = requirements("Llama-3.1-8B")
    low, high = 1, 131072
    while low < high:
        middle = (low + high) // 2
        if estimate_vram(r, "bf16", middle).gpu_fit_bytes > budget:
            high = middle
        else:
            low = middle + 1
    return low


def test_a_card_that_holds_the_estimate_but_not_the_upper_end_is_passed_over() -> None:
    """Llama-3.1-8B on the packaged table: at this context its estimate still fits the
    cheapest 24 GB pool, the upper end of its band does not, so a bigger card is chosen."""
    catalog = load_catalog()
    cheapest_24 = min(
        (p for p in catalog.pools if p.memory_gb == 24), key=lambda p: p.flex_usd_per_s
    )
    budget = int(cheapest_24.usable_bytes * 0.9)
    context = _fit_context(budget)
    r = requirements("Llama-3.1-8B")
    at_edge = estimate_vram(r, "bf16", context)
    assert at_edge.total_bytes <= budget < at_edge.gpu_fit_bytes  # a real boundary
    choice = choose_gpu(at_edge, requirements=r, catalog=catalog, max_gpus=1)
    assert choice.best is not None and choice.best.pool_id != cheapest_24.id
    assert choice.best.usable_bytes > cheapest_24.usable_bytes
    assert choice.required_bytes == at_edge.gpu_fit_bytes
    one_less = choose_gpu(estimate_vram(r, "bf16", context - 1), catalog=catalog, max_gpus=1)
    assert one_less.best is not None and one_less.best.pool_id == cheapest_24.id
