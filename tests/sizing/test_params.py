"""Parameter counts from config.json against the totals the model authors publish."""

from __future__ import annotations

import pytest

from tests.sizing.conftest import load_config
from tools.sizing import MalformedConfigError, count_parameters

# Totals as published on the model pages / release notes.
PUBLISHED = [
    ("Llama-3.1-8B", 8.03e9),
    ("Qwen2.5-7B", 7.62e9),
    ("Mistral-7B-v0.3", 7.25e9),
    ("Phi-3-mini-4k-instruct", 3.82e9),
    ("gemma-2-2b", 2.61e9),
    ("Mixtral-8x7B-v0.1", 46.7e9),
    ("Qwen3-8B", 8.19e9),
    ("Qwen3-30B-A3B", 30.5e9),
    ("Qwen1.5-MoE-A2.7B", 14.3e9),
    ("Qwen2.5-0.5B", 0.49e9),
    ("gemma-3-1b-it", 1.0e9),
    ("gemma-3-4b-it", 4.3e9),
]


@pytest.mark.parametrize(("name", "published"), PUBLISHED)
def test_count_matches_published_total_within_one_percent(name: str, published: float) -> None:
    counted = count_parameters(load_config(name))
    assert counted.exact
    assert abs(counted.total - published) / published < 0.01


@pytest.mark.parametrize(
    ("name", "exact"),
    [
        # Exact figures from the checkpoints' safetensors metadata.
        ("Llama-3.1-8B", 8_030_261_248),
        ("Mistral-7B-v0.3", 7_248_023_552),
        ("Qwen2.5-7B", 7_615_616_512),
        ("gemma-2-2b", 2_614_341_888),
        ("Phi-3-mini-4k-instruct", 3_821_079_552),
    ],
)
def test_count_is_exact_for_dense_families(name: str, exact: int) -> None:
    assert count_parameters(load_config(name)).total == exact


def test_tied_embeddings_are_counted_once() -> None:
    untied = load_config("Qwen2.5-0.5B") | {"tie_word_embeddings": False}
    tied = count_parameters(load_config("Qwen2.5-0.5B"))
    assert tied.lm_head == 0
    assert count_parameters(untied).total - tied.total == 151_936 * 896


def test_moe_counts_every_expert_and_the_shared_one() -> None:
    dense = load_config("Qwen1.5-MoE-A2.7B") | {"shared_expert_intermediate_size": 0}
    with_shared = count_parameters(load_config("Qwen1.5-MoE-A2.7B"))
    # shared expert: gate/up/down (3 x 2048 x 5632) plus its 1-output gate, per layer
    assert with_shared.total - count_parameters(dense).total == 24 * (3 * 2048 * 5632 + 2048)


def test_vision_tower_is_added_for_multimodal_configs() -> None:
    counted = count_parameters(load_config("gemma-3-4b-it"))
    assert 0.40e9 < counted.vision < 0.43e9  # SigLIP so400m + projector
    text_only = load_config("gemma-3-4b-it")
    del text_only["vision_config"]
    assert count_parameters(text_only).vision == 0


def test_unknown_family_is_counted_approximately() -> None:
    config = load_config("Llama-3.1-8B") | {"model_type": "somethingnew"}
    counted = count_parameters(config)
    assert not counted.exact
    assert counted.total == count_parameters(load_config("Llama-3.1-8B")).total


def test_a_config_without_dimensions_is_malformed() -> None:
    with pytest.raises(MalformedConfigError, match="hidden_size"):
        count_parameters({"model_type": "llama", "num_hidden_layers": 2})
