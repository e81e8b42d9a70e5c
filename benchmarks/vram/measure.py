#!/usr/bin/env python3
"""Measure the real peak VRAM of the models in plan.json (device side; torch + transformers).

    cd benchmarks/vram && OUT=/some/dir python3 measure.py     # on a GPU machine
    python3 measure.py --dry-run                               # anywhere: parse plan, print

Needs only the standard library, torch and transformers (no network: every model is built
from the config.json carried in plan.json, with random weights). Per model, on one GPU:

1. load: build the model on CUDA in the plan's dtype (bf16), SDPA attention;
   `torch.cuda.memory_allocated()` after the build is the weights (and buffers).
2. prefill: one forward of batch x seq_len random tokens, `use_cache=True`,
   `logits_to_keep=1` (what `generate()` does for its prefill), under `inference_mode`.
3. generate: `generate()` of batch x (seq_len - G) prompt tokens plus G sampled tokens
   (top-p 0.9), so prompt plus generated = seq_len: the scenario our estimator models.

For each stage we record `max_memory_allocated`, `max_memory_reserved` and the device-wide
use from `torch.cuda.mem_get_info()` right after the stage (the caching allocator still holds
its peak pool then), so `reserved peak + (device used - reserved now - used by others)` is
the process's peak as nvidia-smi would show it, CUDA context included. Everything is freed
between models; a model that fails is recorded with its error and the next one runs.

Writes $OUT/vram_measured.json (OUT defaults to ./out) after every model, and prints one
JSON line per model.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

HERE = Path(__file__).resolve().parent
# Keys of a saved config.json that must not reach AutoConfig.for_model: remote-code
# pointers (every model here has in-library code) and save-time metadata.
DROP_KEYS = ("auto_map", "_name_or_path", "transformers_version", "model_type")
DTYPES = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}
MIB = 1 << 20


def load_plan(path: Path, only: list[str] | None) -> dict[str, Any]:
    plan = json.loads(path.read_text(encoding="utf-8"))
    models = plan.get("models")
    if not isinstance(models, list) or not models:
        raise SystemExit(f"{path}: no models in the plan")
    for m in models:
        for key in ("name", "config", "scenario"):
            if key not in m:
                raise SystemExit(f"{path}: a model lacks {key!r}")
        if "model_type" not in m["config"]:
            raise SystemExit(f"{path}: {m['name']}: config has no model_type")
        if m["scenario"].get("dtype") not in DTYPES:
            raise SystemExit(f"{path}: {m['name']}: dtype must be one of {sorted(DTYPES)}")
    if only:
        unknown = set(only) - {m["name"] for m in models}
        if unknown:
            raise SystemExit(f"not in the plan: {sorted(unknown)}")
        plan["models"] = [m for m in models if m["name"] in only]
    return plan


def config_kwargs(config: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """`(model_type, kwargs)` for `AutoConfig.for_model`."""
    return config["model_type"], {k: v for k, v in config.items() if k not in DROP_KEYS}


def dry_run(plan: dict[str, Any], gen_tokens: int) -> None:
    print(f"plan scenario: {plan.get('scenario')}")
    for m in plan["models"]:
        model_type, kwargs = config_kwargs(m["config"])
        s = m["scenario"]
        est = m.get("estimate", {}).get("total")
        print(
            f"- {m['name']}: AutoConfig.for_model({model_type!r}, <{len(kwargs)} keys>) -> "
            f"AutoModelForCausalLM.from_config(dtype={DTYPES[s['dtype']]}, "
            f"attn_implementation={s.get('attention', 'sdpa')!r}) on cuda; prefill "
            f"{s['batch']}x{s['seq_len']}; generate {s['batch']}x{s['seq_len'] - gen_tokens}"
            f"+{gen_tokens}; estimate {est / 2**30 if est else float('nan'):.2f} GiB"
        )
        print(f"    architectures={kwargs.get('architectures')} keys={sorted(kwargs)}")


# --------------------------------------------------------------------------- device side


def nvidia_smi(query: str) -> list[str]:
    """Lines of an nvidia-smi query, or [] where it is not available."""
    try:
        done = subprocess.run(  # noqa: S603
            ["nvidia-smi", f"--query-{query}", "--format=csv,noheader,nounits"],  # noqa: S607
            capture_output=True,
            text=True,
            timeout=15,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in done.stdout.splitlines() if line.strip()]


def smi_process_bytes() -> int | None:
    """This process's GPU memory as nvidia-smi lists it (None if it does not list it)."""
    for line in nvidia_smi("compute-apps=pid,used_memory"):
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 2 and parts[0] == str(os.getpid()) and parts[1].isdigit():
            return int(parts[1]) * MIB
    return None


def smi_device_used_bytes() -> int | None:
    lines = nvidia_smi("gpu=memory.used")
    return int(lines[0]) * MIB if lines and lines[0].isdigit() else None


class Gpu:
    """Memory readings of the current CUDA device."""

    def __init__(self, torch: Any, others_bytes: int) -> None:
        self.torch = torch
        self.others = others_bytes  # in use on the device before this process touched it

    def sync(self) -> None:
        self.torch.cuda.synchronize()

    def clean(self) -> None:
        gc.collect()
        self.sync()
        self.torch.cuda.empty_cache()
        self.torch.cuda.reset_peak_memory_stats()

    def reset_peak(self) -> None:
        self.sync()
        self.torch.cuda.reset_peak_memory_stats()

    def read(self) -> dict[str, int | None]:
        """Allocator counters, device-wide use and what lies outside the allocator."""
        cuda = self.torch.cuda
        self.sync()
        free, total = cuda.mem_get_info()
        reserved = cuda.memory_reserved()
        used = total - free
        stats = cuda.memory_stats()
        return {
            "allocated": cuda.memory_allocated(),
            "reserved": reserved,
            "peak_allocated": cuda.max_memory_allocated(),
            "peak_reserved": cuda.max_memory_reserved(),
            "device_used": used,
            "non_allocator": used - reserved - self.others,
            "alloc_retries": stats.get("num_alloc_retries", 0),
            "smi_process": smi_process_bytes(),
        }


def peak_with_context(r: dict[str, Any]) -> int:
    """The process's peak as nvidia-smi would show it: reserved peak + CUDA context etc."""
    return int(r["peak_reserved"]) + int(r["non_allocator"])


def tensor_storage_bytes(obj: Any, torch: Any, seen: set[int], depth: int = 0) -> int:
    """Bytes of the distinct storages of the tensors held by `obj` (a cache), views once."""
    if torch.is_tensor(obj):
        storage = obj.untyped_storage()
        if storage.data_ptr() in seen or obj.device.type != "cuda":
            return 0
        seen.add(storage.data_ptr())
        return int(storage.nbytes())
    if isinstance(obj, list | tuple):
        return sum(tensor_storage_bytes(x, torch, seen, depth) for x in obj)
    if isinstance(obj, dict):
        return sum(tensor_storage_bytes(x, torch, seen, depth) for x in obj.values())
    if depth < 3 and hasattr(obj, "__dict__") and not isinstance(obj, torch.nn.Module):
        return sum(tensor_storage_bytes(x, torch, seen, depth + 1) for x in vars(obj).values())
    return 0


@contextlib.contextmanager
def skipped_init() -> Any:
    """transformers' `no_init_weights` (5.x: transformers.initialization; 4.x: modeling_utils)."""
    try:
        from transformers.initialization import no_init_weights  # type: ignore[import-not-found]
    except ImportError:
        from transformers.modeling_utils import no_init_weights  # type: ignore[import-not-found]
    with no_init_weights():
        yield


def build(entry: dict[str, Any], torch: Any, init: str) -> tuple[Any, dict[str, Any]]:
    from transformers import AutoConfig, AutoModelForCausalLM

    s = entry["scenario"]
    dtype = getattr(torch, DTYPES[s["dtype"]])
    model_type, kwargs = config_kwargs(entry["config"])
    config = AutoConfig.for_model(model_type, **kwargs)
    attn = s.get("attention", "sdpa")
    notes: list[str] = []
    init_ctx = skipped_init() if init == "skip" else contextlib.nullcontext()
    with torch.device("cuda"), init_ctx:
        try:
            model = AutoModelForCausalLM.from_config(config, dtype=dtype, attn_implementation=attn)
        except TypeError:
            notes.append("from_config(dtype=) refused; used torch_dtype=")
            model = AutoModelForCausalLM.from_config(
                config, torch_dtype=dtype, attn_implementation=attn
            )
    model.eval()
    params = list(model.parameters())
    if any(p.device.type != "cuda" for p in params):
        notes.append("parameters were built off the GPU; moved with .to('cuda')")
        model.to("cuda")
    if any(p.is_floating_point() and p.dtype != dtype for p in model.parameters()):
        notes.append(f"some parameters were not {dtype}; cast with .to()")
        model.to(dtype)
    if init == "skip":  # uninitialized memory may hold NaN/inf: give it small random values
        with torch.no_grad():
            for p in model.parameters():
                p.normal_(0.0, 0.02)
    unique = {p.data_ptr(): p for p in model.parameters()}
    info = {
        "class": type(model).__name__,
        "attn_implementation": getattr(model.config, "_attn_implementation", None),
        "parameters": sum(p.numel() for p in unique.values()),
        "parameter_bytes": sum(p.numel() * p.element_size() for p in unique.values()),
        "buffer_bytes": sum(b.numel() * b.element_size() for b in model.buffers()),
        "cache_implementation": getattr(model.generation_config, "cache_implementation", None),
        "notes": notes,
    }
    return model, info


def random_ids(torch: Any, vocab: int, batch: int, length: int) -> Any:
    # Skip the low ids (pad/bos/eos/special tokens) so nothing is treated as padding.
    low = min(1000, vocab // 2)
    return torch.randint(low, vocab, (batch, length), device="cuda")


def prefill(model: Any, gpu: Gpu, torch: Any, batch: int, seq: int) -> dict[str, Any]:
    vocab = int(model.get_output_embeddings().weight.shape[0])
    gpu.clean()  # start from an empty pool: what the allocator reserves is this stage's
    ids = random_ids(torch, vocab, batch, seq)
    gpu.reset_peak()
    before = gpu.read()
    notes: list[str] = []
    start = time.perf_counter()
    with torch.inference_mode():
        try:
            out = model(input_ids=ids, use_cache=True, logits_to_keep=1)
        except TypeError:
            notes.append("forward refused logits_to_keep=1: full-sequence logits")
            out = model(input_ids=ids, use_cache=True)
    after = gpu.read()
    seconds = time.perf_counter() - start
    cache = getattr(out, "past_key_values", None)
    logits = out.logits
    result = {
        "before": before,
        "after": after,
        "seconds": round(seconds, 3),
        "retained_bytes": int(after["allocated"]) - int(before["allocated"]),
        "cache_class": type(cache).__name__ if cache is not None else None,
        "cache_bytes": tensor_storage_bytes(cache, torch, set()),
        "logits_shape": list(logits.shape),
        "logits_finite": bool(torch.isfinite(logits).all().item()),
        "peak_incl_context": peak_with_context(after),
        "notes": notes,
    }
    del out, cache, logits, ids
    return result


def generate(
    model: Any, gpu: Gpu, torch: Any, batch: int, seq: int, new_tokens: int
) -> dict[str, Any]:
    vocab = int(model.get_output_embeddings().weight.shape[0])
    ids = random_ids(torch, vocab, batch, seq - new_tokens)
    mask = torch.ones_like(ids)
    pad = getattr(model.config, "pad_token_id", None)
    kwargs = {
        "input_ids": ids,
        "attention_mask": mask,
        "max_new_tokens": new_tokens,
        "min_new_tokens": new_tokens,
        "pad_token_id": pad if isinstance(pad, int) else 0,
        "return_dict_in_generate": True,
        "use_cache": True,
    }
    notes: list[str] = []
    gpu.clean()
    before = gpu.read()
    start = time.perf_counter()
    out = None
    sampling = "top_p=0.9"
    with torch.inference_mode():
        try:
            out = model.generate(**kwargs, do_sample=True, top_p=0.9, temperature=1.0)
        except RuntimeError as exc:  # e.g. NaN probabilities from random weights
            if isinstance(exc, torch.cuda.OutOfMemoryError):
                raise
            notes.append(f"sampling failed ({str(exc)[:160]}); greedy instead")
        if out is None:  # outside the except block, so its traceback's tensors are gone
            sampling = "greedy"
            gpu.clean()
            before = gpu.read()
            start = time.perf_counter()
            out = model.generate(**kwargs, do_sample=False)
    after = gpu.read()
    seconds = time.perf_counter() - start
    cache = getattr(out, "past_key_values", None)
    result = {
        "before": before,
        "after": after,
        "seconds": round(seconds, 3),
        "sampling": sampling,
        "prompt_tokens": seq - new_tokens,
        "new_tokens": int(out.sequences.shape[1]) - (seq - new_tokens),
        "cache_class": type(cache).__name__ if cache is not None else None,
        "cache_bytes": tensor_storage_bytes(cache, torch, set()),
        "peak_incl_context": peak_with_context(after),
        "notes": notes,
    }
    del out, cache, ids, mask
    return result


def measure_one(
    entry: dict[str, Any], gpu: Gpu, torch: Any, init: str, new_tokens: int, stages: list[str]
) -> dict[str, Any]:
    s = entry["scenario"]
    batch, seq = int(s["batch"]), int(s["seq_len"])
    gpu.clean()
    base = gpu.read()
    start = time.perf_counter()
    model, info = build(entry, torch, init)
    loaded = gpu.read()
    record: dict[str, Any] = {
        "model": info,
        "base": base,
        "load": {
            **loaded,
            "seconds": round(time.perf_counter() - start, 3),
            "weights_bytes": int(loaded["allocated"]) - int(base["allocated"]),
        },
    }
    try:
        if "prefill" in stages:
            record["prefill"] = prefill(model, gpu, torch, batch, seq)
            gpu.clean()
        if "generate" in stages:
            record["generate"] = generate(model, gpu, torch, batch, seq, new_tokens)
    finally:
        del model
        gpu.clean()
    return record


def environment(torch: Any) -> dict[str, Any]:
    import transformers

    props = torch.cuda.get_device_properties(0)
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "transformers": transformers.__version__,
        "device": props.name,
        "device_total_bytes": int(props.total_memory),
        "PYTORCH_CUDA_ALLOC_CONF": os.environ.get("PYTORCH_CUDA_ALLOC_CONF"),
        "CUDA_MODULE_LOADING": os.environ.get("CUDA_MODULE_LOADING"),
    }


def context_probe(gpu: Gpu, torch: Any) -> dict[str, Any]:
    """What the CUDA context costs outside the allocator: bare, then with cuBLAS loaded."""
    torch.cuda.init()
    x = torch.ones(1, device="cuda")
    bare = gpu.read()
    a = torch.randn(1024, 1024, device="cuda", dtype=torch.bfloat16)
    (a @ a).sum().item()
    with_blas = gpu.read()
    del x, a
    gpu.clean()
    return {"bare": bare, "after_first_matmul": with_blas}


def summary(record: dict[str, Any]) -> dict[str, Any]:
    """The one-line view of a model's record (the file has everything)."""
    line: dict[str, Any] = {"name": record["name"], "ok": record.get("ok")}
    if not record.get("ok"):
        line["error"] = record.get("error")
        return line
    line["weights_gib"] = round(record["load"]["weights_bytes"] / 2**30, 3)
    line["load_s"] = record["load"]["seconds"]
    for stage in ("prefill", "generate"):
        st = record.get(stage)
        if not isinstance(st, dict):
            continue
        after = st["after"]
        line[stage] = {
            "peak_alloc_gib": round(after["peak_allocated"] / 2**30, 3),
            "peak_reserved_gib": round(after["peak_reserved"] / 2**30, 3),
            "peak_incl_context_gib": round(st["peak_incl_context"] / 2**30, 3),
            "cache_gib": round(st["cache_bytes"] / 2**30, 3),
            "cache": st["cache_class"],
            "s": st["seconds"],
        }
    line["s"] = record.get("seconds")
    return line


def write(out_dir: Path, result: dict[str, Any]) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / "vram_measured.json.tmp"
    tmp.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    tmp.replace(out_dir / "vram_measured.json")


def run(plan: dict[str, Any], args: argparse.Namespace) -> int:
    others = smi_device_used_bytes()  # before this process creates a CUDA context
    try:
        import torch
        import transformers  # noqa: F401
    except ImportError as exc:
        raise SystemExit(f"{exc}: measure.py needs torch and transformers (or --dry-run)") from exc

    if not torch.cuda.is_available():
        raise SystemExit("no CUDA device; use --dry-run to check the plan without one")
    gpu = Gpu(torch, others or 0)
    out_dir = Path(os.environ.get("OUT") or "out")
    started = time.perf_counter()
    result: dict[str, Any] = {
        "plan_scenario": plan.get("scenario"),
        "environment": environment(torch),
        "device_used_by_others_before_start": others,
        "context": context_probe(gpu, torch),
        "settings": {"init": args.init, "gen_tokens": args.gen_tokens, "stages": args.stages},
        "models": [],
    }
    ctx = result["context"]["after_first_matmul"]
    print(json.dumps({"environment": result["environment"], "context_bytes": ctx["non_allocator"]}))
    stages = args.stages.split(",")
    failures = 0
    for entry in plan["models"]:
        elapsed = time.perf_counter() - started
        record: dict[str, Any] = {"name": entry["name"], "scenario": entry["scenario"]}
        if elapsed > args.budget_s:
            record |= {"ok": False, "error": f"skipped: {elapsed:.0f}s > budget {args.budget_s}s"}
        else:
            t0 = time.perf_counter()
            try:
                record |= measure_one(entry, gpu, torch, args.init, args.gen_tokens, stages)
                record["ok"] = True
            except Exception as exc:  # one model's failure must not stop the others
                record |= {
                    "ok": False,
                    "error": f"{type(exc).__name__}: {str(exc)[:500]}",
                    "traceback": traceback.format_exc()[-3000:],
                }
                failures += 1
            gpu.clean()
            record["seconds"] = round(time.perf_counter() - t0, 2)
        result["models"].append(record)
        result["total_seconds"] = round(time.perf_counter() - started, 2)
        write(out_dir, result)
        print(json.dumps(summary(record)), flush=True)
    print(
        f"wrote {out_dir / 'vram_measured.json'}: {len(plan['models']) - failures} of "
        f"{len(plan['models'])} models measured in {time.perf_counter() - started:.0f}s",
        file=sys.stderr,
    )
    return 1 if failures == len(plan["models"]) else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--plan", type=Path, default=HERE / "plan.json")
    parser.add_argument("--models", nargs="+", help="measure only these plan entries")
    parser.add_argument("--dry-run", action="store_true", help="parse the plan; no torch")
    parser.add_argument(
        "--init",
        choices=("hf", "skip"),
        default="hf",
        help="hf: transformers' own random init, on the GPU; skip: no_init_weights and "
        "normal(0, 0.02) in place (faster; use if hf init is slow)",
    )
    parser.add_argument("--gen-tokens", type=int, default=8, help="tokens generate() adds")
    parser.add_argument("--stages", default="prefill,generate", help="comma-separated")
    parser.add_argument(
        "--budget-s", type=float, default=200.0, help="start no new model after this many s"
    )
    args = parser.parse_args(argv)
    plan = load_plan(args.plan, args.models)
    if args.dry_run:
        dry_run(plan, args.gen_tokens)
        return 0
    return run(plan, args)


if __name__ == "__main__":
    sys.exit(main())
