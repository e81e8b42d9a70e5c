"""Peak-VRAM estimates for five common LLMs next to the public figures we know.

    uv run python benchmarks/sizing.py

Each row is `estimate_vram(requirements_from_config(config.json), "bf16", context, batch)`
for the model's published config.json (kept in tests/sizing/fixtures/configs). The public
figures are what model pages and the Hugging Face blog state: weights (parameters x 2 bytes
in bf16) and, where published, the KV cache. They are lower bounds of a real peak (no
activations, CUDA context or fragmentation), so ratios above 1 are expected; the
"rule of thumb" column is EleutherAI's Transformer Math inference heuristic
(1.2 x weights, plus the KV cache).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.sizing import estimate_vram, parse_architecture, requirements_from_config

_CONFIGS = Path(__file__).resolve().parent.parent / "tests" / "sizing" / "fixtures" / "configs"
_GIB = 1 << 30
_GB = 1e9


@dataclass(frozen=True)
class Public:
    """Published figures for one model, in GB, and where they come from."""

    weights_gb: float
    kv_gb_per_4k: float | None
    source: str


_MODELS: dict[str, Public] = {
    "Llama-3.1-8B": Public(
        16.0, 0.5, "HF blog 'Llama 3.1': 8B FP16 weights 16 GB; KV 1.95 GB @16k -> 0.49 GB @4k"
    ),
    "Qwen2.5-7B": Public(15.23, None, "model page: 7.62B params, BF16 -> 15.23 GB"),
    "Mistral-7B-v0.3": Public(14.50, None, "model page: 7.25B params, BF16 -> 14.50 GB"),
    "Phi-3-mini-4k-instruct": Public(7.64, None, "model page: 3.82B params, BF16 -> 7.64 GB"),
    "gemma-2-2b": Public(5.23, None, "model page: 2.61B params -> 5.23 GB in BF16"),
}
_WORKLOADS = ((1, 4096), (8, 4096))


def _kv_formula_gb(config: dict[str, Any], *, batch: int, context: int) -> float:
    """The textbook KV size: 2 x layers x kv_heads x head_dim x tokens x 2 bytes (no window)."""
    arch = parse_architecture(config)
    return 2 * arch.num_layers * arch.num_kv_heads * arch.head_dim * context * batch * 2 / _GB


def main() -> None:
    header = (
        f"{'model':<24}{'batch':>6}{'ctx':>6}{'ours GiB':>10}{'ours GB':>9}{'weights':>9}"
        f"{'KV':>7}{'act':>7}{'ovh':>6}{'public':>8}{'ratio':>7}{'1.2w+KV':>9}{'ratio':>7}"
    )
    print(header)
    print("-" * len(header))
    for name, public in _MODELS.items():
        config = json.loads((_CONFIGS / f"{name}.json").read_text(encoding="utf-8"))
        requirements = requirements_from_config(config)
        for batch, context in _WORKLOADS:
            e = estimate_vram(requirements, "bf16", context, batch)
            kv_public = (
                public.kv_gb_per_4k * batch * context / 4096
                if public.kv_gb_per_4k is not None
                else _kv_formula_gb(config, batch=batch, context=context)
            )
            floor = public.weights_gb + kv_public
            thumb = 1.2 * public.weights_gb + kv_public
            total_gb = e.total_bytes / _GB
            print(
                f"{name:<24}{batch:>6}{context:>6}{e.total_bytes / _GIB:>10.2f}{total_gb:>9.2f}"
                f"{e.weights_bytes / _GB:>9.2f}{e.kv_cache_bytes / _GB:>7.2f}"
                f"{e.activation_bytes / _GB:>7.2f}{e.overhead_bytes / _GB:>6.2f}"
                f"{floor:>8.2f}{total_gb / floor:>7.2f}{thumb:>9.2f}{total_gb / thumb:>7.2f}"
            )
    print()
    print("public = published weights + KV cache (GB); 1.2w+KV = Transformer Math rule of thumb.")
    print("KV for models without a published figure: 2 x layers x kv_heads x head_dim x tokens")
    print("x 2 bytes, from the published config.json. Sources:")
    for name, public in _MODELS.items():
        print(f"  {name}: {public.source}")


if __name__ == "__main__":
    main()
