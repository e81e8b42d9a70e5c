"""Peak activation memory of one prefill, the high-water mark of batch generation.

The model follows what HF transformers `generate()` keeps alive (bf16, `torch.no_grad`),
counted per token of the prefill (T = batch x context tokens):

- Throughout the forward: the embedding output (`inputs_embeds` stays referenced), input
  ids / masks (int64), RoPE cos/sin, and any materialized attention masks.
- Attention phase of one layer: layer input, normed input, q/k/v projections, RoPE
  temporaries (q*cos, rotate_half, *sin), the KV-cache copy of this layer, the SDPA output
  and its contiguous transpose; plus `repeat_kv` copies when a mask forces SDPA off its
  native-GQA path; plus the full score matrix for eager attention.
- MLP phase: layer input, residual, normed input, and act(gate), up and their product
  alive together (3 x intermediate; 4 x for phi3's fused gate_up). MoE (transformers'
  `grouped_mm` experts) adds the router logits, index vectors over the tokens x top_k
  rows, two gathered copies of the hidden states per row and the fused gate_up output
  with its activation, per row (see `_moe_phase`).
- Final phase: the last norm and the last token's logits (transformers only computes the
  last position during generate), its fp32 copy and top-p sampling temporaries.

The peak is the largest phase on top of what lives throughout. Everything here is for the
prefill, because with the whole context as prompt it dominates every decode step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from tools.sizing.requirements import Architecture

__all__ = ["ActivationBreakdown", "AttentionImpl", "prefill_activations"]

AttentionImpl = Literal["sdpa", "eager", "flash"]

_INT64: Final = 8
_FP32: Final = 4
_BOOL: Final = 1


@dataclass(frozen=True)
class ActivationBreakdown:
    """Bytes of each part; `total` is what the estimate adds on top of weights and KV."""

    persistent: int
    masks: int
    sliding_prefill_kv: int
    attention_phase: int
    mlp_phase: int
    final_phase: int

    @property
    def peak_phase(self) -> Literal["attention", "mlp", "final"]:
        if self.mlp_phase >= max(self.attention_phase, self.final_phase):
            return "mlp"
        return "attention" if self.attention_phase >= self.final_phase else "final"

    @property
    def total(self) -> int:
        layer = max(self.attention_phase, self.mlp_phase, self.final_phase)
        return self.persistent + self.masks + self.sliding_prefill_kv + layer


def _masks(arch: Architecture, *, batch: int, context: int, attention: AttentionImpl,
           act: int) -> tuple[int, bool]:  # fmt: skip
    """Bytes of materialized masks, and whether any layer runs SDPA with a mask."""
    if attention == "flash":
        return 0, False
    square = batch * context * context
    kinds = {"sliding": arch.sliding_layers > 0, "full": arch.sliding_layers < arch.num_layers}
    if attention == "eager":
        return sum(kinds.values()) * square * act, True
    if arch.static_cache:
        # A static/hybrid cache is longer than the tokens seen so far: SDPA always gets masks.
        return sum(kinds.values()) * square * _BOOL, True
    window = arch.sliding_window
    if kinds["sliding"] and window is not None and context >= window:
        return square * _BOOL, True  # only the sliding layers need one; full ones use is_causal
    return 0, False


def _moe_phase(arch: Architecture, tokens: int, act: int) -> int:
    """The MoE block with transformers' `grouped_mm` experts (the default of transformers >= 5
    on torch >= 2.9): every (token, expert) pair is one row, S = tokens x top_k."""
    h, experts, top_k = arch.hidden_size, arch.num_experts, max(arch.experts_per_token, 1)
    inter = arch.moe_intermediate_size
    rows = tokens * top_k
    # Layer input, normed input, the shared expert's output and the output accumulator.
    base = tokens * act * 4 * h
    # Router logits, their fp32 softmax, and the int64 index vectors over S (token index,
    # expert ids, sort permutation and its inverse).
    routing = tokens * experts * (act + _FP32) + rows * 4 * _INT64
    # Per row: the gathered and the expert-sorted copies of the hidden states (2h) and the
    # fused gate_up output (2I) stay referenced to the end of the experts' forward. On top:
    # act(gate) and its product with up (2I) when the gate is applied, or the gated output
    # (I), the down projection's output and its weighted, then unsorted, copy (2h) later.
    routed = rows * act * (2 * h + 2 * inter + max(2 * inter, inter + 2 * h))
    shared = tokens * act * 3 * arch.shared_expert_intermediate_size
    return base + routing + max(routed, shared)


def prefill_activations(
    arch: Architecture,
    *,
    batch: int,
    context: int,
    act_bytes: int,
    kv_bytes: int,
    attention: AttentionImpl = "sdpa",
) -> ActivationBreakdown:
    """Activation bytes at the peak of a prefill of `batch` x `context` tokens.

    Args:
        arch: The model's shape.
        batch: Sequences in the batch.
        context: Tokens per sequence (the whole context is prefilled).
        act_bytes: Bytes per activation element (2 for bf16/fp16).
        kv_bytes: Bytes per KV-cache element.
        attention: `sdpa` (transformers' default), `eager` (full score matrix) or `flash`.
    """
    tokens = batch * context
    h, q = arch.hidden_size, arch.q_dim
    kv_dim = arch.num_kv_heads * arch.head_dim
    gqa = arch.num_kv_heads < arch.num_attention_heads
    masks, masked = _masks(arch, batch=batch, context=context, attention=attention, act=act_bytes)
    persistent = tokens * (3 * _INT64 + act_bytes * h + 2 * act_bytes * arch.head_dim)

    sliding_excess = 0
    window = arch.sliding_window
    if arch.generative and not arch.static_cache and window is not None and context > window:
        # DynamicSlidingWindowLayer keeps a *view* of the whole prefill tensor, so the full
        # prompt stays allocated for sliding layers until the first decode step.
        per_token = arch.kv_elements_per_token_layer * kv_bytes
        sliding_excess = batch * arch.sliding_layers * per_token * (context - window)

    layer_kv = tokens * arch.kv_elements_per_token_layer * kv_bytes if arch.generative else 0
    repeat = 2 * q if (masked or attention == "eager") and gqa else 0
    attention_phase = tokens * act_bytes * (2 * h + 4 * q + 4 * kv_dim + repeat) + layer_kv
    if attention == "eager":
        # Scores, then softmax in fp32, then the cast back: input, fp32 and output coexist.
        attention_phase += (
            batch * arch.num_attention_heads * context * context * (2 * act_bytes + _FP32)
        )
    if arch.is_moe:
        mlp_phase = _moe_phase(arch, tokens, act_bytes)
    else:
        width = (4 if arch.fused_gate_up else 3) * arch.intermediate_size
        mlp_phase = tokens * act_bytes * (3 * h + width)
    # bf16 logits, their fp32 copy, and top-p sampling's sort (fp32 values + int64 indices),
    # softmax and cumulative sum over the vocabulary.
    logits = batch * arch.vocab_size * (act_bytes + 4 * _FP32 + _INT64) if arch.generative else 0
    final_phase = tokens * h * (2 * act_bytes + 2 * _FP32) + logits
    return ActivationBreakdown(
        persistent=persistent,
        masks=masks,
        sliding_prefill_kv=sliding_excess,
        attention_phase=attention_phase,
        mlp_phase=mlp_phase,
        final_phase=final_phase,
    )
