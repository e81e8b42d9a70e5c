"""The VRAM model: each part against its formula, the errors, and its properties."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.sizing.conftest import load_config, requirements
from tools.sizing import (
    ContextTooLongError,
    InvalidBatchError,
    InvalidContextError,
    ModelRequirements,
    Quantization,
    UnknownDtypeError,
    estimate_vram,
    requirements_from_config,
)

GIB = 1 << 30
FIXTURE_MODELS = [
    "Llama-3.1-8B", "Qwen2.5-7B", "Mistral-7B-v0.3", "Phi-3-mini-4k-instruct", "gemma-2-2b",
    "Mixtral-8x7B-v0.1", "Qwen3-8B", "Qwen3-30B-A3B", "gemma-3-1b-it", "gemma-3-4b-it",
]  # fmt: skip


def test_kv_cache_follows_the_formula() -> None:
    e = estimate_vram(requirements("Llama-3.1-8B"), "bf16", 1000, 2)
    per_token = 2 * 32 * 8 * 128 * 2  # K and V x layers x kv heads x head dim x bf16
    assert e.kv_bytes_per_token == per_token
    assert e.kv_cache_bytes == per_token * 1000 * 2


def test_fp8_kv_cache_is_half_of_bf16() -> None:
    r = requirements("Llama-3.1-8B")
    bf16 = estimate_vram(r, "bf16", 4096, 4)
    fp8 = estimate_vram(r, "bf16", 4096, 4, kv_dtype="fp8")
    assert fp8.kv_cache_bytes * 2 == bf16.kv_cache_bytes
    assert fp8.weights_bytes == bf16.weights_bytes


def test_weight_quantization_keeps_a_16_bit_cache_unless_asked() -> None:
    r = requirements("Llama-3.1-8B")
    bf16 = estimate_vram(r, "bf16", 4096, 1)
    int4 = estimate_vram(r, "int4", 4096, 1)
    assert (int4.kv_dtype, int4.kv_cache_bytes) == ("bf16", bf16.kv_cache_bytes)
    assert int4.weights_bytes < bf16.weights_bytes / 2
    assert (
        estimate_vram(r, "fp8", 4096, 1, kv_dtype="fp8").kv_cache_bytes * 2 == bf16.kv_cache_bytes
    )


def test_mqa_needs_an_eighth_of_gqa8() -> None:
    mqa = requirements_from_config(load_config("Llama-3.1-8B") | {"num_key_value_heads": 1})
    gqa = requirements("Llama-3.1-8B")
    assert (
        estimate_vram(gqa, "bf16", 4096, 1).kv_cache_bytes
        == 8 * estimate_vram(mqa, "bf16", 4096, 1).kv_cache_bytes
    )


def test_sliding_layers_are_capped_at_the_window() -> None:
    e = estimate_vram(requirements("gemma-2-2b"), "bf16", 8192, 3)
    per_token_layer = 2 * 4 * 256 * 2
    assert e.kv_cache_bytes == 3 * per_token_layer * (13 * 4096 + 13 * 8192)
    # "hybrid" is a DynamicCache under transformers >= 5 (measured on gemma-3): during the
    # prefill the sliding layers still hold the whole prompt
    assert e.activation_parts["sliding_prefill_kv"] == 3 * per_token_layer * 13 * (8192 - 4096)


def test_a_dynamic_sliding_cache_holds_the_whole_prompt_during_prefill() -> None:
    e = estimate_vram(requirements("Phi-3-mini-4k-instruct"), "bf16", 4096, 1)
    per_token_layer = 2 * 32 * 96 * 2
    assert e.kv_cache_bytes == 32 * per_token_layer * 2047
    assert e.activation_parts["sliding_prefill_kv"] == 32 * per_token_layer * (4096 - 2047)


def test_weights_are_cast_to_the_serving_dtype_and_tied_embeddings_count_once() -> None:
    r = requirements("gemma-2-2b")  # float32 checkpoint, tied embeddings
    assert r.weights_bytes == 4 * 2_614_341_888
    assert estimate_vram(r, "bf16", 1024, 1).weights_bytes == 2 * 2_614_341_888
    assert estimate_vram(r, "auto", 1024, 1).weights_bytes == 4 * 2_614_341_888
    fp8 = estimate_vram(r, "fp8", 1024, 1).weights_bytes
    assert 2_614_341_888 < fp8 < 2 * 2_614_341_888  # linear layers in fp8, embeddings in bf16


def test_a_quantized_checkpoint_keeps_its_packed_storage() -> None:
    gptq = ModelRequirements(
        parameters_by_dtype={"I32": 1_000_000, "F16": 500_000},
        weights_bytes=5_000_000,
        quantization=Quantization(method="gptq", bits=4),
    )
    for dtype in ("bf16", "fp16", "int4"):
        assert estimate_vram(gptq, dtype, 128, 1).weights_bytes == 4 * 1_000_000 + 2 * 500_000


def test_config_only_gptq_is_about_a_quarter_of_bf16() -> None:
    config = load_config("Llama-3.1-8B") | {
        "quantization_config": {"quant_method": "gptq", "bits": 4, "group_size": 128}
    }
    quantized = estimate_vram(requirements_from_config(config), "bf16", 1024, 1).weights_bytes
    full = estimate_vram(requirements("Llama-3.1-8B"), "bf16", 1024, 1).weights_bytes
    # linear layers shrink 4x; embeddings and lm_head (1.05B params) stay in 16 bits
    assert 0.3 < quantized / full < 0.4


@pytest.mark.parametrize("name", FIXTURE_MODELS)
def test_total_is_the_sum_of_its_parts(name: str) -> None:
    r = requirements(name)
    context = min(4096, r.architecture.max_context or 4096) if r.architecture else 4096
    e = estimate_vram(r, "bf16", context, 2)
    parts = (
        e.weights_bytes + e.kv_cache_bytes + e.activation_bytes + e.cuda_context_bytes
        + e.allocator_overhead_bytes
    )  # fmt: skip
    assert e.total_bytes == parts
    assert e.overhead_bytes == e.cuda_context_bytes + e.allocator_overhead_bytes


def test_the_mlp_phase_is_the_prefill_peak_of_a_dense_llama() -> None:
    e = estimate_vram(requirements("Llama-3.1-8B"), "bf16", 4096, 8)
    tokens, h, inter = 8 * 4096, 4096, 14336
    # layer input, residual and normed input, plus act(gate), up and their product
    assert e.activation_parts["mlp_phase"] == tokens * 2 * (3 * h + 3 * inter)
    assert e.assumptions["peak_phase"] == "mlp"


def test_only_the_last_positions_logits_are_materialized() -> None:
    small = load_config("Llama-3.1-8B")
    big = small | {"vocab_size": 256_000}
    a = estimate_vram(requirements_from_config(small), "bf16", 4096, 4)
    b = estimate_vram(requirements_from_config(big), "bf16", 4096, 4)
    # the final phase grows by batch x vocab x (bf16 logits, fp32 copies, sort indices), not x context
    assert b.activation_parts["final_phase"] - a.activation_parts["final_phase"] == 4 * (
        256_000 - 128_256
    ) * (2 + 4 * 4 + 8)


def test_eager_attention_adds_the_score_matrix() -> None:
    r = requirements("Llama-3.1-8B")
    sdpa = estimate_vram(r, "bf16", 8192, 2)
    eager = estimate_vram(r, "bf16", 8192, 2, attention="eager")
    scores = 2 * 32 * 8192 * 8192 * (2 + 4 + 2)  # bf16 scores, fp32 softmax, bf16 cast
    added = eager.activation_parts["attention_phase"] - sdpa.activation_parts["attention_phase"]
    assert added >= scores
    assert eager.activation_parts["masks"] == 2 * 8192 * 8192 * 2  # a bf16 4D causal mask
    assert sdpa.activation_parts["masks"] == 0  # is_causal: no mask materialized
    assert eager.assumptions["peak_phase"] == "attention"


def test_anchor_llama_8b_single_sequence() -> None:
    e = estimate_vram(requirements("Llama-3.1-8B"), "bf16", 4096, 1)
    assert 14.9 * GIB < e.weights_bytes < 15.0 * GIB
    assert 16.0 * GIB < e.total_bytes < 17.5 * GIB


def test_assumptions_are_stated() -> None:
    e = estimate_vram(requirements("Llama-3.1-8B"), "bf16", 4096, 1)
    assert {"measurement", "weights", "kv_cache", "prefill", "attention", "allocator_overhead",
            "cuda_context_bytes", "peak_phase"} <= set(e.assumptions)  # fmt: skip


def test_without_a_config_the_model_card_figure_wins_when_larger() -> None:
    pipeline = ModelRequirements(
        parameters_by_dtype={"BF16": 8_000_000_000}, weights_bytes=16_000_000_000,
        card_vram_bytes=60 * GIB,
    )  # fmt: skip
    e = estimate_vram(pipeline, "bf16", 4096, 1)
    assert (e.basis, e.total_bytes, e.kv_cache_bytes) == ("model-card", 60 * GIB, 0)
    small_card = pipeline.model_copy(update={"card_vram_bytes": 1 * GIB})
    computed = estimate_vram(small_card, "bf16", 4096, 1)
    assert computed.basis == "weights-only"
    assert computed.total_bytes > computed.weights_bytes


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"context_tokens": 200_000}, ContextTooLongError,
         "context 200000 exceeds the model's maximum of 131072; use --context 131072 or less"),
        ({"batch": 0}, InvalidBatchError, "batch must be at least 1 (got 0)"),
        ({"batch": -3}, InvalidBatchError, "got -3"),
        ({"context_tokens": 0}, InvalidContextError, "at least 1 token"),
        ({"dtype": "bf17"}, UnknownDtypeError, "unknown dtype 'bf17'"),
        ({"kv_dtype": "q3"}, UnknownDtypeError, "unknown dtype 'q3'"),
    ],
)  # fmt: skip
def test_bad_input_raises_a_clear_typed_error(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    args: dict[str, Any] = {"dtype": "bf16", "context_tokens": 4096, "batch": 1} | kwargs
    with pytest.raises(error) as raised:
        estimate_vram(requirements("Llama-3.1-8B"), **args)
    assert message in str(raised.value)
    assert isinstance(raised.value, ValueError)


# ---- properties -------------------------------------------------------------------------
@st.composite
def decoder_configs(draw: st.DrawFn) -> dict[str, Any]:
    heads = draw(st.sampled_from([4, 8, 16, 32]))
    kv_heads = draw(st.sampled_from([d for d in (1, 2, 4, 8, 16, 32) if heads % d == 0]))
    window = draw(st.one_of(st.none(), st.integers(64, 4096)))
    config: dict[str, Any] = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": draw(st.sampled_from(["llama", "mistral", "qwen2", "phi3", "gemma2"])),
        "num_hidden_layers": draw(st.integers(1, 48)),
        "hidden_size": heads * draw(st.sampled_from([64, 128])),
        "intermediate_size": draw(st.integers(256, 30_000)),
        "num_attention_heads": heads,
        "num_key_value_heads": kv_heads,
        "vocab_size": draw(st.integers(1000, 260_000)),
        "max_position_embeddings": 32_768,
        "sliding_window": window,
        "tie_word_embeddings": draw(st.booleans()),
    }
    if draw(st.booleans()):
        config["num_local_experts"] = draw(st.sampled_from([4, 8, 64]))
        config["num_experts_per_tok"] = draw(st.sampled_from([1, 2, 4]))
    return config


def _slack(smaller: Any) -> int:
    """How far the estimate may fall when context or batch grow: by no more than the
    smaller case's fragmentation. The replayed allocator is not monotone, and neither is
    the real one: bigger tensors can fit the holes between cached blocks better, or cross
    the 1 MiB and 10 MiB lines where it changes pools; everything else only grows."""
    return smaller.overhead_parts.get("fragmentation", 0)


@settings(max_examples=150, deadline=None)
@given(
    config=decoder_configs(),
    contexts=st.lists(st.integers(1, 32_768), min_size=2, max_size=2, unique=True),
    batch=st.integers(1, 16),
    attention=st.sampled_from(["sdpa", "eager", "flash"]),
)
def test_memory_grows_monotonically_with_context(
    config: dict[str, Any], contexts: list[int], batch: int, attention: Any
) -> None:
    r = requirements_from_config(config)
    short, long = sorted(contexts)
    a = estimate_vram(r, "bf16", short, batch, attention=attention)
    b = estimate_vram(r, "bf16", long, batch, attention=attention)
    assert a.total_bytes - b.total_bytes <= _slack(a)
    assert b.kv_cache_bytes >= a.kv_cache_bytes
    # The peak allocated (cache plus activations) grows; how it splits may shift a little.
    assert b.activation_bytes + b.kv_cache_bytes >= a.activation_bytes + a.kv_cache_bytes


@settings(max_examples=150, deadline=None)
@given(
    config=decoder_configs(),
    batches=st.lists(st.integers(1, 64), min_size=2, max_size=2, unique=True),
    context=st.integers(1, 32_768),
)
def test_memory_grows_monotonically_with_batch(
    config: dict[str, Any], batches: list[int], context: int
) -> None:
    r = requirements_from_config(config)
    small, large = sorted(batches)
    a = estimate_vram(r, "bf16", context, small)
    b = estimate_vram(r, "bf16", context, large)
    assert a.total_bytes - b.total_bytes <= _slack(a)
    assert b.kv_cache_bytes > a.kv_cache_bytes


@settings(max_examples=150, deadline=None)
@given(config=decoder_configs(), context=st.integers(1, 32_768), batch=st.integers(1, 16))
def test_full_multi_head_attention_needs_more_kv_than_its_gqa_twin(
    config: dict[str, Any], context: int, batch: int
) -> None:
    if config["num_key_value_heads"] == config["num_attention_heads"]:
        config["num_key_value_heads"] = 1
    gqa = requirements_from_config(config)
    mha = requirements_from_config(config | {"num_key_value_heads": config["num_attention_heads"]})
    a = estimate_vram(gqa, "bf16", context, batch)
    b = estimate_vram(mha, "bf16", context, batch)
    assert b.kv_cache_bytes > a.kv_cache_bytes
    assert a.total_bytes - b.total_bytes <= _slack(a)
