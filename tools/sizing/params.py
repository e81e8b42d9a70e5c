"""Parameter counts from config.json alone, for when no checkpoint metadata is at hand.

Exact for the decoder families we model (llama, mistral, mixtral, qwen2/qwen2-moe,
qwen3/qwen3-moe, phi3, gemma/gemma2/gemma3, and their vision towers where the config has
one); other decoders get the same gated-MLP formula and are marked approximate.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, cast

from pydantic import BaseModel, ConfigDict

from tools.sizing.config import parse_architecture, text_config
from tools.sizing.requirements import Architecture

__all__ = ["EXACT_FAMILIES", "ParamBreakdown", "count_parameters"]

EXACT_FAMILIES: Final = frozenset(
    {"llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe", "phi3",
     "gemma", "gemma2", "gemma3", "gemma3_text"}
)  # fmt: skip
_QKV_BIAS: Final = frozenset({"qwen2", "qwen2_moe"})
_QK_NORM: Final = frozenset({"qwen3", "qwen3_moe", "gemma3", "gemma3_text"})
_FOUR_NORMS: Final = frozenset({"gemma2", "gemma3", "gemma3_text"})


class ParamBreakdown(BaseModel):
    """Parameters by part. `linear` is what weight-only quantization compresses."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    embedding: int
    lm_head: int
    attention: int
    mlp: int
    norms: int
    vision: int
    exact: bool

    @property
    def linear(self) -> int:
        return self.attention + self.mlp

    @property
    def total(self) -> int:
        return self.embedding + self.lm_head + self.attention + self.mlp + self.norms + self.vision


def _attention(arch: Architecture, cfg: Mapping[str, Any]) -> int:
    h, q, kv = arch.hidden_size, arch.q_dim, arch.num_kv_heads * arch.head_dim
    v = arch.num_kv_heads * arch.v_head_dim
    weights = h * q + h * kv + h * v + arch.num_attention_heads * arch.v_head_dim * h
    qkv_bias = bool(cfg.get("attention_bias", arch.model_type in _QKV_BIAS))
    bias = (q + kv + v) if qkv_bias else 0
    if cfg.get("attention_bias") and arch.model_type not in _QKV_BIAS:
        bias += h  # llama-style attention_bias also puts a bias on o_proj
    norms = 2 * arch.head_dim if arch.model_type in _QK_NORM else 0
    return weights + bias + norms


def _mlp(arch: Architecture, cfg: Mapping[str, Any]) -> int:
    h = arch.hidden_size
    if not arch.is_moe:
        bias = (2 * arch.intermediate_size + h) if cfg.get("mlp_bias") else 0
        return 3 * h * arch.intermediate_size + bias
    experts = arch.num_experts * 3 * h * arch.moe_intermediate_size
    router = h * arch.num_experts
    shared = 3 * h * arch.shared_expert_intermediate_size
    if shared and arch.model_type == "qwen2_moe":
        shared += h  # shared_expert_gate: Linear(h, 1)
    return experts + router + shared


def _vision(config: Mapping[str, Any], text_hidden: int) -> int:
    raw = config.get("vision_config")
    if not isinstance(raw, Mapping):
        return 0
    vc = cast("Mapping[str, Any]", raw)
    hv = int(vc.get("hidden_size", 0) or 0)
    layers = int(vc.get("num_hidden_layers", 0) or 0)
    inter = int(vc.get("intermediate_size", 4 * hv) or 0)
    patch = int(vc.get("patch_size", 14) or 14)
    image = int(vc.get("image_size", 224) or 224)
    channels = int(vc.get("num_channels", 3) or 3)
    if not hv or not layers:
        return 0
    embed = channels * patch * patch * hv + hv + (image // patch) ** 2 * hv
    # ViT block: qkv+o with biases, two MLP matrices with biases, two LayerNorms.
    block = 4 * (hv * hv + hv) + 2 * hv * inter + inter + hv + 4 * hv
    projector = hv * text_hidden + hv  # gemma3-style projection plus its RMSNorm
    return embed + layers * block + 2 * hv + projector


def count_parameters(config: Mapping[str, Any]) -> ParamBreakdown:
    """Count a model's parameters from its config.json.

    Tied input/output embeddings are counted once, as they are stored (and loaded) once.

    Raises:
        MalformedConfigError: The config lacks the fields a transformer needs.
    """
    arch = parse_architecture(config)
    cfg = text_config(config)
    h, layers = arch.hidden_size, arch.num_layers
    norms_per_layer = 4 if arch.model_type in _FOUR_NORMS else 2
    embedding = arch.vocab_size * h
    return ParamBreakdown(
        embedding=embedding,
        lm_head=0 if arch.tie_word_embeddings else embedding,
        attention=layers * _attention(arch, cfg),
        mlp=layers * _mlp(arch, cfg),
        norms=layers * norms_per_layer * h + h,
        vision=_vision(config, h),
        exact=arch.model_type in EXACT_FAMILIES,
    )
