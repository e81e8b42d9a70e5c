"""The tracer against the real transformers library and the real H100 measurement.

`benchmarks/vram/meta_trace.py` runs the installed transformers (the workload environment's,
which the generated workers pin: a newer release than the one the H100 measured) on the
meta device and replays the caching allocator. Its peaks must come within 2% of what the
H100 measured for the same models, and our estimate must bound them within 10%: so the
trace that calibrated the estimator is a faithful stand-in for a GPU, on a library release
it was not recorded with.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.sizing.conftest import requirements
from tests.workloads.harness import require_python
from tools.sizing import estimate_vram

_ROOT = Path(__file__).resolve().parents[2]
MEASURED = json.loads((Path(__file__).parent / "fixtures" / "measured_h100.json").read_text())
MODELS = ["Qwen2.5-0.5B", "gemma-3-1b-it", "Llama-3.1-8B", "Qwen1.5-MoE-A2.7B"]


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    python = require_python()
    out = tmp_path_factory.mktemp("trace") / "traced.json"
    subprocess.run(
        [str(python), "benchmarks/vram/meta_trace.py", "--plan", "benchmarks/vram/plan.json",
         "--out", str(out), "--models", *MODELS],
        cwd=_ROOT, check=True, capture_output=True, timeout=300,
        env={"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"},
    )  # fmt: skip
    return {row["name"]: row for row in json.loads(out.read_text())["models"]}


@pytest.mark.parametrize("name", MODELS)
def test_the_library_trace_matches_the_h100_within_two_percent(
    traced: dict[str, Any], name: str
) -> None:
    record = next(m for m in MEASURED["models"] if m["name"] == name)
    measured = max(record[s]["peak_incl_context"] for s in ("prefill", "generate"))
    assert abs(traced[name]["peak_incl_context"] / measured - 1) <= 0.02


@pytest.mark.parametrize("name", MODELS)
def test_the_estimate_bounds_the_library_trace(traced: dict[str, Any], name: str) -> None:
    peak = traced[name]["peak_incl_context"]
    e = estimate_vram(requirements(name), "bf16", 4096, 1)
    assert peak <= e.total_bytes <= 1.10 * peak
