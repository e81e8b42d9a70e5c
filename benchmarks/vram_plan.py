"""Write the plan of the VRAM device check: models, scenario and our estimate, per part.

    uv run python -m benchmarks.vram_plan            # writes benchmarks/vram/plan.json

Each entry carries the model's published config.json (from tests/sizing/fixtures/configs),
so `benchmarks/vram/measure.py` can build the model offline with random weights on a GPU,
and `estimate_vram(requirements_from_config(config), dtype, context, batch)` split into
weights, KV cache, activations and overhead (CUDA context + allocator fragmentation), in
bytes. `benchmarks/vram_compare.py` then sets the two side by side.

The scenario is the estimator's own defaults: bf16, batch 1, 4096 tokens of context (prompt
plus generated), SDPA attention, and the peak of HF transformers `generate()`.
"""

from __future__ import annotations

import argparse
import inspect
import json
from pathlib import Path
from typing import Any

from tools.sizing import estimate_vram, requirements_from_config

_ROOT = Path(__file__).resolve().parent.parent
_CONFIGS = _ROOT / "tests" / "sizing" / "fixtures" / "configs"
_PLAN = Path(__file__).resolve().parent / "vram" / "plan.json"
_GIB = 1 << 30
_H100_BYTES = 80 * 10**9

# Smallest first, so a run cut short still covers the most models. Why each one:
MODELS: dict[str, str] = {
    "Qwen2.5-0.5B": "tiny dense GQA (14q:2kv), tied embeddings, 152k vocab: CUDA context, "
    "embeddings and logits dominate",
    "gemma-3-1b-it": "hybrid cache (5 sliding layers of 512 per global one), 262k vocab, "
    "MQA: tests the static/hybrid-cache and sliding-window paths",
    "Phi-3-mini-4k-instruct": "3.8B, full multi-head attention (no GQA), fused gate_up, "
    "sliding window 2047 < context: masks and the largest KV cache per token",
    "Qwen2.5-7B": "7.6B GQA (28q:4kv), qkv bias, wide MLP (18944): MLP-phase peak",
    "Llama-3.1-8B": "8B GQA (32q:8kv), the reference dense decoder",
    "Qwen1.5-MoE-A2.7B": "14.3B MoE (60 experts, top-4, shared expert): the MoE activation "
    "model; 28.6 GB in bf16, fits an 80 GB H100",
}


def _defaults() -> tuple[str, int, int, str]:
    """The estimator's own defaults for dtype, context, batch and attention."""
    params = inspect.signature(estimate_vram).parameters
    return (
        str(params["dtype"].default),
        int(params["context_tokens"].default),
        int(params["batch"].default),
        str(params["attention"].default),
    )


def plan_entry(name: str, *, dtype: str, context: int, batch: int) -> dict[str, Any]:
    """One model of the plan: its config.json, the scenario and our estimate by part."""
    config = json.loads((_CONFIGS / f"{name}.json").read_text(encoding="utf-8"))
    requirements = requirements_from_config(config, repo_id=name)
    e = estimate_vram(requirements, dtype, context, batch)
    arch = requirements.architecture
    return {
        "name": name,
        "why": MODELS.get(name, ""),
        "config": config,
        "scenario": {
            "dtype": e.dtype,
            "batch": e.batch,
            "seq_len": e.context_tokens,
            "attention": e.attention,
        },
        "parameters": requirements.parameter_count,
        "estimate": {
            "weights": e.weights_bytes,
            "kv": e.kv_cache_bytes,
            "activations": e.activation_bytes,
            "cuda_context": e.cuda_context_bytes,
            "allocator_overhead": e.allocator_overhead_bytes,
            "overhead": e.overhead_bytes,
            "total": e.total_bytes,
            "peak_phase": e.assumptions.get("peak_phase"),
            "activation_parts": e.activation_parts,
            "overhead_parts": e.overhead_parts,
            "static_cache": bool(arch and arch.static_cache),
        },
    }


def build_plan(
    names: list[str], *, dtype: str, context: int, batch: int, attention: str
) -> dict[str, Any]:
    entries = [plan_entry(n, dtype=dtype, context=context, batch=batch) for n in names]
    too_big = [e["name"] for e in entries if e["estimate"]["total"] > _H100_BYTES]
    if too_big:
        raise SystemExit(f"estimated above 80 GB, drop them from the plan: {too_big}")
    return {
        "version": 1,
        "note": "bytes throughout; estimate = tools.sizing.estimate_vram(requirements_from_"
        "config(config), dtype, seq_len, batch); measured by benchmarks/vram/measure.py",
        "scenario": {"dtype": dtype, "batch": batch, "seq_len": context, "attention": attention},
        "models": entries,
    }


def main(argv: list[str] | None = None) -> None:
    dtype, context, batch, attention = _defaults()
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), help="fixture names")
    parser.add_argument("--context", type=int, default=context, help="tokens per sequence")
    parser.add_argument("--batch", type=int, default=batch)
    parser.add_argument("--dtype", default=dtype)
    parser.add_argument("--out", type=Path, default=_PLAN)
    args = parser.parse_args(argv)
    plan = build_plan(
        args.models, dtype=args.dtype, context=args.context, batch=args.batch, attention=attention
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(plan, indent=1) + "\n"
    args.out.write_text(text, encoding="utf-8")
    print(f"scenario: {plan['scenario']}  ->  {args.out} ({len(text.encode()) / 1024:.1f} KiB)")
    print(f"{'model':<24}{'params':>8}{'weights':>9}{'KV':>7}{'act':>7}{'ovh':>7}{'total':>8} GiB")
    for m in plan["models"]:
        est = m["estimate"]
        print(
            f"{m['name']:<24}{m['parameters'] / 1e9:>7.2f}B{est['weights'] / _GIB:>9.2f}"
            f"{est['kv'] / _GIB:>7.2f}{est['activations'] / _GIB:>7.2f}"
            f"{est['overhead'] / _GIB:>7.2f}{est['total'] / _GIB:>8.2f}"
        )


if __name__ == "__main__":
    main()
