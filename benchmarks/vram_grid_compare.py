"""Print our estimate against the traced peak for every row of the grid.

    uv run python -m benchmarks.vram_grid_compare [--traced benchmarks/vram/traced.json]

The estimate is recomputed from the row's config (so a changed estimator shows at once);
the traced peak is `meta_trace.py`'s replayed reserved peak plus the CUDA context. The
target band is estimate / traced in [1.00, 1.10]; a row outside it is flagged.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tools.sizing import estimate_vram, requirements_from_config

_TRACED = Path(__file__).resolve().parent / "vram" / "traced.json"
_GIB = 1 << 30


def estimate_for(row: dict) -> int:
    scenario = row["scenario"]
    requirements = requirements_from_config(row["config"], repo_id=row["name"])
    e = estimate_vram(requirements, scenario["dtype"], scenario["seq_len"], scenario["batch"])
    return e.total_bytes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--traced", type=Path, default=_TRACED)
    parser.add_argument("--grid", type=Path, default=_TRACED.parent / "grid.json")
    args = parser.parse_args(argv)
    traced = {m["name"]: m for m in json.loads(args.traced.read_text())["models"]}
    rows = json.loads(args.grid.read_text())["models"]
    outside = 0
    print("| row | traced GiB | estimate GiB | error |\n|---|---:|---:|---:|")
    for row in rows:
        peak = traced[row["name"]]["peak_incl_context"]
        est = estimate_for(row)
        ratio = est / peak
        flag = "" if 1.0 <= ratio <= 1.10 else (" UNDER" if ratio < 1 else " OVER")
        outside += bool(flag)
        print(f"| {row['name']} | {peak / _GIB:.2f} | {est / _GIB:.2f} | {ratio - 1:+.1%}{flag} |")
    print(f"\n{len(rows) - outside} of {len(rows)} rows in [1.00, 1.10]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
