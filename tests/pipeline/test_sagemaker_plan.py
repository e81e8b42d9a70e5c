"""Planning on Amazon SageMaker: the real model inspection against the simulator's Hub and
the real `SageMakerTarget` against the AWS fake (the user's role assumed, offers priced from
the Price List, quotas from Service Quotas); the approval card names the target, the
instance, its price and its source and says plainly that the endpoint bills every hour; bad
input is refused before anything is created."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
from pydantic import SecretStr

from tests.pipeline.conftest import PipelineEnv
from tests.pipeline.target_deploys import AWS_ROLE
from tests.pipeline.target_services import MID, add_large_models, build_targets
from tools.approval import Approvals
from tools.cards import Card
from tools.deps import Deps
from tools.pipeline.handle import PipelineHandle
from tools.pipeline.plan import DeploymentPlan, DeployRequest, PlanError, plan_deployment
from tools.pipeline.services import PipelineServices
from tools.pipeline.target_pick import TargetKeyMissing
from tools.pipeline_cards import endpoint_card
from tools.simulator import hf_repos
from tools.simulator.all import FakeStack
from tools.simulator.hf_repos import safetensors_repo

TINY = "kriptik-test/tiny-llama"
DIFFUSION = "kriptik-test/tiny-diffusion"
GIANT = "kriptik-test/giant-llama"


@dataclass
class _Deps:
    user_id: str
    pipeline: PipelineHandle | None = None
    approvals: Approvals = field(default_factory=Approvals)


@pytest.fixture
def on_sagemaker(
    pipeline: PipelineEnv, services: Callable[..., PipelineServices], fakes: FakeStack,
    monkeypatch: pytest.MonkeyPatch,
) -> PipelineServices:  # fmt: skip
    add_large_models(fakes)
    settings = pipeline.settings.model_copy(update={"endpoint_ttl_s": 4 * 3600})
    return services(targets=build_targets(pipeline, monkeypatch), settings=settings)


async def _aws_user(pipeline: PipelineEnv) -> str:
    user = await pipeline.new_user()
    await pipeline.vault.credentials.add(user, "aws", SecretStr(AWS_ROLE))
    return user


async def _plan(services: PipelineServices, user: str, **request: object) -> DeploymentPlan:
    return await plan_deployment(
        services, user, DeployRequest.model_validate({"target": "sagemaker"} | request)
    )


async def test_the_cheapest_instance_with_quota_is_planned_and_the_blocked_one_named(
    pipeline: PipelineEnv, on_sagemaker: PipelineServices, fakes: FakeStack
) -> None:
    user = await _aws_user(pipeline)
    plan = await _plan(on_sagemaker, user, repo_id=TINY)
    assert plan.pool == "ml.g4dn.xlarge" and plan.usd_per_hour == pytest.approx(0.736)
    fakes.aws.state.quotas["ml.g4dn.xlarge"] = 0
    plan = await _plan(on_sagemaker, user, repo_id=TINY)
    offer = plan.target_gpu
    assert offer is not None and plan.pool == "ml.g6.xlarge" and offer.region == "us-east-1"
    # No instance always on (the request's default): it scales to zero.
    assert (plan.workers_min, plan.workers_max) == (0, 1)
    assert plan.worker.kind == "vllm" and plan.test_input["inputs"]  # TGI serves it
    summary = plan.summary()
    assert summary.startswith(f"{TINY} on Amazon SageMaker: ml.g6.xlarge, 1 x NVIDIA L4 24 GB")
    assert "AWS Price List API (AmazonSageMaker, us-east-1)" in summary
    assert "nothing bills while it is at zero" in summary
    assert "bills every hour" not in summary
    always_on = await _plan(on_sagemaker, user, repo_id=TINY, workers_min=1)
    assert (always_on.workers_min, always_on.workers_max) == (1, 1)  # a classic endpoint
    assert "bills every hour, busy or idle, until it is torn down" in always_on.summary()
    assert "ml.g4dn.xlarge would cost $0.74/h, but your AWS account's quota" in summary
    assert "servicequotas" in summary
    assert fakes.aws.state.resources() == {}  # planning created nothing


async def test_the_card_names_target_instance_price_source_and_how_it_bills(
    pipeline: PipelineEnv, on_sagemaker: PipelineServices
) -> None:
    user = await _aws_user(pipeline)
    args: dict[str, Any] = {"repo_id": TINY, "pool": "auto", "gpu_count": 1, "workers_min": 0,
                            "workers_max": 1, "target": "sagemaker", "region": None}  # fmt: skip
    deps = _Deps(user, pipeline=PipelineHandle.of(pipeline.pipe))
    card: Card = await endpoint_card(cast(Deps, deps), args)
    assert card.provider == "Amazon SageMaker" and card.usd_per_hour == pytest.approx(0.736)
    assert card.creates[0].startswith("a SageMaker real-time endpoint on ml.g4dn.xlarge")
    assert card.facts["target"] == "Amazon SageMaker" and card.facts["GPU"].startswith(
        "ml.g4dn.xlarge"
    )
    wait = "the next request waits several minutes for an instance"
    assert card.facts["scale to zero"] == f"after 10 minutes without requests; {wait}"
    assert "AWS Price List API" in card.facts["price source"]
    assert "after 2 h with no requests" in card.facts["lifetime"]  # its instances tell
    always_on = await endpoint_card(cast(Deps, deps), args | {"workers_min": 1})
    assert always_on.facts["scale to zero"] == "no: it bills every hour until torn down"
    # Always on, its requests cannot be seen: the idle limit runs from readiness.
    assert "2 h after it is ready or you last extend it" in always_on.facts["lifetime"]
    assert "(TGI)" in card.facts["image"] and len(card.creates) == 1
    args |= {"repo_id": DIFFUSION}
    card = await endpoint_card(cast(Deps, deps), args)
    assert card.creates[0].startswith("a worker image built here, pushed to KripTik's ECR")
    assert card.facts["image"].endswith("worker built here, pushed to ECR in your AWS account")


async def test_bad_input_is_refused_before_anything_is_created(
    pipeline: PipelineEnv, on_sagemaker: PipelineServices, fakes: FakeStack
) -> None:
    no_key = await pipeline.new_user()
    with pytest.raises(TargetKeyMissing, match="no AWS credential is stored") as caught:
        await _plan(on_sagemaker, no_key, repo_id=TINY)
    assert caught.value.provider == "aws"
    user = await _aws_user(pipeline)
    fakes.huggingface.add_repo(safetensors_repo(  # ~405B parameters: 810 GB in bf16
        GIANT, hidden=16384, layers=126, intermediate=53248, vocab=128256, heads=128, kv_heads=8,
    ))  # fmt: skip
    with pytest.raises(PlanError, match="no Amazon SageMaker offer holds it"):
        await _plan(on_sagemaker, user, repo_id=GIANT)
    with pytest.raises(PlanError, match="Amazon SageMaker has no GPU offers in 'eu-west-1'"):
        await _plan(on_sagemaker, user, repo_id=TINY, region="eu-west-1")
    # The one type within the user's 2-GPU limit that holds the 13B model has no quota.
    fakes.aws.state.quotas["ml.g6e.xlarge"] = 0
    with pytest.raises(PlanError, match=r"only ml\.g6e\.xlarge hold this model, and your AWS"):
        await _plan(on_sagemaker, user, repo_id=MID)
    assert fakes.aws.state.resources() == {}


async def test_a_diffusion_model_and_a_gated_llm_run_our_own_image_with_weights_baked(
    pipeline: PipelineEnv, on_sagemaker: PipelineServices, fakes: FakeStack
) -> None:
    """Besides public language models (Hugging Face's LLM container), SageMaker runs our
    worker image: its smoke input is the worker's own job input, and the weights are baked
    in even when the user asked for a network volume (SageMaker has none). A gated language
    model runs our image too, so the user's token is a build secret, never the endpoint's
    setting."""
    user = await _aws_user(pipeline)
    plan = await _plan(on_sagemaker, user, repo_id=DIFFUSION, weights="network_volume")
    assert plan.worker.needs_build and plan.worker.weights == "baked"
    assert plan.worker.task == "text-to-image" and "prompt" in plan.test_input
    assert "inputs" not in plan.test_input  # not TGI's payload
    public = await _plan(on_sagemaker, user, repo_id=TINY)
    assert not public.worker.needs_build and "inputs" in public.test_input
    gated = hf_repos.gated_repo("kriptik-test/gated-llama")
    fakes.huggingface.add_repo(gated)
    fakes.huggingface.grant("kriptik-tester", gated.repo_id)
    plan = await _plan(on_sagemaker, user, repo_id=gated.repo_id)
    assert plan.needs_token and plan.worker.needs_build and plan.worker.kind != "vllm"
    assert plan.worker.weights == "baked"
    assert fakes.aws.state.resources() == {}
