"""A diffusers deployment's plan says which offload it was sized for, and the approval
card shows it (the worker runs what the plan says)."""

from __future__ import annotations

from collections.abc import Callable

from tests.pipeline.conftest import PipelineEnv
from tools.pipeline.plan import DeployRequest, plan_deployment
from tools.pipeline.services import PipelineServices
from tools.pipeline_cards import _facts  # pyright: ignore[reportPrivateUsage]

DIFFUSION = "kriptik-test/tiny-diffusion"


async def test_a_diffusers_plan_names_its_offload(
    pipeline: PipelineEnv, services: Callable[..., PipelineServices]
) -> None:
    svc = services()
    plan = await plan_deployment(svc, await pipeline.new_user(), DeployRequest(repo_id=DIFFUSION))
    assert plan.offload == "none" and not plan.worker.cpu_offload
    assert "Sized for no offload: every component stays on the GPU." in plan.summary()
    assert _facts(plan)["offload"] == "no offload: every component stays on the GPU"
    offloaded = plan.model_copy(update={"offload": "model"})
    assert "Sized for model CPU offload (enable_model_cpu_offload)" in offloaded.summary()


async def test_an_llm_plan_has_no_offload(
    pipeline: PipelineEnv, services: Callable[..., PipelineServices]
) -> None:
    svc = services()
    plan = await plan_deployment(
        svc, await pipeline.new_user(), DeployRequest(repo_id="kriptik-test/tiny-llama")
    )
    assert plan.offload is None and "offload" not in _facts(plan)
    assert "Sized for" not in plan.summary()
