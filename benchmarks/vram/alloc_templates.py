#!/usr/bin/env python3
"""Record each model family's allocation sequence as a template the estimator can replay.

    python3 alloc_templates.py --out ../../tools/sizing/alloc_templates.json  # torch, transformers

The estimator cannot run torch, but it can replay PyTorch's caching allocator
(`tools/sizing/allocator.py`) over the order in which a prefill allocates and frees its
tensors, and that order is what the allocator's fragmentation depends on. This script
takes that order from the real transformers code: for each family it builds a small
*synthetic* model (the family's own config with every dimension set to a distinct value,
so that each tensor size factors uniquely into them), traces its prefill on the meta
device three times (base, batch doubled, sequence doubled), and writes every allocation
as `coefficient x batch^a x seq^b x dimension`. A free names the allocation it releases.
The estimator instantiates the template with the real model's dimensions.

Sections: `pre` (embedding, masks, RoPE tables), the prefill's layers (one template per
layer context), `mid` (final norm, last-token logits, generate()'s top-p sampling, the
decode step's embedding), the decode step's layers, and `end`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import meta_trace

Allocator = meta_trace.Allocator

HERE = Path(__file__).resolve().parent
CONFIGS = HERE.parents[1] / "tests" / "sizing" / "fixtures" / "configs"
# Distinct dimensions: no product of two of them (times 1, 2, 4 or 8 bytes) equals another.
DIMS = {"h": 600, "H": 15, "Hkv": 5, "D": 38, "I": 592, "V": 1111, "E": 11, "K": 3,
        "Im": 136, "Is": 344, "W": 41}  # fmt: skip
BATCH, SEQ = 3, 96
# A window longer than both traced sequences (and their decode step): the `within` regime.
WITHIN_WINDOW = 4 * SEQ
# Layer kinds repeat with this period (gemma2 alternates sliding and full; gemma3 has five
# sliding layers per full one).
PERIOD = {"gemma2": 2, "gemma3_text": 6}


def layer_context(kinds: list[str], i: int) -> str:
    """`this|previous|the one before`, the key of a layer's template."""
    return "|".join(kinds[i - back] for back in range(3))


def warmup_layers(family: str) -> int:
    """Leading layers that free what `pre` left (a layer frees tensors of up to two layers
    back), so they get templates of their own; every later layer repeats its kind's."""
    return 2 * PERIOD.get(family, 1) if family in PERIOD else 2


FAMILIES = {
    "llama": "Llama-3.1-8B", "mistral": "Mistral-7B-v0.3", "qwen2": "Qwen2.5-7B",
    "qwen3": "Qwen3-8B", "phi3": "Phi-3-mini-4k-instruct", "gemma2": "gemma-2-2b",
    "gemma3_text": "gemma-3-1b-it", "qwen2_moe": "Qwen1.5-MoE-A2.7B",
    "qwen3_moe": "Qwen3-30B-A3B", "mixtral": "Mixtral-8x7B-v0.1",
}  # fmt: skip


def synthetic_config(family: str) -> dict[str, Any]:
    config = json.loads((CONFIGS / f"{FAMILIES[family]}.json").read_text(encoding="utf-8"))
    d = DIMS
    config |= {
        "hidden_size": d["h"], "num_attention_heads": d["H"], "num_key_value_heads": d["Hkv"],
        "head_dim": d["D"], "intermediate_size": d["I"], "vocab_size": d["V"],
        "max_position_embeddings": 8 * SEQ, "tie_word_embeddings": False,
        "num_hidden_layers": warmup_layers(family) + 2 * PERIOD.get(family, 1) + 1,
    }  # fmt: skip
    if config.get("sliding_window") is not None:
        config["sliding_window"] = d["W"]
    config.pop("layer_types", None)
    for token in ("pad_token_id", "bos_token_id", "eos_token_id"):
        config[token] = 0  # ids from the real vocabulary lie beyond the synthetic one
    config.pop("rope_scaling", None)
    for key, dim in (("moe_intermediate_size", "Im"), ("shared_expert_intermediate_size", "Is"),
                     ("num_experts", "E"), ("num_local_experts", "E"),
                     ("num_experts_per_tok", "K")):  # fmt: skip
        if key in config:
            config[key] = d[dim]
    config.pop("max_window_layers", None)
    return config


class Recorder(Allocator):
    """An allocator that also logs each event, with section markers from module hooks."""

    def __init__(self) -> None:
        super().__init__()
        self.log: list[tuple[str, int, int]] = []
        self.recording = False

    def allocate(self, handle: int, nbytes: int) -> None:
        super().allocate(handle, nbytes)
        if self.recording:
            self.log.append(("+", handle, nbytes))

    def free(self, handle: int) -> None:
        super().free(handle)
        if self.recording:
            self.log.append(("-", handle, 0))

    def mark(self, section: str) -> None:
        self.log.append(("|", 0, 0) if section == "layer" else ("#", 0, 0))


def record(torch: Any, config: dict[str, Any], batch: int, seq: int) -> tuple[list, list[str]]:
    """The event log of the prefill, sampling and one decode step; the kind of each layer."""
    model = meta_trace.build(torch, {"config": config}, torch.bfloat16)
    recorder = Recorder()
    meta_trace.load_weights(model, recorder)
    decoder = model.model
    for layer in decoder.layers:
        layer.register_forward_pre_hook(lambda *_: recorder.mark("layer"))
    decoder.norm.register_forward_pre_hook(lambda *_: recorder.mark("post"))
    recorder.recording = True
    meta_trace.trace_stages(torch, model, recorder, batch, seq)
    # Frees after the last allocation (the cache released at the end) move no peak.
    last = max(i for i, event in enumerate(recorder.log) if event[0] == "+")
    del recorder.log[last + 1 :]
    kinds = getattr(model.config, "layer_types", None) or ["full_attention"] * len(decoder.layers)
    return recorder.log, ["sliding" if k == "sliding_attention" else "full" for k in kinds]


def split(log: list, layers: int) -> dict[str, Any]:
    """The log cut at the hooks' marks: `pre`, the prefill's layers, `mid` (final norm,
    logits, sampling, the decode step's embedding and masks), the decode step's layers and
    `end` (its final norm and logits)."""
    sections: list[list] = [[]]
    for event in log:
        if event[0] in "|#":
            sections.append([])
        else:
            sections[-1].append(event)
    if len(sections) != 2 * layers + 3:
        raise ValueError(f"{len(sections)} sections, not {2 * layers + 3}: hooks missed a layer")
    return {"pre": sections[0], "layer": sections[1 : layers + 1], "mid": sections[layers + 1],
            "dlayer": sections[layers + 2 : 2 * layers + 2], "end": sections[-1]}  # fmt: skip


# Per-token (or per-sequence) widths, by the name the estimator knows them by
# (tools/sizing/replay.py::DIMENSIONS has the same names).
FORMULAS = {
    "1": lambda d: 1, "h": lambda d: d["h"], "q": lambda d: d["H"] * d["D"],
    "kv": lambda d: d["Hkv"] * d["D"], "I": lambda d: d["I"], "V": lambda d: d["V"],
    "D": lambda d: d["D"], "H": lambda d: d["H"], "Hkv": lambda d: d["Hkv"],
    "E": lambda d: d["E"], "K": lambda d: d["K"], "Im": lambda d: d["Im"],
    "Is": lambda d: d["Is"], "D/2": lambda d: d["D"] // 2, "q/2": lambda d: d["H"] * d["D"] // 2,
    "kv/2": lambda d: d["Hkv"] * d["D"] // 2, "K*h": lambda d: d["K"] * d["h"],
    "K*Im": lambda d: d["K"] * d["Im"], "K*I": lambda d: d["K"] * d["I"],
    "q+2kv": lambda d: (d["H"] + 2 * d["Hkv"]) * d["D"],
    "W": lambda d: d["W"], "H*W": lambda d: d["H"] * d["W"], "Hkv*W": lambda d: d["Hkv"] * d["W"],
    "E*K": lambda d: d["E"] * d["K"], "kv*W": lambda d: d["Hkv"] * d["D"] * d["W"],
    "q*W": lambda d: d["H"] * d["D"] * d["W"],
}  # fmt: skip
# A second set of values: two formulas that give one size on DIMS are the same quantity
# only if they also agree here.
DIMS_CHECK = {"h": 1030, "H": 10, "Hkv": 2, "D": 52, "I": 1402, "V": 3001, "E": 13, "K": 5,
              "Im": 222, "Is": 404, "W": 33}  # fmt: skip


def candidates() -> dict[int, tuple[int, str]]:
    """Per-unit sizes (bytes) on DIMS -> (element width, formula); ambiguous ones dropped."""
    table: dict[int, tuple[int, str]] = {}
    ambiguous: set[int] = set()
    for name, formula in FORMULAS.items():
        for width in (1, 2, 4, 8):
            size = width * formula(DIMS)
            if size in table:
                other_width, other = table[size]
                if other_width * FORMULAS[other](DIMS_CHECK) != width * formula(DIMS_CHECK):
                    ambiguous.add(size)
                continue
            table[size] = (width, name)
    return {k: v for k, v in table.items() if k not in ambiguous}


def _scaling(n: int, nb: int, ns: int) -> tuple[int, int, int]:
    """(batch exponent, sequence exponent, sequence offset) of a size: the decode step's
    tensors span the prompt plus the new token, so they scale with seq + 1."""
    a = {1.0: 0, 2.0: 1}.get(nb / n)
    for offset in (0, 1):
        for b in (0, 1, 2):
            if a is not None and ns * (SEQ + offset) ** b == n * (2 * SEQ + offset) ** b:
                return a, b, offset
    raise ValueError(f"size scales by {nb / n} with batch and {ns / n} with seq")


def symbolize(base: list, twice_batch: list, twice_seq: list, where: str) -> list[list]:
    """Each event as ["+", handle, element bytes, formula, batch exp., seq exp., seq offset]
    or ["-", handle]."""
    if not len(base) == len(twice_batch) == len(twice_seq):
        raise ValueError(f"{where}: the event order depends on the sizes")
    table = candidates()
    out = []
    for (op, handle, n), (_, _, nb), (_, _, ns) in zip(base, twice_batch, twice_seq, strict=True):
        if op == "-":
            out.append(["-", handle])
            continue
        a, b, offset = _scaling(n, nb, ns)
        unit = n / (BATCH**a * (SEQ + offset) ** b)
        match = table.get(int(unit)) if unit == int(unit) else None
        if match is None:
            raise ValueError(f"{where}: {n} bytes = B^{a} S^{b} x {unit}: no dimension matches")
        out.append(["+", handle, match[0], match[1], a, b, offset])
    return out


LAYERED = ("layer", "dlayer")
ORDER = ("pre", "layer", "mid", "dlayer", "end")


def relativize(parts: dict[str, Any]) -> dict[str, Any]:
    """Replace handles by where they were allocated: ["-", section, index] for `pre`, `mid`
    and `end`; ["-", section, layers back, index] for a layer of either pass, counted from
    the current layer (`mid` and `end` count as one past the last layer)."""
    layers = len(parts["layer"])
    # Tensors whose size depends on neither batch nor sequence are scalars and index vectors
    # of a few bytes (the sliding layers' cache counters, allocated up front and freed as
    # each layer runs): dropped, so that every layer of a kind has the same template.
    every = [ev for name in ORDER for ev in (parts[name] if name not in LAYERED else
             [e for section in parts[name] for e in section])]  # fmt: skip
    tiny = {e[1] for e in every if e[0] == "+" and e[4:6] == [0, 0]}
    origin: dict[int, tuple[str, int, int]] = {}
    result: dict[str, Any] = {name: [] for name in ORDER}
    for name in ORDER:
        sections = parts[name] if name in LAYERED else [parts[name]]
        for position, events in enumerate(sections):
            current = position if name in LAYERED else (-1 if name == "pre" else layers)
            count, out = 0, []
            for event in (e for e in events if e[1] not in tiny):
                if event[0] == "+":
                    origin[event[1]] = (name, current, count)
                    out.append(["+", *event[2:]])
                    count += 1
                    continue
                where, at, idx = origin[event[1]]
                out.append(
                    ["-", where, current - at, idx] if where in LAYERED else ["-", where, idx]
                )
            result[name].append(out)
    return {n: result[n] if n in LAYERED else result[n][0] for n in ORDER}


def _by_context(family: str, layers: list[list], kinds: list[str]) -> dict[str, list]:
    """One template per layer context; every layer of a context must repeat its events."""
    found: dict[str, list] = {}
    for i, events in enumerate(layers):
        if i < warmup_layers(family):
            continue
        key = layer_context(kinds, i)
        if key in found and found[key] != events:
            raise ValueError(f"{family}: layers in context {key} differ (layer {i})")
        found.setdefault(key, events)
    return found


def _trace_family(
    torch: Any, family: str, extra_layers: int, window: int | None
) -> tuple[dict[str, Any], list[str]]:
    """The relativized template of one synthetic model, and its layers' kinds."""
    config = synthetic_config(family)
    config["num_hidden_layers"] += extra_layers
    if window is not None:
        config["sliding_window"] = window
    runs = [
        record(torch, config, b, s) for b, s in ((BATCH, SEQ), (2 * BATCH, SEQ), (BATCH, 2 * SEQ))
    ]
    kinds = runs[0][1]
    parts = [split(log, len(kinds)) for log, _ in runs]
    symbolic: dict[str, Any] = {}
    for name in ORDER:
        if name in LAYERED:
            symbolic[name] = [symbolize(*(p[name][i] for p in parts), where=f"{family} {name} {i}")
                              for i in range(len(kinds))]  # fmt: skip
        else:
            symbolic[name] = symbolize(*(p[name] for p in parts), where=f"{family} {name}")
    return relativize(symbolic), kinds


def family_template(torch: Any, family: str) -> dict[str, Any]:
    """The family's templates by regime: with a sliding window, the code differs when the
    whole sequence fits in the window (`within`: no window mask, nothing dropped) and when
    it does not (`windowed`); without one there is one regime, `all`."""
    if synthetic_config(family).get("sliding_window") is None:
        return {"all": _regime_template(torch, family, None)}
    return {"windowed": _regime_template(torch, family, DIMS["W"]),
            "within": _regime_template(torch, family, WITHIN_WINDOW)}  # fmt: skip


def _regime_template(torch: Any, family: str, window: int | None) -> dict[str, Any]:
    """One regime's template. `mid` and `end` free the last layer's tensors, so they are
    recorded once per context of the last layer (one synthetic model per phase of the
    family's layer pattern)."""
    parts, kinds = _trace_family(torch, family, 0, window)
    warmup = warmup_layers(family)
    template: dict[str, Any] = {
        "pre": parts["pre"], "warmup_kinds": kinds[:warmup],
        "layer": {"warmup": parts["layer"][:warmup],
                  "steady": _by_context(family, parts["layer"], kinds)},
        "dlayer": {"warmup": parts["dlayer"][:warmup],
                   "steady": _by_context(family, parts["dlayer"], kinds)},
        "mid": {}, "end": {},
    }  # fmt: skip
    for extra in range(PERIOD.get(family, 1)):
        if extra:
            parts, kinds = _trace_family(torch, family, extra, window)
        last = layer_context(kinds, len(kinds) - 1)
        template["mid"][last], template["end"][last] = parts["mid"], parts["end"]
    return template


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--families", nargs="*", default=list(FAMILIES))
    args = parser.parse_args(argv)
    import torch
    import torch._dynamo
    import transformers

    templates = {family: family_template(torch, family) for family in args.families}
    payload = {
        "source": "benchmarks/vram/alloc_templates.py: transformers prefill, sampling and one "
        "decode step traced on the meta device; sizes as element bytes x dimension x batch^a "
        "x (seq + offset)^b",
        "torch": torch.__version__, "transformers": transformers.__version__,
        "families": templates,
    }  # fmt: skip
    args.out.write_text(json.dumps(payload, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"{len(templates)} families -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
