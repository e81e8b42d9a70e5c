"""Each deployment plan carries the host CUDA its image needs, from the base-image table:
the prebuilt vLLM image's for an LLM, the CUDA/torch base's for a generated worker."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.pipeline.conftest import PipelineEnv
from tools.artifacts.worker.base_images import base_image
from tools.pipeline.plan import DeployRequest, plan_deployment
from tools.pipeline.services import PipelineServices


@pytest.mark.parametrize(
    ("repo", "image"),
    [("kriptik-test/tiny-llama", "vllm"), ("kriptik-test/tiny-diffusion", "cuda-torch")],
)
async def test_the_plan_asks_for_the_cuda_its_image_needs(
    pipeline: PipelineEnv, services: Callable[..., PipelineServices], repo: str, image: str
) -> None:
    svc = services()
    plan = await plan_deployment(svc, await pipeline.new_user(), DeployRequest(repo_id=repo))
    entry = base_image(image)  # pyright: ignore[reportArgumentType]
    assert (plan.worker.image or plan.worker.base_image) == entry.ref
    assert plan.min_cuda == entry.min_cuda is not None
