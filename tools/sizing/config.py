"""Read a model's shape from config.json: layers, widths, heads, windows, experts.

Handles the aliases that different families use (`n_layer`, `n_embd`, `d_model`, ...), the
nested `text_config` of multimodal models, and the layer patterns of hybrid attention
(gemma2 alternates sliding and global layers; gemma3 uses `sliding_window_pattern` or
`layer_types`). Anything impossible raises `MalformedConfigError` naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, cast

from tools.sizing.dtypes import config_dtype_bytes
from tools.sizing.errors import MalformedConfigError
from tools.sizing.requirements import Architecture, LayerKind

__all__ = ["parse_architecture", "text_config"]

# Families whose config class defaults `tie_word_embeddings` to False (the base default is
# True, and configs often omit the key when it equals their class default).
_UNTIED_BY_DEFAULT: Final = frozenset(
    {"llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe", "phi3"}
)
_GENERATIVE_SUFFIXES: Final = ("ForCausalLM", "LMHeadModel", "ForConditionalGeneration")
_ENCODER_TYPES: Final = frozenset(
    {"bert", "roberta", "xlm-roberta", "distilbert", "deberta", "deberta-v2", "electra",
     "mpnet", "nomic_bert", "modernbert", "vit", "clip", "siglip", "clip_vision_model"}
)  # fmt: skip
# Cache implementations that make generate() pre-allocate the whole cache. "hybrid" (the
# gemma2/gemma3 generation default) is not among them: transformers >= 5 builds a
# DynamicCache with sliding-window layers for it (measured: gemma-3-1b-it under
# transformers 5.17 returned a DynamicCache; benchmarks/vram/measured-h100.json), and
# "sliding_window" is treated the same way (the dynamic path is the larger estimate).
_STATIC_CACHES: Final = frozenset({"static", "offloaded_static"})
# Config-class defaults that saved configs omit (nested configs are saved as a diff).
_FAMILY_DEFAULTS: Final[dict[str, dict[str, Any]]] = {
    "gemma2": {"cache_implementation": "hybrid", "sliding_window": 4096},
    "gemma3_text": {
        "vocab_size": 262_208,
        "max_position_embeddings": 131_072,
        "sliding_window": 4096,
        "sliding_window_pattern": 6,
        "cache_implementation": "hybrid",
        "head_dim": 256,
    },
}


def text_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The language-model part of a config: `text_config` merged over the top level."""
    merged = dict(config)
    nested = config.get("text_config")
    if isinstance(nested, Mapping):
        merged.update(cast("Mapping[str, Any]", nested))
    defaults = _FAMILY_DEFAULTS.get(str(merged.get("model_type")), {})
    return {**defaults, **merged}


def _int(cfg: Mapping[str, Any], *names: str, default: int | None = None) -> int | None:
    for name in names:
        value = cfg.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
            raise MalformedConfigError(f"config.json field {name!r} must be a whole number")
        return int(value)
    return default


def _required(cfg: Mapping[str, Any], *names: str) -> int:
    value = _int(cfg, *names)
    if value is None:
        listed = " / ".join(repr(n) for n in names)
        raise MalformedConfigError(
            f"config.json has no {listed}; it does not look like a transformer config "
            "(pass --params N with the parameter count to size it anyway)"
        )
    if value <= 0:
        raise MalformedConfigError(f"config.json field {names[0]!r} must be positive")
    return value


def _layer_kinds(
    cfg: Mapping[str, Any], model_type: str, layers: int, window: int | None
) -> tuple[LayerKind, ...]:
    if window is None:
        return ("full",) * layers
    types = cfg.get("layer_types")
    if isinstance(types, list) and len(cast("list[object]", types)) == layers:
        return tuple(
            "sliding" if isinstance(t, str) and "sliding" in t else "full"
            for t in cast("list[object]", types)
        )
    pattern = _int(cfg, "sliding_window_pattern")
    if model_type.startswith("gemma3") and pattern:
        return tuple("full" if (i + 1) % pattern == 0 else "sliding" for i in range(layers))
    if model_type == "gemma2":
        return tuple("sliding" if i % 2 == 0 else "full" for i in range(layers))
    if model_type.startswith("qwen") and cfg.get("max_window_layers") is not None:
        first = _int(cfg, "max_window_layers") or 0
        return tuple("sliding" if i >= first else "full" for i in range(layers))
    return ("sliding",) * layers


def _window(cfg: Mapping[str, Any]) -> int | None:
    if cfg.get("use_sliding_window") is False:
        return None
    window = _int(cfg, "sliding_window", "attention_window_size")
    return window if window and window > 0 else None


def _is_generative(cfg: Mapping[str, Any], model_type: str) -> bool:
    arches = cfg.get("architectures")
    if isinstance(arches, list):
        names = [a for a in cast("list[object]", arches) if isinstance(a, str)]
        if any(a.endswith(_GENERATIVE_SUFFIXES) for a in names):
            return True
        if names:
            return False
    return model_type not in _ENCODER_TYPES and not cfg.get("is_encoder_decoder", False)


def _experts(cfg: Mapping[str, Any], dense_intermediate: int) -> tuple[int, int, int]:
    """A mixture of experts' expert count, per-expert and shared intermediate sizes."""
    experts = _int(cfg, "num_local_experts", "num_experts", "n_routed_experts", default=0) or 0
    moe_inter = _int(cfg, "moe_intermediate_size", default=None) or (
        dense_intermediate if experts else 0
    )
    shared = _int(cfg, "shared_expert_intermediate_size", default=0) or 0
    if not shared and experts and _int(cfg, "n_shared_experts"):
        shared = (_int(cfg, "n_shared_experts") or 0) * moe_inter
    return experts, moe_inter, shared


def parse_architecture(config: Mapping[str, Any]) -> Architecture:
    """Parse config.json into an `Architecture`.

    Args:
        config: The parsed config.json (a multimodal config's `text_config` is used).

    Raises:
        MalformedConfigError: A required field is missing or a value is impossible.
    """
    cfg = text_config(config)
    model_type = str(cfg.get("model_type") or "unknown")
    layers = _required(cfg, "num_hidden_layers", "n_layer", "num_layers", "n_layers")
    hidden = _required(cfg, "hidden_size", "n_embd", "d_model", "dim")
    heads = _required(cfg, "num_attention_heads", "n_head", "num_heads", "n_heads")
    vocab = _required(cfg, "vocab_size", "padded_vocab_size")
    kv_default = 1 if cfg.get("multi_query") else heads
    kv_heads = _int(cfg, "num_key_value_heads", "num_kv_heads", "n_head_kv", default=kv_default)
    head_dim = _int(cfg, "head_dim", default=None) or (hidden // heads)
    if kv_heads is None or kv_heads <= 0 or kv_heads > heads or heads % kv_heads:
        raise MalformedConfigError(
            f"config.json has {kv_heads} key/value heads for {heads} attention heads; "
            "it must be a positive divisor of num_attention_heads"
        )
    if head_dim <= 0:
        raise MalformedConfigError("config.json implies a head dimension below 1")
    intermediate = _int(cfg, "intermediate_size", "n_inner", "ffn_dim", "ffn_hidden_size")
    experts, moe_inter, shared = _experts(cfg, intermediate or 4 * hidden)
    window = _window(cfg)
    tie_default = model_type not in _UNTIED_BY_DEFAULT
    tie = cfg.get("tie_word_embeddings", tie_default)
    max_context = _int(
        cfg, "max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"
    )
    return Architecture(
        model_type=model_type,
        architectures=tuple(
            a for a in cast("list[object]", cfg.get("architectures") or []) if isinstance(a, str)
        ),
        generative=_is_generative(cfg, model_type),
        num_layers=layers,
        hidden_size=hidden,
        intermediate_size=intermediate or 4 * hidden,
        num_attention_heads=heads,
        num_kv_heads=kv_heads,
        head_dim=head_dim,
        v_head_dim=_int(cfg, "v_head_dim", default=None) or head_dim,
        vocab_size=vocab,
        max_context=max_context if max_context and max_context > 0 else None,
        sliding_window=window,
        layer_kinds=_layer_kinds(cfg, model_type, layers, window),
        tie_word_embeddings=bool(tie),
        fused_gate_up=model_type == "phi3",
        num_experts=experts,
        experts_per_token=_int(cfg, "num_experts_per_tok", "moe_top_k", default=0) or 0,
        moe_intermediate_size=moe_inter,
        shared_expert_intermediate_size=shared,
        static_cache=str(cfg.get("cache_implementation")) in _STATIC_CACHES,
        checkpoint_dtype_bytes=config_dtype_bytes(cfg.get("torch_dtype", cfg.get("dtype"))),
    )
