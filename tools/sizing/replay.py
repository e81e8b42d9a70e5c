"""The prefill's peak allocated and reserved memory, by replaying the caching allocator.

The fragmentation of PyTorch's caching allocator (reserved memory it cannot reuse) depends
on the order and sizes of every tensor a forward allocates and frees; no fraction of the
activations captures it across model sizes, batches and contexts. So, for each model
family, `alloc_templates.json` holds that order as recorded from the real transformers
code (`benchmarks/vram/alloc_templates.py` traces it on the meta device), with each size
written as element bytes x a named dimension x batch^a x sequence^b. Here the template is
instantiated with the model's own dimensions and replayed through `allocator.Allocator`,
the allocator's rules: the weights first (in load order, then `empty_cache()`, as a
fresh process has them), then the prefill, the last token's logits and generate()'s top-p
sampling. The replay takes a few milliseconds.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Final

from tools.sizing.allocator import Allocator
from tools.sizing.requirements import Architecture

__all__ = ["ReplayPeak", "ReplayedParts", "family_of", "replay_prefill", "replayed_parts"]

_TEMPLATES: Final = Path(__file__).with_name("alloc_templates.json")
_CUBLAS_WORKSPACE: Final = 32 << 20
_ALIASES: Final = {"gemma3": "gemma3_text", "qwen2_5": "qwen2"}

#: The dimension names the templates use, read from the model's shape.
DIMENSIONS: Final[dict[str, Callable[[Architecture], int]]] = {
    "1": lambda a: 1, "h": lambda a: a.hidden_size, "q": lambda a: a.q_dim,
    "kv": lambda a: a.num_kv_heads * a.head_dim, "I": lambda a: a.intermediate_size,
    "V": lambda a: a.vocab_size, "D": lambda a: a.head_dim, "H": lambda a: a.num_attention_heads,
    "Hkv": lambda a: a.num_kv_heads, "E": lambda a: a.num_experts,
    "K": lambda a: a.experts_per_token, "Im": lambda a: a.moe_intermediate_size,
    "Is": lambda a: a.shared_expert_intermediate_size, "D/2": lambda a: a.head_dim // 2,
    "q/2": lambda a: a.q_dim // 2, "kv/2": lambda a: a.num_kv_heads * a.head_dim // 2,
    "K*h": lambda a: a.experts_per_token * a.hidden_size,
    "K*Im": lambda a: a.experts_per_token * a.moe_intermediate_size,
    "K*I": lambda a: a.experts_per_token * a.intermediate_size,
    "q+2kv": lambda a: a.q_dim + 2 * a.num_kv_heads * a.head_dim,
    "W": lambda a: a.sliding_window or 0,
    "H*W": lambda a: a.num_attention_heads * (a.sliding_window or 0),
    "Hkv*W": lambda a: a.num_kv_heads * (a.sliding_window or 0),
    "E*K": lambda a: a.num_experts * a.experts_per_token,
    "kv*W": lambda a: a.num_kv_heads * a.head_dim * (a.sliding_window or 0),
    "q*W": lambda a: a.q_dim * (a.sliding_window or 0),
}  # fmt: skip


@dataclass(frozen=True)
class ReplayPeak:
    """Bytes the allocator holds: after loading the weights, and at the prefill's peak."""

    weights_bytes: int  # the replayed weight matrices' own bytes
    weights_allocated: int
    weights_reserved: int
    peak_allocated: int
    peak_reserved: int
    family: str


@cache
def _templates() -> dict[str, Any]:
    return json.loads(_TEMPLATES.read_text(encoding="utf-8"))["families"]


def family_of(arch: Architecture) -> str | None:
    """The template family for this model, or None when none was recorded for it."""
    family = _ALIASES.get(arch.model_type, arch.model_type)
    return family if family in _templates() else None


def _layer_weights(arch: Architecture) -> list[int]:
    """Element counts of one decoder layer's matrices, in the order a model builds them."""
    h, inter = arch.hidden_size, arch.intermediate_size
    q, kv = arch.q_dim, arch.num_kv_heads * arch.head_dim
    v = arch.num_kv_heads * arch.v_head_dim
    if arch.fused_gate_up:  # phi3: fused qkv and gate_up
        return [(q + kv + v) * h, q * h, 2 * inter * h, inter * h]
    attention = [q * h, kv * h, v * h, q * h]
    if not arch.is_moe:
        return [*attention, inter * h, inter * h, inter * h]
    moe = arch.moe_intermediate_size or inter
    experts = [arch.num_experts * 2 * moe * h, arch.num_experts * moe * h]
    shared = arch.shared_expert_intermediate_size
    return [*attention, arch.num_experts * h, *experts, *([shared * h] * 3 if shared else [])]


def _load_weights(allocator: Allocator, arch: Architecture, param_bytes: int) -> int:
    """The cuBLAS workspace, then every weight matrix in build order, then `empty_cache()`;
    returns the matrices' bytes. (Norm vectors and biases live in the small pool, apart.)"""
    handle = iter(range(-1, -(10**9), -1))
    allocator.allocate(next(handle), _CUBLAS_WORKSPACE)
    sizes = [arch.vocab_size * arch.hidden_size]
    sizes += _layer_weights(arch) * arch.num_layers
    if not arch.tie_word_embeddings:
        sizes.append(arch.vocab_size * arch.hidden_size)
    for elements in sizes:
        allocator.allocate(next(handle), elements * param_bytes)
    allocator.empty_cache()
    return sum(sizes) * param_bytes


def _size(event: list[Any], arch: Architecture, batch: int, seq: int) -> int:
    """["+", element bytes, dimension, batch exponent, seq exponent, seq offset] in bytes."""
    width, name, a, b, offset = event[1:6]
    return width * DIMENSIONS[name](arch) * batch**a * (seq + offset) ** b


def _layers(
    templates: dict[str, Any], kinds: list[str], name: str
) -> Iterator[tuple[tuple[str, int], list[Any]]]:
    warmup = templates["warmup"]
    for i in range(len(kinds)):
        context = "|".join(kinds[i - back] for back in range(3))
        yield (name, i), warmup[i] if i < len(warmup) else templates["steady"][context]


def _sections(
    family: dict[str, Any], arch: Architecture
) -> Iterator[tuple[tuple[str, int], list[Any]]]:
    """((section, layer), events) in run order: the prefill (`pre`, its layers, `mid`),
    then the first decode step (its layers, `end`). `mid`/`end` sit one past the last layer."""
    kinds: list[str] = list(arch.layer_kinds)
    if len(set(family["warmup_kinds"])) == 1:
        # One kind throughout (phi3 applies its window to every layer without naming
        # layer kinds): the model's own labels do not select anything.
        kinds = [family["warmup_kinds"][0]] * len(kinds)
    if kinds[: len(family["warmup_kinds"])] != family["warmup_kinds"][: len(kinds)]:
        raise KeyError("the first layers' kinds differ from the recorded family's")
    last = "|".join(kinds[len(kinds) - 1 - back] for back in range(3))
    yield ("pre", -1), family["pre"]
    yield from _layers(family["layer"], kinds, "layer")
    yield ("mid", len(kinds)), family["mid"][last]
    yield from _layers(family["dlayer"], kinds, "dlayer")
    yield ("end", len(kinds)), family["end"][last]


def _regime(templates: dict[str, Any], arch: Architecture, seq: int) -> dict[str, Any]:
    """The template for this sequence: a sliding-window model runs other code (no window
    mask) while the prompt and the decode step's token fit in the window."""
    if "all" in templates:
        return templates["all"]
    window = arch.sliding_window or 0
    return templates["within" if seq + 1 <= window else "windowed"]


def _handle_of(event: list[Any], current: int) -> tuple[str, int, int]:
    """The allocation a free names: (section, layer, index of the allocation there)."""
    if event[1] in ("layer", "dlayer"):
        return event[1], current - event[2], event[3]
    return event[1], -1 if event[1] == "pre" else current, event[2]


def replay_prefill(
    arch: Architecture, *, batch: int, seq: int, param_bytes: int
) -> ReplayPeak | None:
    """The allocator's peaks for a batch x seq prefill, or None without a template.

    `param_bytes` is the weights' element size (2 for bf16/fp16); the activations are
    those of a 16-bit compute dtype, the only one the templates were recorded in.
    """
    name = family_of(arch)
    if name is None:
        return None
    family = _regime(_templates()[name], arch, seq)
    if arch.num_layers <= len(family["layer"]["warmup"]):
        return None  # fewer layers than the recorded warm-up: no steady pattern to replay
    allocator = Allocator()
    weights = _load_weights(allocator, arch, param_bytes)
    weights_allocated, weights_reserved = allocator.allocated, allocator.reserved
    allocator.reset_peak()
    handles: dict[tuple[str, int, int], int] = {}
    try:
        for (section, layer), events in _sections(family, arch):
            count = 0
            for event in events:
                if event[0] == "+":
                    handles[(section, layer, count)] = key = len(handles) + 1
                    allocator.allocate(key, _size(event, arch, batch, seq))
                    count += 1
                else:
                    allocator.free(handles[_handle_of(event, layer)])
    except KeyError:
        return None  # a layer pattern the family's template was not recorded with
    return ReplayPeak(
        weights_bytes=weights,
        weights_allocated=weights_allocated,
        weights_reserved=weights_reserved,
        peak_allocated=allocator.peak_allocated,
        peak_reserved=allocator.peak_reserved,
        family=name,
    )


# What the replay cannot know, kept as an explicit margin on top of it: kernels loaded
# lazily by ops a model runs for the first time (outside the allocator), scratch that CUDA
# kernels take inside it, and run-to-run differences of the allocator's state. Against the
# H100 measurement (benchmarks/vram/measured-h100.json) the replay was 1.4% low at worst
# (gemma-3-1b-it: 56 MiB of 408 MiB of prefill memory): 10% of the prefill's memory, at
# least 128 MiB, covers that with room.
# And the whole trace was within 1.4% of the measured peak (the other direction too): at
# least 2% of the replayed peak, so that no row's margin is thinner than the trace's error.
SAFETY_SHARE: Final = 0.10
SAFETY_TOTAL_SHARE: Final = 0.02
SAFETY_FLOOR: Final = 128 << 20


@dataclass(frozen=True)
class ReplayedParts:
    """The estimate's parts from a replay: activations and the allocator's overhead."""

    activation_bytes: int
    overhead_parts: dict[str, int]
    family: str


def replayed_parts(
    arch: Architecture, *, kv_bytes: int, batch: int, seq: int, param_bytes: int
) -> ReplayedParts | None:
    """Activations (the prefill's peak allocated above the weights and the KV cache) and
    overhead (fragmentation, weight rounding, cuBLAS workspace, safety margin) by replay,
    so that weights + KV + activations + overhead = the replayed reserved peak, with the
    estimate's own weights in place of the replayed matrices, plus the margin."""
    peak = replay_prefill(arch, batch=batch, seq=seq, param_bytes=param_bytes)
    if peak is None:
        return None
    prefill_memory = peak.peak_reserved - peak.weights_reserved
    parts = {
        "fragmentation": peak.peak_reserved - peak.peak_allocated,
        "weight_rounding": peak.weights_allocated - peak.weights_bytes - _CUBLAS_WORKSPACE,
        "cublas_workspace": _CUBLAS_WORKSPACE,
        "safety_margin": max(
            SAFETY_FLOOR,
            int(SAFETY_SHARE * prefill_memory),
            int(SAFETY_TOTAL_SHARE * peak.peak_reserved),
        ),
    }
    activations = peak.peak_allocated - peak.weights_allocated - kv_bytes
    if activations < 0:  # cannot happen: the prefill holds the cache; keep the sum exact
        parts["fragmentation"] += activations
        activations = 0
    return ReplayedParts(activations, parts, peak.family)
