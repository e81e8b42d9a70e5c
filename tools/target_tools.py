"""`compare_targets`: where a model could run, and what it costs there, before the user
chooses. Read-only: each target is planned as `create_runpod_endpoint` would plan it
(`tools.pipeline.plan_deployment`, the same inspection, VRAM estimate and live catalog),
and nothing is created.

```
RunPod serverless                  always listed; priced when the user has a RunPod key
Hugging Face Inference Endpoints   listed when this server enabled it (PipelineServices
Google Cloud Run, Amazon SageMaker .targets): priced with the user's key, else the key to add
```
"""

from __future__ import annotations

from pydantic import BaseModel, Field
from pydantic_ai import RunContext

from tools.deps import Deps
from tools.pipeline.plan import DeployRequest, PlanError, plan_deployment
from tools.pipeline.services import PipelineServices
from tools.pipeline.target_pick import TARGET_TITLES, TargetKeyMissing
from tools.pipeline_cards import key_next_step, pipeline
from tools.targets.base import TargetName
from vault import CredentialNotFound

__all__ = ["TargetComparison", "TargetOffer", "compare_targets"]


def _absent(value: object) -> bool:
    return value is None


class TargetOffer(BaseModel):
    """One target: the GPU that holds the model there and its price, or why not."""

    target: TargetName
    name: str
    # Pass as create_runpod_endpoint's `pool` (with `target`) to deploy on this offer.
    pool: str | None = Field(default=None, exclude_if=_absent)
    gpu: str | None = Field(default=None, exclude_if=_absent)
    gpu_count: int | None = Field(default=None, exclude_if=_absent)
    usd_per_hour: float | None = Field(default=None, exclude_if=_absent)
    region: str | None = Field(default=None, exclude_if=_absent)
    price_source: str | None = Field(default=None, exclude_if=_absent)
    missing_key: str | None = Field(default=None, exclude_if=_absent)  # the vault provider
    note: str | None = Field(default=None, exclude_if=_absent)


class TargetComparison(BaseModel):
    repo_id: str
    targets: list[TargetOffer]


async def compare_targets(ctx: RunContext[Deps], repo_id: str) -> TargetComparison:
    """Price a model on each deploy target: the GPU that holds it there and its $/h.

    Args:
        repo_id: Hugging Face repo, owner/name.

    Read-only. Targets the user has no key for are listed with the key to add.
    """
    services = (await pipeline(ctx.deps)).services
    others: tuple[TargetName, ...] = ("huggingface", "cloudrun", "sagemaker")
    names: list[TargetName] = ["runpod", *(n for n in others if n in services.targets)]
    return TargetComparison(
        repo_id=repo_id,
        targets=[await _offer(services, ctx.deps.user_id, repo_id, n) for n in names],
    )


async def _offer(
    services: PipelineServices, user_id: str, repo_id: str, name: TargetName
) -> TargetOffer:
    title = TARGET_TITLES[name]
    try:
        plan = await plan_deployment(services, user_id, DeployRequest(repo_id=repo_id, target=name))
    except TargetKeyMissing as err:
        return TargetOffer(target=name, name=title, missing_key=err.provider,
                           note=f"{err}. {key_next_step(err)}")  # fmt: skip
    except CredentialNotFound:  # RunPod's key
        return TargetOffer(target=name, name=title, missing_key="runpod",
                           note="No RunPod key is stored: call request_api_key with provider "
                           "'runpod' to price it.")  # fmt: skip
    except PlanError as err:
        return TargetOffer(target=name, name=title, note=str(err))
    offer = plan.target_gpu
    return TargetOffer(
        target=name, name=title, pool=plan.pool, gpu=plan.pool_name, gpu_count=plan.gpu_count,
        usd_per_hour=round(plan.usd_per_hour, 4), region=offer.region if offer else None,
        price_source=offer.source if offer else f"RunPod's GPU catalogue, {plan.catalog_as_of}",
    )  # fmt: skip
