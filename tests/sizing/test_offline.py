"""`requirements_from_config`: sizing from config.json alone."""

from __future__ import annotations

import pytest

from tests.sizing.conftest import load_config
from tools.sizing import InvalidOptionError, MalformedConfigError, requirements_from_config


def test_figures_and_their_sources() -> None:
    r = requirements_from_config(load_config("Qwen3-8B"), repo_id="Qwen/Qwen3-8B")
    assert r.parameters_by_dtype == {"BF16": 8_190_735_360}
    assert r.weights_bytes == 2 * 8_190_735_360
    assert r.sources["parameters"] == "computed from config.json"
    assert r.architecture is not None and r.library == "transformers"
    assert r.notes == ()


def test_a_known_parameter_count_overrides_the_computed_one() -> None:
    r = requirements_from_config(load_config("Llama-3.1-8B"), params=8_000_000_000)
    assert r.parameter_count == 8_000_000_000
    assert r.parameters_by_dtype == {"BF16": 8_000_000_000}
    assert r.sources["parameters"] == "--params"


def test_generic_families_are_flagged_as_approximate() -> None:
    r = requirements_from_config(load_config("Llama-3.1-8B") | {"model_type": "newthing"})
    assert len(r.notes) == 1
    assert "generic decoder formula" in r.notes[0] and "--params" in r.notes[0]


def test_unreadable_config_needs_params() -> None:
    with pytest.raises(MalformedConfigError):
        requirements_from_config({"model_type": "unet"})
    r = requirements_from_config({"model_type": "unet"}, params=2_600_000_000)
    assert r.architecture is None and r.weights_bytes == 2 * 2_600_000_000
    with pytest.raises(InvalidOptionError):
        requirements_from_config(load_config("Llama-3.1-8B"), params=0)


@pytest.mark.parametrize(
    ("quant", "method", "bits"),
    [
        ({"quant_method": "bitsandbytes", "load_in_4bit": True, "bnb_4bit_quant_type": "nf4"},
         "bnb-4bit", 4),
        ({"load_in_8bit": True}, "bnb-8bit", 8),
        ({"quant_method": "fp8", "activation_scheme": "dynamic"}, "fp8", 8),
        ({"quant_method": "compressed-tensors"}, "compressed-tensors", None),
        ({"quant_method": "hqq"}, "other", None),
    ],
)  # fmt: skip
def test_quantization_methods(quant: dict[str, object], method: str, bits: int | None) -> None:
    r = requirements_from_config(load_config("Llama-3.1-8B") | {"quantization_config": quant})
    assert (r.quantization.method, r.quantization.bits) == (method, bits)


def test_repo_name_is_only_a_weak_hint() -> None:
    r = requirements_from_config(load_config("Llama-3.1-8B"), repo_id="someone/Llama-3.1-8B-GPTQ")
    assert r.quantization.method == "gptq" and "repo name" in r.quantization.source
