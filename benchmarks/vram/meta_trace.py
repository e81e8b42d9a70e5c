#!/usr/bin/env python3
"""Peak VRAM of the real transformers code, traced on the meta device (no GPU needed).

    python3 meta_trace.py --plan plan.json --out traced.json      # torch + transformers

Each plan model is built from its config.json on the meta device (shapes and dtypes, no
memory), so an 8B model at batch 16 runs in a second on a CPU. Its forward is the library's
own code; a `TorchDispatchMode` sees every aten op and records, in order, each new tensor
storage and the moment the last reference to it goes (`StorageWeakRef.expired()` is checked
before every op, which is when a CUDA run frees it too). `tools/sizing/allocator.py` replays that
order through PyTorch's CUDA caching-allocator rules, so the result is what
`max_memory_reserved()` would report; adding the CUDA context measured on the H100
(`CUDA_CONTEXT_BYTES`) gives the nvidia-smi view that the estimator targets.

What the meta device does not do like CUDA is emulated, each against the H100 measurement:

- SDPA: on the meta device it is one op that allocates only its output. On CUDA it runs
  the flash kernel when there is no mask (plus an fp32 logsumexp of batch x heads x tokens)
  and the memory-efficient kernel when there is one, after converting a boolean mask to an
  additive one in the compute dtype (a copy of the mask's size).
- The load: the weights are allocated in parameter order on top of the 32 MiB cuBLAS
  workspace, then `empty_cache()` runs, as `measure.py` does between stages.

Stages traced per model, as `measure.py` runs them: the prefill (`use_cache=True`,
`logits_to_keep=1`), then generate()'s sampling of the first token (fp32 logits, top-p
0.9) and one decode step. The JSON gives the allocated and reserved peaks of each.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
# The allocator replay is the estimator's own (standard library only), loaded from its file
# so that this script needs nothing but torch and transformers (not the package's imports).
_spec = importlib.util.spec_from_file_location(
    "kriptik_allocator", Path(__file__).resolve().parents[2] / "tools" / "sizing" / "allocator.py"
)
assert _spec is not None and _spec.loader is not None
_allocator = importlib.util.module_from_spec(_spec)
sys.modules["kriptik_allocator"] = _allocator  # dataclasses look their module up
_spec.loader.exec_module(_allocator)
Allocator = _allocator.Allocator

HERE = Path(__file__).resolve().parent
MIB = 1 << 20
CUBLAS_WORKSPACE = 32 * MIB
# Device memory outside the allocator during generate(), measured on the H100 (CUDA 13,
# torch 2.11): see tools/sizing/vram.py::CUDA_CONTEXT_BYTES and measured-h100.json.
CUDA_CONTEXT_BYTES = 704 * MIB
DROP_KEYS = ("auto_map", "_name_or_path", "transformers_version", "model_type")


def _make_tracker(torch: Any, allocator: Allocator) -> Any:
    from torch.multiprocessing.reductions import StorageWeakRef
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_leaves

    sdpa = torch.ops.aten.scaled_dot_product_attention.default

    class Tracker(TorchDispatchMode):
        """Feeds the allocator every storage an op creates and every storage that died."""

        def __init__(self) -> None:
            super().__init__()
            self.live: dict[int, Any] = {}
            self.known: set[int] = set()
            self.handles = 0

        def adopt(self, tensors: list[Any]) -> None:
            """Storages that exist already (weights, inputs): never counted again."""
            self.known.update(t.untyped_storage()._cdata for t in tensors)

        def sweep(self) -> None:
            for key in [k for k, (ref, _) in self.live.items() if ref.expired()]:
                allocator.free(self.live.pop(key)[1])

        def transient(self, nbytes: int) -> None:
            """A buffer a CUDA kernel allocates and frees inside one op."""
            self.handles += 1
            allocator.allocate(-self.handles, nbytes)
            allocator.free(-self.handles)

        def record(self, out: Any) -> None:
            for t in tree_leaves(out):
                if not isinstance(t, torch.Tensor):
                    continue
                st = t.untyped_storage()
                if st._cdata in self.live or st._cdata in self.known or st.nbytes() == 0:
                    continue
                self.handles += 1
                self.live[st._cdata] = (StorageWeakRef(st), self.handles)
                allocator.allocate(self.handles, st.nbytes())

        def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None):
            self.sweep()
            kwargs = kwargs or {}
            if func is sdpa:
                return self.cuda_sdpa(func, args, kwargs)
            out = func(*args, **kwargs)
            self.record(out)
            return out

        def cuda_sdpa(self, func: Any, args: Any, kwargs: Any) -> Any:
            q = args[0]
            mask = args[3] if len(args) > 3 else kwargs.get("attn_mask")
            batch, heads, tokens = q.shape[0], q.shape[1], q.shape[2]
            if mask is None:
                # Flash: output plus an fp32 logsumexp, freed when the op returns.
                out = func(*args, **kwargs)
                self.record(out)
                self.transient(batch * heads * tokens * 4)
                return out
            if mask.dtype == torch.bool:
                # Memory-efficient kernel: the boolean mask becomes an additive float mask.
                bias = torch.empty(mask.shape, dtype=q.dtype, device=q.device)
                self.record(bias)
                out = func(*args, **kwargs)
                self.record(out)
                del bias
                return out
            out = func(*args, **kwargs)
            self.record(out)
            return out

    return Tracker()


def build(torch: Any, entry: dict[str, Any], dtype: Any) -> Any:
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForImageTextToText

    config = entry["config"]
    kwargs = {k: v for k, v in config.items() if k not in DROP_KEYS}
    conf = AutoConfig.for_model(config["model_type"], **kwargs)
    # A multimodal checkpoint (gemma-3-4b) is served whole, vision tower included; the
    # prompt is text only.
    auto = AutoModelForImageTextToText if "text_config" in config else AutoModelForCausalLM
    with torch.device("meta"):
        model = auto.from_config(conf, dtype=dtype, attn_implementation="sdpa")
    return model.eval()


def load_weights(model: Any, allocator: Allocator) -> int:
    """Allocate the cuBLAS workspace, then each weight storage once, in parameter order."""
    allocator.allocate(0, CUBLAS_WORKSPACE)
    seen: set[int] = set()
    total = 0
    tensors = list(model.parameters()) + list(model.buffers())
    for i, t in enumerate(tensors, start=1):
        st = t.untyped_storage()
        if st._cdata in seen:
            continue  # tied embeddings share one storage
        seen.add(st._cdata)
        allocator.allocate(10_000_000 + i, st.nbytes())
        total += st.nbytes()
    allocator.empty_cache()
    return total


def sample_top_p(torch: Any, logits: Any) -> Any:
    """generate()'s sampling of one token: fp32 logits, top-p 0.9 (TopPLogitsWarper)."""
    scores = logits[:, -1, :].to(copy=True, dtype=torch.float32)
    sorted_logits, sorted_indices = torch.sort(scores, descending=False)
    cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
    remove = cumulative <= (1 - 0.9)
    remove[..., -1:] = 0
    scores = scores.masked_fill(remove.scatter(1, sorted_indices, remove), -float("inf"))
    probs = torch.nn.functional.softmax(scores, dim=-1)
    return probs.argmax(dim=-1, keepdim=True)  # multinomial is random; same allocations


def trace_stages(
    torch: Any, model: Any, allocator: Allocator, batch: int, seq: int, *, decode: bool = True
) -> dict:
    """Peaks of the prefill and of sampling plus one decode step, as measure.py runs them."""
    tracker = _make_tracker(torch, allocator)
    ids = torch.zeros(batch, seq, dtype=torch.long, device="meta")
    tracker.adopt([*model.parameters(), *model.buffers(), ids])
    stages: dict[str, dict[str, int]] = {}
    allocator.reset_peak()
    with torch.inference_mode(), tracker:
        out = model(input_ids=ids, use_cache=True, logits_to_keep=1)
        stages["prefill"] = {"peak_allocated": allocator.peak_allocated,
                             "peak_reserved": allocator.peak_reserved}  # fmt: skip
        token = sample_top_p(torch, out.logits)
        if decode:
            model(input_ids=token, past_key_values=out.past_key_values, use_cache=True,
                  logits_to_keep=1)  # fmt: skip
        stages["generate"] = {"peak_allocated": allocator.peak_allocated,
                              "peak_reserved": allocator.peak_reserved}  # fmt: skip
        del out, token
        tracker.sweep()
    return stages


def trace_model(torch: Any, entry: dict[str, Any]) -> dict[str, Any]:
    dtypes = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}
    scenario = entry["scenario"]
    started = time.monotonic()
    model = build(torch, entry, dtypes[scenario["dtype"]])
    allocator = Allocator()
    weights = load_weights(model, allocator)
    before = {"allocated": allocator.allocated, "reserved": allocator.reserved}
    stages = trace_stages(torch, model, allocator, scenario["batch"], scenario["seq_len"])
    peak_reserved = max(s["peak_reserved"] for s in stages.values())
    return {
        "name": entry["name"],
        "scenario": scenario,
        "class": type(model).__name__,
        "weights_bytes": weights,
        "before": before,
        **stages,
        "peak_incl_context": peak_reserved + CUDA_CONTEXT_BYTES,
        "seconds": round(time.monotonic() - started, 2),
    }


def environment(torch: Any) -> dict[str, str]:
    import transformers

    return {"torch": torch.__version__, "transformers": transformers.__version__,
            "device": "meta (traced), CUDA caching allocator replayed",
            "cuda_context_bytes": str(CUDA_CONTEXT_BYTES)}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--plan", type=Path, default=HERE / "plan.json")
    parser.add_argument("--out", type=Path, default=None, help="write JSON here")
    parser.add_argument("--models", nargs="*", help="only these plan names")
    args = parser.parse_args(argv)
    import torch
    import torch._dynamo

    plan = json.loads(args.plan.read_text(encoding="utf-8"))
    entries = [m for m in plan["models"] if not args.models or m["name"] in args.models]
    results = []
    for entry in entries:
        row = trace_model(torch, entry)
        results.append(row)
        print(json.dumps({"name": row["name"], "gib": round(row["peak_incl_context"] / 2**30, 3)}))
    payload = {"environment": environment(torch), "models": results}
    if args.out is not None:
        args.out.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
