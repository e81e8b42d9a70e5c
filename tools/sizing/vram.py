"""`estimate_vram`: the peak GPU memory of one process generating with a model.

The total is meant to match what `nvidia-smi` shows at the peak of HF transformers
`generate()` for `batch` sequences of `context_tokens` tokens (prompt plus generated):

    total = weights + KV cache + prefill activations + CUDA context + allocator overhead

See `activations.py` for the activation model. Every constant is named below and echoed
in `VramEstimate.assumptions`, so a reader can see exactly what was assumed.
"""

from __future__ import annotations

from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from tools.sizing.activations import ActivationBreakdown, AttentionImpl, prefill_activations
from tools.sizing.band import VramBand, band_for
from tools.sizing.diffusion import (
    DiffusionSizing,
    OffloadOption,
    Overheads,
    diffusion_assumptions,
    diffusion_sizing,
)
from tools.sizing.dtypes import (
    FLOAT_TENSOR_DTYPES,
    ServeDtype,
    compute_bytes,
    parse_dtype,
    tensor_dtype_bytes,
    weight_bytes_per_param,
)
from tools.sizing.errors import (
    ContextTooLongError,
    InvalidBatchError,
    InvalidContextError,
    InvalidOptionError,
)
from tools.sizing.replay import ReplayedParts, replayed_parts
from tools.sizing.requirements import Architecture, ModelRequirements

__all__ = [
    "CUDA_CONTEXT_BYTES", "VramEstimate", "estimate_vram", "weight_rounding_bytes",
    "weights_bytes_at",
]  # fmt: skip

_GIB: Final = 1 << 30
_MIB: Final = 1 << 20
#: Device memory a torch process holds outside its caching allocator: CUDA context, loaded
#: kernels (lazy module loading keeps adding a few MiB as new kernels run), cuBLAS/cuBLASLt
#: handles. Measured on an NVIDIA H100 80GB HBM3, torch 2.11.0+cu130, CUDA 13.0 as
#: `mem_get_info()` device use minus `memory_reserved()` (benchmarks/vram/measured-h100.json):
#: 619 MiB right after `cuda.init()`, 685 MiB after the first bf16 matmul, 697-703 MiB
#: during generate() of the six plan models. 704 MiB covers the largest reading.
CUDA_CONTEXT_BYTES: Final = 704 * _MIB
# cuBLAS workspace, held inside the caching allocator for the life of the process (32 MiB
# on Hopper; measured: 32 MiB allocated before any model was built).
_CUBLAS_WORKSPACE: Final = 32 * _MIB
# PyTorch's caching allocator (CUDACachingAllocator.cpp, default settings): a request
# >= 10 MiB gets its own segment rounded up to 2 MiB, and a block is only split when more
# than 1 MiB would be left over, so a weight of s bytes costs the whole rounded segment
# when roundup(s, 2 MiB) - s <= 1 MiB. This is why Qwen2.5-7B's weights measure 43 MiB over
# their tensor bytes (84 MLP matrices of 129.5 MiB and two 1039.5 MiB embeddings, each
# 0.5 MiB short of a 2 MiB multiple) while Llama-3.1-8B's (all 2 MiB multiples) match.
_SEGMENT_ROUND: Final = 2 * _MIB
_OWN_SEGMENT: Final = 10 * _MIB
_SPLIT_ABOVE: Final = 1 * _MIB
# Reserved-over-allocated at the prefill peak (cached blocks that the next allocation
# cannot reuse), as fractions of what the prefill allocates: per-layer KV tensors created
# between a layer's activations pin the segments those activations were carved from, and
# 1-10 MiB requests are served from 20 MiB buffers. Fitted on the H100 measurement of
# Qwen2.5-7B and Llama-3.1-8B (reserved - allocated at the peak: 260 and 340 MiB) and
# rounded up for run-to-run noise; it then covers Phi-3 (574-619 MiB), Qwen1.5-MoE (280)
# and gemma-3 (37-73).
_FRAG_DYNAMIC_KV: Final = 0.45
_FRAG_STATIC_KV: Final = 0.02
_FRAG_ACTIVATIONS: Final = 0.35
# Small models: below one 20 MiB large-pool buffer per layer's worth of 1-10 MiB tensors,
# the fractions undercount (Qwen2.5-0.5B: 84-88 MiB over 191 MiB allocated): a floor.
_FRAG_FLOOR: Final = 128 * _MIB
# Models without a transformer config (diffusers, custom code): activations as a share of
# the weights, plus a flat allowance for VAE decode / attention scratch.
_OTHER_ACT_SHARE: Final = 0.2
_OTHER_ACT_FLAT: Final = _GIB
_OTHER_FRAG: Final = 0.08


class VramEstimate(BaseModel):
    """Peak GPU memory, by part, in bytes, plus what was assumed to get there."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    weights_bytes: int
    kv_cache_bytes: int = Field(description="Steady-state cache (sliding layers capped).")
    activation_bytes: int = Field(description="Prefill peak, incl. transient prompt KV.")
    cuda_context_bytes: int
    allocator_overhead_bytes: int
    total_bytes: int
    dtype: ServeDtype
    kv_dtype: ServeDtype
    context_tokens: int
    batch: int
    attention: AttentionImpl
    kv_bytes_per_token: int = Field(description="One token, all full-attention layers.")
    num_attention_heads: int | None = None
    num_kv_heads: int | None = None
    basis: Literal["transformer", "diffusion", "weights-only", "model-card"]
    activation_parts: dict[str, int] = Field(default_factory=dict)
    overhead_parts: dict[str, int] = Field(
        default_factory=dict, description="allocator_overhead_bytes, by part."
    )
    assumptions: dict[str, str] = Field(default_factory=dict)
    band: VramBand = Field(description="Where the real peak is expected to fall (band_for).")
    diffusion: DiffusionSizing | None = Field(
        default=None, description="A diffusers pipeline: per component, per offload option."
    )

    @property
    def offload(self) -> OffloadOption | None:
        """The diffusers offload option the total assumes (None for other models)."""
        return self.diffusion.offload if self.diffusion else None

    @property
    def overhead_bytes(self) -> int:
        """CUDA context plus allocator overhead."""
        return self.cuda_context_bytes + self.allocator_overhead_bytes

    @property
    def gpu_fit_bytes(self) -> int:
        """What a GPU must hold: the band's upper end, so a chosen card holds the real
        peak even where the estimate is low."""
        return self.band.high_bytes


def _linear_share(requirements: ModelRequirements) -> float:
    arch = requirements.architecture
    if arch is None:
        return 1.0
    layers = arch.num_layers
    h = arch.hidden_size
    mlp = (arch.num_experts or 1) * 3 * h * (arch.moe_intermediate_size or arch.intermediate_size)
    linear = layers * (2 * h * arch.q_dim + 2 * h * arch.num_kv_heads * arch.head_dim + mlp)
    embeddings = arch.vocab_size * h * (1 if arch.tie_word_embeddings else 2)
    return linear / (linear + embeddings)


def weights_bytes_at(requirements: ModelRequirements, dtype: ServeDtype) -> int:
    """Bytes the weights take on the GPU when served in `dtype`.

    Float tensors are re-cast; integer and fp8 tensors (packed quantized weights) keep
    their storage. A quantized checkpoint keeps its weights and computes in 16 bits; a
    float checkpoint served in fp8/int8/int4 quantizes its linear layers only.
    """
    counts = requirements.parameters_by_dtype
    if not counts:
        if requirements.parameter_count and dtype != "auto":
            return int(requirements.parameter_count * weight_bytes_per_param(dtype))
        return requirements.weights_bytes
    quantized = requirements.quantization.method != "none"
    total = 0.0
    for tag, count in counts.items():
        stored = count * (tensor_dtype_bytes(tag) or 1)
        if dtype == "auto" or tag.upper() not in FLOAT_TENSOR_DTYPES:
            total += stored
        elif quantized or dtype in {"fp32", "bf16", "fp16"}:
            total += count * (compute_bytes(dtype) if quantized else weight_bytes_per_param(dtype))
        else:
            share = _linear_share(requirements)
            total += count * (share * weight_bytes_per_param(dtype) + (1 - share) * 2)
    return int(total)


def _weight_matrices(arch: Architecture) -> list[tuple[int, int]]:
    """(elements, how many) of each weight matrix a transformers >= 5 model allocates."""
    h, inter = arch.hidden_size, arch.intermediate_size
    q, kv, v = arch.q_dim, arch.num_kv_heads * arch.head_dim, arch.num_kv_heads * arch.v_head_dim
    n = arch.num_layers
    out = [(arch.vocab_size * h, 1 if arch.tie_word_embeddings else 2)]
    if arch.fused_gate_up:  # phi3: fused qkv and gate_up
        out += [((q + kv + v) * h, n), (q * h, n), (2 * inter * h, n), (inter * h, n)]
        return out
    out += [(q * h, 2 * n), (kv * h, n), (v * h, n)]
    if arch.is_moe:  # experts fused into 3-D tensors, plus the shared expert
        moe = arch.moe_intermediate_size
        out += [(arch.num_experts * 2 * moe * h, n), (arch.num_experts * moe * h, n)]
        if arch.shared_expert_intermediate_size:
            out.append((arch.shared_expert_intermediate_size * h, 3 * n))
    else:
        out.append((inter * h, 3 * n))
    return out


def weight_rounding_bytes(arch: Architecture, bytes_per_param: int) -> int:
    """Bytes the caching allocator adds to the weights by not splitting their segments."""
    total = 0
    for elements, count in _weight_matrices(arch):
        size = elements * bytes_per_param
        if size < _OWN_SEGMENT:
            continue  # carved out of shared 20 MiB buffers; covered by fragmentation
        slack = -size % _SEGMENT_ROUND
        if slack <= _SPLIT_ABOVE:
            total += slack * count
    return total


def _checkpoint_float_bytes(requirements: ModelRequirements) -> int:
    floats = {t: c for t, c in requirements.parameters_by_dtype.items() if t in FLOAT_TENSOR_DTYPES}
    if floats:
        return tensor_dtype_bytes(max(floats, key=lambda t: floats[t])) or 2
    arch = requirements.architecture
    return (arch.checkpoint_dtype_bytes if arch else None) or 2


def _kv_cache(arch: Architecture, *, batch: int, context: int, kv_bytes: int) -> int:
    per_token_layer = arch.kv_elements_per_token_layer * kv_bytes
    window = arch.sliding_window or context
    tokens = sum(min(context, window) if k == "sliding" else context for k in arch.layer_kinds)
    return batch * per_token_layer * tokens


def _validate(requirements: ModelRequirements, context: int, batch: int) -> None:
    if batch < 1:
        raise InvalidBatchError(batch)
    if context < 1:
        raise InvalidContextError(context)
    arch = requirements.architecture
    if arch is not None and arch.max_context is not None and context > arch.max_context:
        raise ContextTooLongError(context, arch.max_context)


def _kv_dtype(serve: ServeDtype, kv_dtype: str | None, act: int) -> tuple[ServeDtype, int]:
    """The KV cache's dtype and its bytes per element."""
    # Weight-only quantization (fp8/int8/int4) keeps the KV cache in the compute dtype.
    default_kv: ServeDtype = serve if serve in {"auto", "fp32", "bf16", "fp16"} else "bf16"
    kv_serve = parse_dtype(kv_dtype) if kv_dtype is not None else default_kv
    kv_bytes = (
        1 if kv_serve in {"fp8", "int8", "int4"} else compute_bytes(kv_serve, checkpoint_bytes=act)
    )
    return kv_serve, kv_bytes


def _overhead(
    requirements: ModelRequirements, arch: Architecture, serve: ServeDtype, act: int, kv: int,
    parts: ActivationBreakdown,
) -> dict[str, int]:  # fmt: skip
    """The allocator's overhead: fragmentation, weight rounding and the cuBLAS workspace."""
    frag_kv = _FRAG_STATIC_KV if arch.static_cache else _FRAG_DYNAMIC_KV
    fragmentation = max(
        _FRAG_FLOOR,
        int(frag_kv * (kv + parts.sliding_prefill_kv) + _FRAG_ACTIVATIONS * parts.total),
    )
    dense = requirements.quantization.method == "none" and serve in {"auto", "fp32", "bf16", "fp16"}
    rounding = weight_rounding_bytes(arch, act) if dense else 0
    return {
        "fragmentation": fragmentation,
        "weight_rounding": rounding,
        "cublas_workspace": _CUBLAS_WORKSPACE,
    }


def _activation_parts(parts: ActivationBreakdown) -> dict[str, int]:
    return {
        "persistent": parts.persistent,
        "masks": parts.masks,
        "sliding_prefill_kv": parts.sliding_prefill_kv,
        "attention_phase": parts.attention_phase,
        "mlp_phase": parts.mlp_phase,
        "final_phase": parts.final_phase,
    }


def estimate_vram(
    requirements: ModelRequirements,
    dtype: str = "bf16",
    context_tokens: int = 4096,
    batch: int = 1,
    *,
    kv_dtype: str | None = None,
    attention: AttentionImpl = "sdpa",
    cuda_context_bytes: int = CUDA_CONTEXT_BYTES,
    height: int | None = None,
    width: int | None = None,
    frames: int | None = None,
    offload: OffloadOption = "none",
) -> VramEstimate:
    """Peak GPU memory of batch-`batch` generation with `context_tokens` per sequence, or
    of a diffusers pipeline making `batch` images (videos) of `height` x `width` (x `frames`).

    Args:
        requirements: From `inspect_model` or `requirements_from_config`.
        dtype: Serving dtype: bf16, fp16, fp32, fp8, int8, int4 or auto (checkpoint's own).
        context_tokens: Tokens per sequence, prompt plus generated.
        batch: Sequences generated together.
        kv_dtype: KV-cache dtype; defaults to the compute dtype, also when the weights are
            quantized (fp8 halves the cache).
        attention: Attention implementation: sdpa (default), eager or flash.
        cuda_context_bytes: Memory the CUDA context takes outside PyTorch's allocator.
        height, width, frames: A diffusers pipeline's output (default 1024 x 1024, one
            frame; 480 x 832 x 81 frames for video); `context_tokens` does not apply.
        offload: A diffusers pipeline's offload option the total assumes (all three are in
            `diffusion.offload_totals`).

    Raises:
        UnknownDtypeError: `dtype` or `kv_dtype` is not a known dtype.
        InvalidBatchError: `batch` is below 1.
        InvalidContextError: `context_tokens` is below 1.
        ContextTooLongError: `context_tokens` exceeds the model's maximum context.
    """
    serve = parse_dtype(dtype)
    _validate(requirements, context_tokens, batch)
    if cuda_context_bytes < 0:
        raise InvalidOptionError("cuda_context_bytes cannot be negative")
    act = compute_bytes(serve, checkpoint_bytes=_checkpoint_float_bytes(requirements))
    kv_serve, kv_bytes = _kv_dtype(serve, kv_dtype, act)
    weights = weights_bytes_at(requirements, serve)
    arch = requirements.architecture
    assumptions = _assumptions(serve, act, kv_bytes, attention, cuda_context_bytes)
    if arch is None and requirements.library == "diffusers":
        found = _diffusion(requirements, serve, batch, cuda_context_bytes,
                           (height, width, frames), offload)  # fmt: skip
        if found is not None:
            return found
    if arch is None:
        return _without_architecture(
            requirements, serve, kv_serve, context_tokens, batch, attention, weights,
            cuda_context_bytes, assumptions,
        )  # fmt: skip
    return _with_architecture(
        requirements, arch, serve, kv_serve, act, kv_bytes, context_tokens, batch, attention,
        weights, cuda_context_bytes, assumptions,
    )  # fmt: skip


def _with_architecture(
    requirements: ModelRequirements, arch: Architecture, serve: ServeDtype,
    kv_serve: ServeDtype, act: int, kv_bytes: int, context_tokens: int, batch: int,
    attention: AttentionImpl, weights: int, cuda_context_bytes: int,
    assumptions: dict[str, str],
) -> VramEstimate:  # fmt: skip
    """The estimate from the model's shape: weights, KV cache, activations, overhead."""
    kv = _kv_cache(arch, batch=batch, context=context_tokens, kv_bytes=kv_bytes)
    kv = kv if arch.generative else 0
    parts = prefill_activations(
        arch, batch=batch, context=context_tokens, act_bytes=act, kv_bytes=kv_bytes,
        attention=attention,
    )  # fmt: skip
    replayed = _replayed(requirements, arch, serve, act, kv_bytes, attention, kv, batch,
                         context_tokens)  # fmt: skip
    if replayed is not None:
        activations, overhead_parts = replayed.activation_bytes, replayed.overhead_parts
        band_basis = "transformer"
        assumptions |= _replay_assumptions(replayed.family)
    else:  # the analytic fallback, with its fitted fragmentation
        activations, band_basis = parts.total, "transformer-analytic"
        overhead_parts = _overhead(requirements, arch, serve, act, kv, parts)
    overhead = sum(overhead_parts.values())
    if arch.static_cache:
        assumptions["kv_cache"] = (
            "static/hybrid cache pre-allocated; sliding layers hold their window"
        )
    total = weights + kv + activations + cuda_context_bytes + overhead
    return VramEstimate(
        weights_bytes=weights,
        kv_cache_bytes=kv,
        activation_bytes=activations,
        cuda_context_bytes=cuda_context_bytes,
        allocator_overhead_bytes=overhead,
        total_bytes=total,
        dtype=serve,
        kv_dtype=kv_serve,
        context_tokens=context_tokens,
        batch=batch,
        attention=attention,
        kv_bytes_per_token=arch.kv_elements_per_token_layer * kv_bytes * arch.num_layers,
        num_attention_heads=arch.num_attention_heads,
        num_kv_heads=arch.num_kv_heads,
        basis="transformer",
        activation_parts=_activation_parts(parts),
        overhead_parts=overhead_parts,
        assumptions=assumptions | {"peak_phase": parts.peak_phase},
        band=band_for(total, band_basis),
    )


def _replayed(
    requirements: ModelRequirements, arch: Architecture, serve: ServeDtype, act: int,
    kv_bytes: int, attention: AttentionImpl, kv: int, batch: int, context: int,
) -> ReplayedParts | None:  # fmt: skip
    """Activations and overhead from replaying the caching allocator over the family's
    recorded allocation order (tools/sizing/replay.py), where the templates apply: 16-bit
    weights, compute and cache, SDPA, transformers' dynamic cache, generation."""
    dense = requirements.quantization.method == "none" and serve in {"auto", "bf16", "fp16"}
    if not (dense and act == 2 and kv_bytes == 2 and attention == "sdpa"):
        return None
    if arch.static_cache or not arch.generative:
        return None
    return replayed_parts(arch, kv_bytes=kv, batch=batch, seq=context, param_bytes=2)


def _replay_assumptions(family: str) -> dict[str, str]:
    return {
        "activations": f"replayed: the {family} family's allocation order in transformers' "
        "prefill, sampling and first decode step (recorded from the library, "
        "tools/sizing/alloc_templates.json) with this model's dimensions",
        "allocator_overhead": "PyTorch's caching allocator replayed over that order "
        "(fragmentation and 2 MiB weight rounding as its rules give them), the 32 MiB "
        "cuBLAS workspace, and a safety margin of 10% of the prefill's memory (at least "
        "128 MiB) for lazily loaded kernels and kernel scratch",
        "calibration": "replay within 1.4% of the H100 measurement of six models "
        "(torch 2.11 + CUDA 13.0, transformers 5.17 generate()); estimate 0-10% above "
        "(docs/sizing.md); not vLLM, which pre-allocates gpu_memory_utilization",
    }


def _without_architecture(
    requirements: ModelRequirements,
    serve: ServeDtype,
    kv_serve: ServeDtype,
    context: int,
    batch: int,
    attention: AttentionImpl,
    weights: int,
    cuda_context: int,
    assumptions: dict[str, str],
) -> VramEstimate:
    activations = int(_OTHER_ACT_SHARE * weights) + _OTHER_ACT_FLAT
    overhead = int(_OTHER_FRAG * activations) + _CUBLAS_WORKSPACE
    computed = weights + activations + cuda_context + overhead
    card = requirements.card_vram_bytes or 0
    basis: Literal["weights-only", "model-card"] = (
        "model-card" if card > computed else "weights-only"
    )
    assumptions["activations"] = (
        f"no transformer config: activations taken as {_OTHER_ACT_SHARE:.0%} of the weights "
        "plus 1 GiB (a rough allowance; context and batch are not modelled)"
    )
    if card > computed:
        assumptions["model_card"] = "the model card states more than we compute; its figure wins"
        overhead += card - computed
    return VramEstimate(
        weights_bytes=weights,
        kv_cache_bytes=0,
        activation_bytes=activations,
        cuda_context_bytes=cuda_context,
        allocator_overhead_bytes=overhead,
        total_bytes=max(card, computed),
        dtype=serve,
        kv_dtype=kv_serve,
        context_tokens=context,
        batch=batch,
        attention=attention,
        kv_bytes_per_token=0,
        basis=basis,
        assumptions=assumptions,
        band=band_for(max(card, computed), basis),
    )


def _diffusion(
    requirements: ModelRequirements, serve: ServeDtype, batch: int, cuda_context: int,
    size: tuple[int | None, int | None, int | None], offload: OffloadOption,
) -> VramEstimate | None:  # fmt: skip
    """A diffusers pipeline's estimate (tools.sizing.diffusion), with this module's CUDA
    context, cuBLAS workspace and activation fragmentation; None when it cannot be modelled."""
    overheads = Overheads(cuda_context, _CUBLAS_WORKSPACE, _FRAG_ACTIVATIONS, _FRAG_FLOOR)
    found = diffusion_sizing(requirements, serve, height=size[0], width=size[1],
                             frames=size[2], batch=batch, offload=offload,
                             overheads=overheads)  # fmt: skip
    if found is None:
        return None
    sizing, option = found
    overhead = {"fragmentation": option.fragmentation, "cublas_workspace": _CUBLAS_WORKSPACE,
                "conv_workspace": option.workspace}  # fmt: skip
    return VramEstimate(
        weights_bytes=option.weights, kv_cache_bytes=0, activation_bytes=option.activations,
        cuda_context_bytes=cuda_context, allocator_overhead_bytes=sum(overhead.values()),
        total_bytes=option.total, dtype=serve, kv_dtype=serve, context_tokens=1, batch=batch,
        attention="sdpa", kv_bytes_per_token=0, basis="diffusion",
        activation_parts=sizing.component_activations, overhead_parts=overhead,
        assumptions=diffusion_assumptions(sizing, serve), band=band_for(option.total, "diffusion"),
        diffusion=sizing,
    )  # fmt: skip


def _assumptions(
    serve: ServeDtype, act: int, kv_bytes: int, attention: AttentionImpl, context: int
) -> dict[str, str]:
    return {
        "measurement": "peak process memory as nvidia-smi shows it during HF transformers "
        "generate(): weights + KV cache + prefill activations + CUDA context + fragmentation",
        "weights": f"float tensors cast to {serve}; integer/fp8 (quantized) tensors keep "
        "their storage; tied embeddings stored once",
        "compute_dtype_bytes": str(act),
        "kv_cache": f"{kv_bytes} byte(s) per element; 2 x layers x kv_heads x head_dim per "
        "token; sliding-window layers capped at the window (a dynamic cache still holds the "
        "whole prompt until the first decode step: see activation_parts.sliding_prefill_kv)",
        "prefill": "the whole context is prefilled at once (prompt ~ context), the peak of "
        "generation; only the last position's logits are computed (transformers >= 4.45)",
        "attention": f"{attention}: sdpa/flash need no score matrix; eager materializes "
        "batch x heads x context^2 scores in fp32",
        "cuda_context_bytes": f"{context} (outside the allocator; 704 MiB measured on H100 "
        "with CUDA 13)",
        "allocator_overhead": f"PyTorch caching allocator: {_FRAG_DYNAMIC_KV:.0%} of a dynamic "
        f"KV cache ({_FRAG_STATIC_KV:.0%} of a static one) + {_FRAG_ACTIVATIONS:.0%} of "
        f"activations of reserved-over-allocated (at least {_FRAG_FLOOR // _MIB} MiB), the "
        "unsplit 2 MiB rounding of weight segments >= 10 MiB, and the "
        f"{_CUBLAS_WORKSPACE // _MIB} MiB cuBLAS workspace (see overhead_parts)",
        "calibration": "H100 80GB, torch 2.11 + CUDA 13.0, transformers 5.17 generate(): "
        "estimate within 0-10% above the measured peak for six models "
        "(docs/sizing.md); not vLLM, which pre-allocates gpu_memory_utilization",
    }
