"""The deploy targets beside RunPod, real clients pointed at the simulator's fakes, for the
pipeline tests that plan (or card, or deploy) on them; and users holding their keys."""

from __future__ import annotations

import random
from functools import partial

import pytest
from huggingface_hub import constants as hf_constants
from pydantic import SecretStr

from tests.pipeline.conftest import PipelineEnv
from tools.clients._http import Retry
from tools.pipeline.services import PipelineServices
from tools.simulator.all import FakeStack
from tools.simulator.hf_repos import safetensors_repo
from tools.simulator.huggingface import DEFAULT_TOKEN as HF_TOKEN
from tools.simulator.runpod import DEFAULT_KEY as RUNPOD_KEY
from tools.targets.base import DeployTarget
from tools.targets.cloudrun import CloudRunTarget
from tools.targets.huggingface import HuggingFaceTarget
from tools.targets.sagemaker import SageMakerTarget
from vault import Settings, Vault

# A ~13B model (26 GB of bf16 weights): too large for Cloud Run's L4, fits an 80 GB A100.
MID = "kriptik-test/mid-llama"
# A ~180B model: too large for every Hugging Face offer too.
HUGE = "kriptik-test/huge-llama"


def add_large_models(fakes: FakeStack) -> None:
    fakes.huggingface.add_repo(safetensors_repo(
        MID, hidden=5120, layers=40, intermediate=13824, vocab=32000, heads=40, kv_heads=40,
    ))  # fmt: skip
    fakes.huggingface.add_repo(safetensors_repo(
        HUGE, hidden=12288, layers=96, intermediate=49152, vocab=128000, heads=96, kv_heads=8,
    ))  # fmt: skip


def build_targets(env: PipelineEnv, monkeypatch: pytest.MonkeyPatch) -> dict[str, DeployTarget]:
    """Hugging Face and Cloud Run for the pipeline tests' services."""
    return targets_for(env.base, monkeypatch)


def targets_for(
    services: PipelineServices, monkeypatch: pytest.MonkeyPatch, *, poll_s: float = 0.05
) -> dict[str, DeployTarget]:
    """Hugging Face, Cloud Run and SageMaker on `services`' settings and HTTP client, with the users'
    keys from the vault (as the app's root passes them: `PipelineServices.token`)."""
    # The Inference Endpoints root is a process-wide constant the target sets: restored after.
    monkeypatch.setattr(
        hf_constants, "INFERENCE_ENDPOINTS_ENDPOINT", hf_constants.INFERENCE_ENDPOINTS_ENDPOINT
    )
    retry = Retry(max_attempts=1, rng=random.Random(7))
    settings = services.settings
    hf = HuggingFaceTarget(
        http=services.http, tokens=partial(services.token, provider="huggingface"),
        hub_base_url=settings.huggingface_base_url,
        endpoints_base_url=settings.hf_endpoints_base_url, retry=retry, timeout_s=5.0,
        poll_s=poll_s,
    )  # fmt: skip
    cloudrun = CloudRunTarget(
        http=services.http, settings=settings, tokens=partial(services.token, provider="gcp"),
        retry=retry, poll_s=poll_s,
    )  # fmt: skip
    sagemaker = SageMakerTarget(
        settings=settings, tokens=partial(services.token, provider="aws"), retry=retry,
        poll_s=poll_s, prices_path=settings.home / "sagemaker-prices.json",
    )  # fmt: skip
    return {"huggingface": hf, "cloudrun": cloudrun, "sagemaker": sagemaker}


async def add_gcp_key(env: PipelineEnv, fakes: FakeStack, user_id: str) -> None:
    key = fakes.google_oauth.state.new_service_account()
    await env.vault.credentials.add(user_id, "gcp", SecretStr(key))


async def add_admin_with_keys(settings: Settings, gcp_key: str) -> None:
    """The CLI's default user, `admin`, holding keys for all three targets."""
    vault = await Vault.open(settings)
    admin = await vault.users.create("admin", SecretStr("correct-horse-1"), role="admin")
    await vault.credentials.add(admin.id, "runpod", SecretStr(RUNPOD_KEY))
    await vault.credentials.add(admin.id, "huggingface", SecretStr(HF_TOKEN))
    await vault.credentials.add(admin.id, "gcp", SecretStr(gcp_key))
    await vault.close()
