"""Write the grid of the traced VRAM check: model x batch x context, with our estimate.

    uv run python -m benchmarks.vram_grid        # writes benchmarks/vram/grid.json

The H100 measurement (`plan.json`, `measured-h100.json`) covers six models at batch 1. This
grid covers the classes where the estimate was found short or loose: models under 1B, small
Llama 3.2 at batch 1, Gemma 2 (256k vocabulary, soft-capping), Phi-3 at batch, sliding
windows and MoE at batch 4 to 16, and contexts from 2k to 16k. `vram/meta_trace.py` runs each
row through the real transformers code on the meta device and replays PyTorch's caching
allocator (`vram/caching_allocator.py`); `vram_grid_compare` prints estimate against trace.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from benchmarks.vram_plan import plan_entry

_GRID = Path(__file__).resolve().parent / "vram" / "grid.json"

# (model, batch, context tokens). Why each group is in the module docstring.
ROWS: list[tuple[str, int, int]] = [
    *[(m, b, t) for m in ("Qwen2.5-0.5B", "Qwen3-0.6B", "Llama-3.2-1B", "gemma-3-1b-it")
      for b, t in ((1, 2048), (1, 4096), (1, 8192), (4, 4096), (8, 2048), (16, 2048))],
    *[("Llama-3.2-3B", b, t) for b, t in ((1, 2048), (1, 4096), (1, 16384), (8, 4096))],
    *[(m, b, t) for m in ("gemma-2-2b", "gemma-2-9b")
      for b, t in ((1, 2048), (1, 4096), (1, 8192), (4, 4096), (8, 2048), (16, 1024))],
    *[("gemma-3-4b-it", b, t) for b, t in ((1, 4096), (4, 4096), (16, 2048), (1, 16384))],
    *[("Phi-3-mini-4k-instruct", b, t) for b, t in ((1, 2048), (4, 4096), (8, 4096), (16, 1024))],
    *[(m, b, t) for m in ("Llama-3.1-8B", "Qwen2.5-7B", "Mistral-7B-v0.3", "Qwen3-8B")
      for b, t in ((1, 4096), (1, 16384), (4, 4096), (8, 4096), (16, 2048))],
    *[("Qwen1.5-MoE-A2.7B", b, t) for b, t in ((1, 4096), (4, 4096), (8, 4096), (16, 2048))],
    *[("Qwen3-30B-A3B", b, t) for b, t in ((1, 4096), (8, 4096), (16, 2048))],
    *[("Mixtral-8x7B-v0.1", b, t) for b, t in ((1, 4096), (8, 2048))],
]  # fmt: skip


def row_name(model: str, batch: int, context: int) -> str:
    return f"{model} b{batch} {context // 1024}k"


def build_grid(dtype: str = "bf16") -> dict[str, Any]:
    rows = []
    for model, batch, context in ROWS:
        entry = plan_entry(model, dtype=dtype, context=context, batch=batch)
        rows.append(entry | {"name": row_name(model, batch, context), "model": model})
    return {"version": 1, "scenario": {"dtype": dtype, "attention": "sdpa"}, "models": rows}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--out", type=Path, default=_GRID)
    args = parser.parse_args(argv)
    grid = build_grid()
    args.out.write_text(json.dumps(grid, indent=1) + "\n", encoding="utf-8")
    print(f"{len(grid['models'])} rows -> {args.out}")


if __name__ == "__main__":
    main()
