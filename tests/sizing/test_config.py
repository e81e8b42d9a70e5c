"""Reading a model's shape from config.json."""

from __future__ import annotations

from typing import Any

import pytest

from tests.sizing.conftest import load_config
from tools.sizing import MalformedConfigError, parse_architecture


def test_llama_shape() -> None:
    arch = parse_architecture(load_config("Llama-3.1-8B"))
    assert (arch.num_layers, arch.hidden_size, arch.intermediate_size) == (32, 4096, 14336)
    assert (arch.num_attention_heads, arch.num_kv_heads, arch.head_dim) == (32, 8, 128)
    assert (arch.vocab_size, arch.max_context) == (128256, 131072)
    assert arch.generative and not arch.tie_word_embeddings
    assert arch.sliding_window is None and set(arch.layer_kinds) == {"full"}


def test_explicit_head_dim_wins_over_hidden_over_heads() -> None:
    arch = parse_architecture(load_config("gemma-2-2b"))
    assert arch.head_dim == 256  # 2304 / 8 would be 288
    assert arch.q_dim == 2048


def test_gemma2_alternates_sliding_and_global_layers() -> None:
    arch = parse_architecture(load_config("gemma-2-2b"))
    assert arch.layer_kinds[:4] == ("sliding", "full", "sliding", "full")
    assert arch.sliding_layers == 13
    assert arch.sliding_window == 4096
    # "cache_implementation": "hybrid" no longer pre-allocates: transformers >= 5 builds a
    # DynamicCache with sliding layers (measured on gemma-3, benchmarks/vram/measured-h100.json)
    assert not arch.static_cache


def test_gemma3_multimodal_reads_text_config_and_its_defaults() -> None:
    arch = parse_architecture(load_config("gemma-3-4b-it"))
    assert arch.model_type == "gemma3_text"
    assert (arch.num_layers, arch.hidden_size, arch.vocab_size) == (34, 2560, 262_208)
    assert arch.max_context == 131_072
    # sliding_window_pattern 6: every sixth layer is global
    assert arch.layer_kinds[:6] == ("sliding",) * 5 + ("full",)
    assert arch.sliding_layers == 29
    assert arch.tie_word_embeddings


def test_layer_types_list_is_honoured() -> None:
    config = load_config("gemma-3-1b-it") | {
        "layer_types": ["full_attention", "sliding_attention"] * 13
    }
    arch = parse_architecture(config)
    assert arch.layer_kinds[:2] == ("full", "sliding")
    assert arch.sliding_layers == 13


def test_disabled_sliding_window_is_ignored() -> None:
    arch = parse_architecture(
        load_config("Qwen2.5-7B")
    )  # sliding_window set, use_sliding_window false
    assert arch.sliding_window is None


def test_phi3_slides_on_every_layer_and_fuses_gate_up() -> None:
    arch = parse_architecture(load_config("Phi-3-mini-4k-instruct"))
    assert arch.sliding_window == 2047 and arch.sliding_layers == 32
    assert arch.fused_gate_up


def test_moe_fields() -> None:
    arch = parse_architecture(load_config("Qwen3-30B-A3B"))
    assert (arch.num_experts, arch.experts_per_token, arch.moe_intermediate_size) == (128, 8, 768)


def test_gpt2_style_aliases_and_multi_query() -> None:
    arch = parse_architecture(
        {"architectures": ["GPTBigCodeForCausalLM"], "model_type": "gpt_bigcode", "n_layer": 4,
         "n_embd": 512, "n_head": 8, "vocab_size": 1000, "n_positions": 2048, "multi_query": True}
    )  # fmt: skip
    assert (arch.num_layers, arch.hidden_size, arch.num_kv_heads, arch.head_dim) == (4, 512, 1, 64)
    assert arch.intermediate_size == 4 * 512
    assert arch.max_context == 2048


def test_encoders_are_not_generative() -> None:
    arch = parse_architecture(
        {"architectures": ["BertModel"], "model_type": "bert", "num_hidden_layers": 12,
         "hidden_size": 768, "num_attention_heads": 12, "vocab_size": 30522}
    )  # fmt: skip
    assert not arch.generative


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"num_key_value_heads": 5}, "positive divisor"),
        ({"num_key_value_heads": 0}, "positive divisor"),
        ({"hidden_size": -4096}, "must be positive"),
        ({"num_hidden_layers": 2.5}, "whole number"),
        ({"num_hidden_layers": True}, "whole number"),
        ({"vocab_size": "lots"}, "whole number"),
        ({"vocab_size": None}, "no 'vocab_size'"),
    ],
)
def test_malformed_configs_name_the_field(change: dict[str, Any], message: str) -> None:
    with pytest.raises(MalformedConfigError, match=message):
        parse_architecture(load_config("Llama-3.1-8B") | change)
