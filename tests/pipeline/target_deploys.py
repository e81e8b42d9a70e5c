"""Recorded plans for the deploy targets beside RunPod, and the real targets (and Artifact
Registry access) pointed at the simulator's fakes, for the target-flow and crash tests.

The plans are written here, not planned: these tests are about running an approved plan,
so they stay independent of how planning picks an offer.
"""

from __future__ import annotations

import json
import random
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any, Final

import httpx
from pydantic import SecretStr

from tools.artifacts.worker import WorkerPlan
from tools.clients._http import Retry
from tools.pipeline.artifact_registry import ArtifactRegistryAccess
from tools.pipeline.plan import DeploymentPlan
from tools.simulator import aws_state
from tools.targets.base import DeployTarget, TargetGpu, TargetName, TokenSource
from tools.targets.cloudrun import L4_OFFER_ID, L4_USD_PER_HOUR, CloudRunTarget
from tools.targets.huggingface import HuggingFaceTarget
from tools.targets.sagemaker import SageMakerTarget
from vault import Settings

LLAMA: Final = "kriptik-test/tiny-llama"
SHA: Final = "0123456789abcdef0123456789abcdef01234567"
HF_L4: Final = TargetGpu(
    target="huggingface", offer_id="aws/us-east-1/nvidia-l4/x1", gpu_memory_gib=24,
    label="NVIDIA L4 24 GB x1 (Hugging Face, aws us-east-1)", usd_per_hour=0.8,
    region="us-east-1", source="Hugging Face catalog (test)",
)  # fmt: skip
HF_L4_HARDWARE: Final = "aws-us-east-1-nvidia-l4-x1"  # the fake's id of that offer
CLOUDRUN_L4: Final = TargetGpu(
    target="cloudrun", offer_id=L4_OFFER_ID, gpu_memory_gib=24,
    label="NVIDIA L4 24 GB (Google Cloud Run, us-central1)", usd_per_hour=L4_USD_PER_HOUR,
    region="us-central1", source="cloud.google.com/run/pricing (test)",
)  # fmt: skip
SAGEMAKER_G5: Final = TargetGpu(
    target="sagemaker", offer_id="ml.g5.xlarge", gpu_memory_gib=24,
    label="ml.g5.xlarge, 1 x NVIDIA A10G 24 GB (Amazon SageMaker, us-east-1)",
    usd_per_hour=1.408, region="us-east-1", source="AWS Price List API (test)",
)  # fmt: skip
# The user's `aws` credential: the AWS fake's role, assumed with its external id.
AWS_ROLE: Final = json.dumps({"role_arn": aws_state.ROLE_ARN, "external_id": aws_state.EXTERNAL_ID,
                              "region": "us-east-1"})  # fmt: skip
TGI_SMOKE: Final = {"inputs": "Say hello in five words.", "parameters": {"max_new_tokens": 16}}
WORKER_SMOKE: Final = {"inputs": "Say hello in five words.", "parameters": {"max_new_tokens": 16}}

Tokens = Callable[[str, str], Awaitable[SecretStr]]  # (user id, provider) -> key


def _for(tokens: Tokens, provider: str) -> TokenSource:
    """One provider's token source (`TokenSource`), as the root passes it."""

    def source(user_id: str) -> Awaitable[SecretStr]:
        return tokens(user_id, provider)

    return source


def deployment_plan(
    target: TargetName, *, workers_min: int = 0, workers_max: int = 1, ttl_s: int | None = None
) -> DeploymentPlan:
    """An approved plan for tiny-llama on `target`'s L4 (SageMaker: an ml.g5.xlarge, always
    on): Hugging Face's TGI image, or our generated transformers worker on Cloud Run."""
    gpu = {"huggingface": HF_L4, "sagemaker": SAGEMAKER_G5}.get(target, CLOUDRUN_L4)
    prebuilt = target in ("huggingface", "sagemaker")
    worker = WorkerPlan(
        kind="vllm" if prebuilt else "transformers", repo_id=LLAMA,
        revision=SHA, task="text-generation", dtype="bfloat16",
    )  # fmt: skip
    if target == "sagemaker":
        workers_min = workers_max
    return DeploymentPlan(
        worker=worker, pool=gpu.offer_id, pool_label=gpu.label, gpu_count=gpu.gpu_count,
        usd_per_second=gpu.usd_per_hour / 3600, options=(), workers_min=workers_min,
        workers_max=workers_max, idle_timeout_s=300, min_cuda=None, required_gib=2.0,
        needs_token=False, catalog_as_of=date(2026, 1, 1),
        test_input=TGI_SMOKE if prebuilt else WORKER_SMOKE,
        ttl_s=ttl_s, target=target, target_gpu=gpu,
    )  # fmt: skip


def build_targets(
    http: httpx.AsyncClient, settings: Settings, tokens: Tokens, *, poll_s: float = 0.01
) -> dict[str, DeployTarget]:
    """Both targets as the composition root builds them (`ui.root`), each provider call
    tried once, and Cloud Run's operations polled fast."""
    retry = Retry(max_attempts=1, rng=random.Random(7))
    hf = HuggingFaceTarget(
        http=http, tokens=_for(tokens, "huggingface"),
        hub_base_url=settings.huggingface_base_url,
        endpoints_base_url=settings.hf_endpoints_base_url, retry=retry, timeout_s=5.0,
        poll_s=poll_s,
    )  # fmt: skip
    cloudrun = CloudRunTarget(
        http=http, settings=settings, tokens=_for(tokens, "gcp"), retry=retry,
        poll_s=poll_s,
    )  # fmt: skip
    sagemaker = SageMakerTarget(
        settings=settings, tokens=_for(tokens, "aws"), retry=retry, poll_s=poll_s,
        prices_path=settings.home / "sagemaker-prices.json",
    )  # fmt: skip
    return {"huggingface": hf, "cloudrun": cloudrun, "sagemaker": sagemaker}


def artifact_registry(
    http: httpx.AsyncClient, settings: Settings, tokens: Tokens
) -> ArtifactRegistryAccess:
    return ArtifactRegistryAccess(
        http=http, tokens=_for(tokens, "gcp"),
        base_url=settings.artifact_registry_base_url, token_url=settings.google_oauth_token_url,
        retry=Retry(max_attempts=1), timeout_s=5.0,
    )  # fmt: skip


def plan_json(plan: DeploymentPlan) -> dict[str, Any]:
    return plan.model_dump(mode="json")
