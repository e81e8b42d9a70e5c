"""The estimator against the peak VRAM measured on a GPU (no GPU needed: a stored reading).

tests/sizing/fixtures/measured_h100.json is benchmarks/vram/measured-h100.json trimmed: six
models built from their config.json with random weights, bf16, batch 1, 4096 tokens, SDPA,
on an NVIDIA H100 80GB (torch 2.11 + CUDA 13.0, transformers 5.17). The estimate picks the
GPU, so it must never be below the measured peak, and should not overpay by more than 10%.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.sizing.conftest import requirements
from tools.sizing import estimate_vram
from tools.sizing.vram import weight_rounding_bytes

MEASURED: dict[str, Any] = json.loads(
    (Path(__file__).parent / "fixtures" / "measured_h100.json").read_text(encoding="utf-8")
)
MODELS = {m["name"]: m for m in MEASURED["models"]}
SCENARIO = MEASURED["scenario"]
MAX_OVER = 1.10
_MIB = 1 << 20


def _peak(record: dict[str, Any]) -> int:
    """The process's peak as nvidia-smi shows it, over the lone prefill and generate()."""
    return max(record[stage]["peak_incl_context"] for stage in ("prefill", "generate"))


def _estimate(name: str) -> Any:
    return estimate_vram(
        requirements(name), SCENARIO["dtype"], SCENARIO["seq_len"], SCENARIO["batch"],
        attention=SCENARIO["attention"],
    )  # fmt: skip


def test_the_fixture_keeps_where_it_was_measured() -> None:
    env = MEASURED["environment"]
    assert env["device"] == "NVIDIA H100 80GB HBM3"
    assert (env["torch"], env["cuda"], env["transformers"]) == ("2.11.0+cu130", "13.0", "5.17.0")
    assert SCENARIO == {"dtype": "bf16", "batch": 1, "seq_len": 4096, "attention": "sdpa"}
    assert len(MODELS) == 6


@pytest.mark.parametrize("name", sorted(MODELS))
def test_the_estimate_bounds_the_measured_peak_within_ten_percent(name: str) -> None:
    measured = _peak(MODELS[name])
    e = _estimate(name)
    assert measured <= e.total_bytes, f"{name}: {e.total_bytes / measured:.3f} of the peak"
    assert e.total_bytes <= MAX_OVER * measured, f"{name}: {e.total_bytes / measured:.3f}"


@pytest.mark.parametrize("name", sorted(MODELS))
def test_the_cuda_context_covers_what_lies_outside_the_allocator(name: str) -> None:
    record = MODELS[name]
    outside = max(record[stage]["non_allocator"] for stage in ("prefill", "generate"))
    assert outside <= _estimate(name).cuda_context_bytes < outside + 64 * _MIB


@pytest.mark.parametrize("name", sorted(MODELS))
def test_weights_plus_allocator_rounding_match_what_the_build_allocated(name: str) -> None:
    record = MODELS[name]
    e = _estimate(name)
    arch = requirements(name).architecture
    assert arch is not None
    assert e.weights_bytes == record["parameter_bytes"]  # random init: buffers are ~bytes
    # The replayed allocator gives what the build allocated over the tensors' own bytes
    # (unsplit 2 MiB rounding of large weights, blocks of 1-10 MiB ones), to well under 1 MiB.
    excess = record["weights_bytes"] - record["parameter_bytes"]
    assert abs(excess - e.overhead_parts["weight_rounding"]) < _MIB
    # The analytic rule (the fallback without a replay) covers the large-tensor models.
    if name in ("Qwen2.5-7B", "Llama-3.1-8B", "Qwen1.5-MoE-A2.7B"):
        assert abs(excess - weight_rounding_bytes(arch, 2)) < 2 * _MIB


@pytest.mark.parametrize("name", sorted(MODELS))
def test_prefill_activations_match_the_allocated_peak(name: str) -> None:
    record = MODELS[name]
    e = _estimate(name)
    before = record["base_allocated"] + record["weights_bytes"]
    allocated = max(record[s]["peak_allocated"] for s in ("prefill", "generate")) - before
    # gemma-3-1b-it allocated 9 MiB more on the GPU than its trace (kernel scratch of the
    # memory-efficient attention with a window mask): the safety margin covers it.
    assert abs(e.kv_cache_bytes + e.activation_bytes - allocated) < 12 * _MIB
