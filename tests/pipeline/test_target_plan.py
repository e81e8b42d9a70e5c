"""`plan_deployment` on Hugging Face Inference Endpoints and Google Cloud Run: the real
model inspection against the simulator's Hub, the real target clients against their fakes
(the Hugging Face catalog is read from the Inference Endpoints fake), and every bad input
refused with a clear `PlanError` before anything is created."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.pipeline.conftest import PipelineEnv
from tests.pipeline.target_services import (
    HUGE,
    MID,
    add_gcp_key,
    add_large_models,
    build_targets,
)
from tools.artifacts.worker import sample_input
from tools.budget import plan_budget
from tools.pipeline.plan import DeploymentPlan, DeployRequest, PlanError, plan_deployment
from tools.pipeline.services import PipelineServices
from tools.pipeline.target_pick import TargetKeyMissing
from tools.pipeline_cards import key_next_step
from tools.simulator.all import FakeStack
from tools.targets.cloudrun import L4_USD_PER_HOUR
from tools.targets.huggingface import HuggingFaceTarget

TINY = "kriptik-test/tiny-llama"
DIFFUSION = "kriptik-test/tiny-diffusion"
T4 = "aws/us-east-1/nvidia-t4/x1"
CLOUD_RUN_REGIONS = "europe-west1, europe-west4, us-central1, us-east4"


@pytest.fixture
def on_targets(
    pipeline: PipelineEnv, services: Callable[..., PipelineServices], fakes: FakeStack,
    monkeypatch: pytest.MonkeyPatch,
) -> PipelineServices:  # fmt: skip
    add_large_models(fakes)
    return services(targets=build_targets(pipeline, monkeypatch))


async def _plan(services: PipelineServices, user: str, **request: object) -> DeploymentPlan:
    return await plan_deployment(services, user, DeployRequest.model_validate(request))


# ---- Hugging Face Inference Endpoints --------------------------------------------------------
async def test_hugging_face_plans_the_cheapest_offer_that_holds_the_model(
    pipeline: PipelineEnv, on_targets: PipelineServices, fakes: FakeStack
) -> None:
    plan = await _plan(on_targets, await pipeline.new_user(), repo_id=TINY, target="huggingface")
    offer = plan.target_gpu
    assert offer is not None and plan.target == "huggingface"
    assert (plan.pool, plan.pool_label, plan.gpu_count) == (T4, offer.label, 1)
    assert offer.usd_per_hour == 0.5 and plan.usd_per_hour == pytest.approx(0.5)
    assert plan.options == () and plan.gpu_pick is None and plan.min_cuda is None
    assert "GET /v2/provider/" in offer.source  # the price's source: the live catalog
    assert plan.worker.kind == "vllm" and plan.worker.task == "text-generation"  # TGI serves it
    assert plan.test_input == {
        "inputs": "Say hello in five words.", "parameters": {"max_new_tokens": 16},
    }  # fmt: skip
    assert plan.vram_high_gib is not None and plan.vram_high_gib <= 16
    summary = plan.summary()
    assert summary.startswith(f"{TINY} on Hugging Face Inference Endpoints: {offer.label}")
    assert "A running replica costs $0.50/h" in summary
    assert "scales to zero after 1 min idle" in summary and "cold start" in summary
    assert plan.ttl_s == pipeline.settings.endpoint_ttl_s  # the lifetime, as for RunPod
    assert fakes.hf_endpoints.live() == []  # planning created nothing


async def test_the_region_and_offer_asked_for_are_honoured(
    pipeline: PipelineEnv, on_targets: PipelineServices
) -> None:
    user = await pipeline.new_user()
    east4 = await _plan(on_targets, user, repo_id=TINY, target="huggingface", region="us-east4")
    assert east4.target_gpu is not None and east4.target_gpu.region == "us-east4"
    assert (east4.pool, east4.usd_per_hour) == ("gcp/us-east4/nvidia-l4/x1", pytest.approx(0.7))
    a100 = "aws/us-east-1/nvidia-a100/x1"
    named = await _plan(on_targets, user, repo_id=TINY, target="huggingface", gpu=a100)
    assert named.pool == a100 and named.usd_per_hour == pytest.approx(2.5)


async def test_a_region_without_gpus_is_refused_with_the_regions_that_have_them(
    pipeline: PipelineEnv, on_targets: PipelineServices
) -> None:
    user = await pipeline.new_user()
    with pytest.raises(PlanError) as err:
        await _plan(on_targets, user, repo_id=TINY, target="huggingface", region="eu-west-1")
    assert str(err.value) == (
        "Hugging Face Inference Endpoints has no GPU offers in 'eu-west-1'; regions with GPUs: "
        "us-east-1, us-east4"
    )


async def test_an_offer_the_catalog_does_not_list_is_refused(
    pipeline: PipelineEnv, on_targets: PipelineServices
) -> None:
    user = await pipeline.new_user()
    with pytest.raises(PlanError, match=r"does not list 'aws/us-east-1/nvidia-h100/x8'; its "
                       r"offers: aws/us-east-1/nvidia-a100/x1, "):  # fmt: skip
        await _plan(on_targets, user, repo_id=TINY, target="huggingface",
                    gpu="aws/us-east-1/nvidia-h100/x8")  # fmt: skip


async def test_a_model_too_large_for_every_offer_names_the_largest(
    pipeline: PipelineEnv, on_targets: PipelineServices
) -> None:
    user = await pipeline.new_user()
    with pytest.raises(PlanError) as err:
        await _plan(on_targets, user, repo_id=HUGE, target="huggingface")
    text = str(err.value)
    assert "no Hugging Face Inference Endpoints offer holds it" in text
    assert "the largest, NVIDIA L40S 48 GB x4 (Hugging Face, aws us-east-1), holds 192 GiB" in text
    # One that fits only an 80 GB card plans onto it.
    mid = await _plan(on_targets, user, repo_id=MID, target="huggingface")
    assert mid.pool == "aws/us-east-1/nvidia-a100/x1" and mid.gpu_count == 1


async def test_a_revoked_token_is_refused_before_spend(
    pipeline: PipelineEnv, on_targets: PipelineServices, fakes: FakeStack
) -> None:
    from tools.simulator.huggingface import DEFAULT_TOKEN

    user = await pipeline.new_user()
    fakes.hf_endpoints.revoke(DEFAULT_TOKEN)
    with pytest.raises(PlanError, match=r"Hugging Face rejected the key \(401\)\. Create a new"):
        await _plan(on_targets, user, repo_id=TINY, target="huggingface")
    assert fakes.hf_endpoints.live() == []


async def test_the_default_toolkit_gets_the_worker_s_main_input(
    pipeline: PipelineEnv, on_targets: PipelineServices
) -> None:
    plan = await _plan(
        on_targets, await pipeline.new_user(), repo_id=DIFFUSION, target="huggingface"
    )
    assert plan.worker.kind == "diffusers" and plan.worker.task == "text-to-image"
    assert plan.test_input == {"inputs": sample_input(plan.worker)["prompt"]}


# ---- Google Cloud Run --------------------------------------------------------------------------
async def test_cloud_run_plans_an_l4_with_our_own_worker(
    pipeline: PipelineEnv, on_targets: PipelineServices, fakes: FakeStack
) -> None:
    user = await pipeline.new_user()
    await add_gcp_key(pipeline, fakes, user)
    plan = await _plan(on_targets, user, repo_id=TINY, target="cloudrun")
    offer = plan.target_gpu
    assert offer is not None and (plan.target, plan.pool, offer.region) == (
        "cloudrun", "nvidia-l4", "us-central1",
    )  # fmt: skip
    assert plan.usd_per_second == pytest.approx(L4_USD_PER_HOUR / 3600)
    # Cloud Run runs only our image: the text model gets the generated transformers worker.
    assert plan.worker.kind == "transformers" and plan.worker.needs_build
    assert plan.test_input == sample_input(plan.worker)
    assert "cloud.google.com/run/pricing" in offer.source
    assert "identity token" in plan.summary() and f"${L4_USD_PER_HOUR:.2f}/h" in plan.summary()
    eu = await _plan(on_targets, user, repo_id=TINY, target="cloudrun", region="europe-west4")
    assert eu.target_gpu is not None and eu.target_gpu.region == "europe-west4"
    # The budget check reads the plan's own price.
    budget = await plan_budget(on_targets, user, plan)
    assert budget.usd_per_hour == pytest.approx(plan.usd_per_hour)
    assert plan.ttl_s is not None
    assert budget.worst_case_usd == pytest.approx(plan.usd_per_hour * plan.ttl_s / 3600)


async def test_cloud_run_refuses_a_region_without_l4s_and_a_model_too_large(
    pipeline: PipelineEnv, on_targets: PipelineServices, fakes: FakeStack
) -> None:
    user = await pipeline.new_user()
    await add_gcp_key(pipeline, fakes, user)
    with pytest.raises(PlanError) as err:
        await _plan(on_targets, user, repo_id=TINY, target="cloudrun", region="asia-east1")
    assert str(err.value).endswith(f"regions with GPUs: {CLOUD_RUN_REGIONS}")
    with pytest.raises(PlanError) as err:
        await _plan(on_targets, user, repo_id=MID, target="cloudrun")
    assert "no Google Cloud Run offer holds it (the largest, NVIDIA L4 24 GB" in str(err.value)
    assert "holds 24 GiB" in str(err.value)
    with pytest.raises(PlanError, match="does not list 'nvidia-a100'"):
        await _plan(on_targets, user, repo_id=TINY, target="cloudrun", gpu="nvidia-a100")


# ---- keys and enablement -----------------------------------------------------------------------
async def test_a_missing_key_says_how_to_add_it(
    pipeline: PipelineEnv, on_targets: PipelineServices
) -> None:
    user = await pipeline.new_user(hf=False)
    with pytest.raises(TargetKeyMissing) as gcp:
        await _plan(on_targets, user, repo_id=TINY, target="cloudrun")
    assert gcp.value.provider == "gcp" and "`kriptik keys add gcp < key.json`" in str(gcp.value)
    assert key_next_step(gcp.value).endswith("call request_api_key with provider 'gcp'.")
    with pytest.raises(TargetKeyMissing) as hf:
        await _plan(on_targets, user, repo_id=TINY, target="huggingface")
    assert hf.value.provider == "huggingface" and "write access" in str(hf.value)
    assert key_next_step(hf.value).endswith("call request_api_key with provider 'huggingface'.")


async def test_a_target_this_server_did_not_enable_is_refused(
    pipeline: PipelineEnv, services: Callable[..., PipelineServices]
) -> None:
    with pytest.raises(PlanError, match=r"Google Cloud Run is not enabled on this KripTik server.*"
                       r"enabled here: RunPod serverless\."):  # fmt: skip
        await _plan(services(), await pipeline.new_user(), repo_id=TINY, target="cloudrun")


async def test_runpod_plans_as_before(pipeline: PipelineEnv, on_targets: PipelineServices) -> None:
    plan = await _plan(on_targets, await pipeline.new_user(), repo_id=TINY)
    assert (plan.target, plan.target_gpu, plan.pool) == ("runpod", None, "AMPERE_16")
    assert "A running worker costs $" in plan.summary()


def test_the_target_satisfies_the_protocol(
    pipeline: PipelineEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    targets = build_targets(pipeline, monkeypatch)
    assert isinstance(targets["huggingface"], HuggingFaceTarget)
    assert {t.credential for t in targets.values()} == {"huggingface", "gcp", "aws"}
