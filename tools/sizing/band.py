"""`band_for`: where the real peak is expected to fall around an estimate, and how wide
that range is for each way the estimate was made.

An estimate is one number; the peak a GPU will show is not known that exactly. The band
says how far off the estimate may be, from how it was calibrated, and the GPU is chosen on
its upper end (`VramEstimate.gpu_fit_bytes`), so that a chosen card holds the real peak
even where the estimate was low. Every width lives in `BAND_RULES`, tuned in one place.

```
low  = total / over    the estimate may lie up to `over` above the real peak
high = total * guard   the real peak may lie up to `guard` above the estimate
```
"""

from __future__ import annotations

import math
from typing import Final, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["BAND_RULES", "BandBasis", "BandRule", "VramBand", "band_for"]

#: How an estimate was made (`VramEstimate.basis`), each with its own band.
BandBasis = Literal[
    "transformer", "transformer-analytic", "diffusion", "weights-only", "model-card"
]


class BandRule(NamedTuple):
    """How far the real peak may lie from an estimate made on one basis."""

    over: float  # the estimate may lie up to this factor above the real peak
    guard: float  # the real peak may lie up to this factor above the estimate
    reason: str
    source: str


# Transformers whose family has a recorded allocation template (tools/sizing/replay.py):
# the caching allocator is replayed over transformers' own allocation order, which matched
# the H100 measurement within 1.4%, and a safety margin is added, so the estimate lies
# 0-10% above the peak (tests/sizing/test_measured_vram.py, test_traced_vram.py): the peak
# is at least total / 1.10. The 3% guard above covers stacks the calibration did not see
# (other GPUs, drivers, CUDA, torch and transformers versions).
_TRANSFORMER: Final = BandRule(
    over=1.10,
    guard=1.03,
    reason="replayed allocator with a safety margin: 0-10% above the measured peak; 3% more "
    "allows for other drivers and library versions",
    source="measured: H100 80GB, CUDA 13, torch 2.11, transformers 5.17 generate() of six "
    "models (benchmarks/vram/measured-h100.json); 77 traced rows (benchmarks/vram/traced.json)",
)
# Transformers without a replay (a family with no template, quantized weights, eager
# attention, fp32, a static cache): the analytic model with fitted fragmentation fractions,
# within 0-14% above the traced peaks where checked, so a wider band on both sides.
_TRANSFORMER_ANALYTIC: Final = BandRule(
    over=1.15,
    guard=1.08,
    reason="analytic activations with fitted fragmentation (no allocation template for "
    "this family or setting)",
    source="fitted on the H100 measurement of six models; not replayed",
)
# Diffusion pipelines: checked only against published figures (model cards, vendor
# notes), not measured here, and those figures vary with the scheduler, the resolution and
# VAE tiling, so the band is wider on both sides.
_DIFFUSION: Final = BandRule(
    over=1.15,
    guard=1.10,
    reason="checked against published figures only; resolution, scheduler and VAE "
    "decoding move the peak",
    source="published figures (model cards and vendor notes), not measured here",
)
# No transformer config (weights plus a flat allowance, or the model card's own figure):
# context, batch and the model's own code are not modelled, so the real peak may be far
# from the figure either way.
_ROUGH: Final = BandRule(
    over=1.5,
    guard=1.25,
    reason="rough: weights plus an allowance; context, batch and the model's own code are "
    "not modelled",
    source="no transformer config: weights and a flat allowance, or the model card's figure",
)
#: The band of each basis: the one place its widths are tuned.
BAND_RULES: Final[dict[BandBasis, BandRule]] = {
    "transformer": _TRANSFORMER,
    "transformer-analytic": _TRANSFORMER_ANALYTIC,
    "diffusion": _DIFFUSION,
    "weights-only": _ROUGH,
    "model-card": _ROUGH,
}


class VramBand(BaseModel):
    """Where the real peak of an estimate is expected to fall, in bytes, and why."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    low_bytes: int = Field(ge=0, description="The lowest the real peak is expected to be.")
    high_bytes: int = Field(
        ge=0, description="The highest the real peak is expected to be: GPUs are chosen on it."
    )
    reason: str = Field(description="Why the band is this wide, for this basis.")
    source: str = Field(description="What the estimate was checked against.")


def band_for(total_bytes: int, basis: BandBasis) -> VramBand:
    """The band around an estimate of `total_bytes` made on `basis`.

    Raises:
        ValueError: `total_bytes` is negative or `basis` has no rule.
    """
    if total_bytes < 0:
        raise ValueError(f"an estimate cannot be negative (got {total_bytes} bytes)")
    rule = BAND_RULES.get(basis)
    if rule is None:
        raise ValueError(f"no VRAM band for basis {basis!r}; known: {', '.join(BAND_RULES)}")
    return VramBand(
        low_bytes=math.floor(total_bytes / rule.over),
        high_bytes=math.ceil(total_bytes * rule.guard),
        reason=rule.reason,
        source=rule.source,
    )
