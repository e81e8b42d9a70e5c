"""Our VRAM estimate next to the peak measured on a GPU, as markdown tables.

    uv run python -m benchmarks.vram_compare --measured OUT/vram_measured.json

Reads benchmarks/vram/plan.json (from `benchmarks.vram_plan`) and the JSON that
benchmarks/vram/measure.py wrote on the device. The measured figure compared against is the
peak of `generate()` as nvidia-smi would show it: the allocator's reserved peak plus what
the process holds outside it (CUDA context, kernels, cuBLAS), since that is what our total
claims to be. `--stage prefill` compares against the lone prefill forward instead.

Verdicts on estimate / measured: `ok` within +-10%; `upper bound` above (safe, but wasteful
past +10%); `UNDER` below -10% (the estimate would pick a GPU that runs out of memory).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent / "vram"
_GIB = 1 << 30
_TOLERANCE = 0.10


def _gib(value: float | None) -> str:
    return "-" if value is None else f"{value / _GIB:.2f}"


def _ratio(num: float | None, den: float | None) -> str:
    return "-" if not num or not den else f"{num / den:.3f}"


def verdict(estimate: int, measured: int) -> str:
    ratio = estimate / measured
    if abs(ratio - 1) <= _TOLERANCE:
        return f"ok ({ratio - 1:+.1%})"
    if ratio > 1:
        return f"upper bound ({ratio - 1:+.1%})"
    return f"UNDER ({ratio - 1:+.1%})"


def _stage(record: dict[str, Any], stage: str) -> tuple[str, dict[str, Any]] | None:
    """The wanted stage's readings, else the other stage's."""
    for name in (stage, "prefill" if stage == "generate" else "generate"):
        found = record.get(name)
        if isinstance(found, dict):
            return name, found
    return None


def rows(plan: dict[str, Any], measured: dict[str, Any], stage: str) -> list[dict[str, Any]]:
    by_name = {m["name"]: m for m in measured.get("models", [])}
    out: list[dict[str, Any]] = []
    for entry in plan["models"]:
        est = entry["estimate"]
        rec = by_name.get(entry["name"])
        row: dict[str, Any] = {"name": entry["name"], "est": est, "rec": rec}
        if rec is None or not rec.get("ok"):
            row["error"] = "not measured" if rec is None else rec.get("error", "failed")
            out.append(row)
            continue
        picked = _stage(rec, stage)
        if picked is None:
            row["error"] = "no prefill/generate stage recorded"
            out.append(row)
            continue
        name, st = picked
        after = st["after"]
        weights = rec["load"]["weights_bytes"]
        row |= {
            "stage": name,
            "weights": weights,
            "kv": st.get("cache_bytes"),
            "peak_allocated": after["peak_allocated"],
            "peak_reserved": after["peak_reserved"],
            "non_allocator": after["non_allocator"],
            "peak_ctx": st["peak_incl_context"],
            "smi": after.get("smi_process"),
            "cache_class": st.get("cache_class"),
        }
        out.append(row)
    return out


def markdown(table: list[dict[str, Any]], measured: dict[str, Any]) -> str:
    env = measured.get("environment", {})
    lines = [
        f"Device: {env.get('device')} | torch {env.get('torch')} (CUDA {env.get('cuda')}) | "
        f"transformers {env.get('transformers')}",
        "",
        "| model | estimate GiB | peak alloc GiB | peak reserved GiB | peak incl. context GiB "
        "| est / measured | verdict | (est - ctx) / reserved |",
        "|---|---:|---:|---:|---:|---:|---|---:|",
    ]
    for r in table:
        est = r["est"]
        if "error" in r:
            lines.append(f"| {r['name']} | {_gib(est['total'])} | - | - | - | - | "
                         f"{r['error'][:80]} | - |")  # fmt: skip
            continue
        lines.append(
            f"| {r['name']} | {_gib(est['total'])} | {_gib(r['peak_allocated'])} | "
            f"{_gib(r['peak_reserved'])} | {_gib(r['peak_ctx'])} | "
            f"{_ratio(est['total'], r['peak_ctx'])} | {verdict(est['total'], r['peak_ctx'])} | "
            f"{_ratio(est['total'] - est['cuda_context'], r['peak_reserved'])} |"
        )
    lines += [
        "",
        "By part (GiB, estimate / measured). Weights incl. the allocator's segment rounding; "
        "measured: weights = allocated after the build; "
        "KV = the returned cache's storages; act + frag = reserved peak - weights - KV; "
        "context = device use outside the allocator.",
        "",
        "| model | stage | weights | KV | act + frag | context | cache class |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in table:
        if "error" in r:
            continue
        est = r["est"]
        kv = r["kv"] or 0
        act = r["peak_reserved"] - r["weights"] - kv
        # The weights' allocator rounding is measured with the weights (allocated after the
        # build), so it moves from the estimate's overhead to its weights column here.
        rounding = est.get("overhead_parts", {}).get("weight_rounding", 0)
        est_act = est["activations"] + est["allocator_overhead"] - rounding
        lines.append(
            f"| {r['name']} | {r['stage']} | {_gib(est['weights'] + rounding)} / "
            f"{_gib(r['weights'])} | {_gib(est['kv'])} / {_gib(r['kv'])} | "
            f"{_gib(est_act)} / {_gib(act)} | "
            f"{_gib(est['cuda_context'])} / {_gib(r['non_allocator'])} | {r['cache_class']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--plan", type=Path, default=_HERE / "plan.json")
    default_measured = Path(os.environ.get("OUT") or _HERE / "out") / "vram_measured.json"
    parser.add_argument("--measured", type=Path, default=default_measured)
    parser.add_argument("--stage", choices=("generate", "prefill"), default="generate")
    args = parser.parse_args(argv)
    plan = json.loads(args.plan.read_text(encoding="utf-8"))
    measured = json.loads(args.measured.read_text(encoding="utf-8"))
    scenario = plan.get("scenario", {})
    print(
        f"Scenario: {scenario.get('dtype')}, batch {scenario.get('batch')}, "
        f"{scenario.get('seq_len')} tokens, {scenario.get('attention')}; measured stage: "
        f"{args.stage}; tolerance +-{_TOLERANCE:.0%}\n"
    )
    print(markdown(rows(plan, measured, args.stage), measured))


if __name__ == "__main__":
    main()
