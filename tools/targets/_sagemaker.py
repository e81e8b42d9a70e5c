"""The SageMaker target's rules apart from its calls: the GPU instance types it offers (plain
data), the names of a deployment's resources, the serving image per region, the offers as
users read them, and the refusals before any spend; and `adopting`, the one way every
create meets what a crashed earlier attempt of the deployment made.

The instance table is AWS's published hardware of each type (GPU count, GPU, memory per GPU;
aws.amazon.com/sagemaker/pricing, "Instance details"). Prices are never written here: they
come from the Price List API (`tools.clients.aws_pricing`). The AWS fake's own table
(`tools.simulator.aws_catalog.INSTANCES`) holds the same hardware; a test keeps them equal.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Final

from tools.clients.aws_errors import AWS
from tools.clients.aws_permissions import RESOURCE_PREFIX
from tools.clients.aws_pricing import InstancePrice
from tools.clients.aws_quotas import InstanceQuota
from tools.clients.errors import Conflict, InvalidRequest
from tools.targets.base import TargetGpu, TargetPlan

__all__ = [
    "INSTANCE_TYPES", "LLM_TASKS", "TGI_IMAGE", "InstanceType", "adopting", "check_plan",
    "cold_start_note", "duration_text", "hourly_note", "idle_before_zero_s", "instance_type",
    "offer", "resource_name", "resource_tags", "scale_to_zero_note", "serving_image",
]  # fmt: skip


@dataclass(frozen=True)
class InstanceType:
    """One SageMaker GPU instance type, as AWS publishes it."""

    name: str
    gpus: int
    gpu: str
    gpu_memory_gib: int  # per GPU
    vcpus: int
    memory_gib: int


INSTANCE_TYPES: Final[tuple[InstanceType, ...]] = (
    InstanceType("ml.g4dn.xlarge", 1, "T4", 16, 4, 16),
    InstanceType("ml.g5.xlarge", 1, "A10G", 24, 4, 16),
    InstanceType("ml.g5.2xlarge", 1, "A10G", 24, 8, 32),
    InstanceType("ml.g5.12xlarge", 4, "A10G", 24, 48, 192),
    InstanceType("ml.g5.48xlarge", 8, "A10G", 24, 192, 768),
    InstanceType("ml.g6.xlarge", 1, "L4", 24, 4, 16),
    InstanceType("ml.g6.12xlarge", 4, "L4", 24, 48, 192),
    InstanceType("ml.g6e.xlarge", 1, "L40S", 48, 4, 32),
    InstanceType("ml.g6e.12xlarge", 4, "L40S", 48, 48, 384),
    InstanceType("ml.p4d.24xlarge", 8, "A100", 40, 96, 1152),
    InstanceType("ml.p5.48xlarge", 8, "H100", 80, 192, 2048),
)
_BY_NAME: Final = {t.name: t for t in INSTANCE_TYPES}

# Tasks served by Hugging Face's LLM container (TGI) on SageMaker; every other task runs
# our own worker image from ECR.
LLM_TASKS: Final = frozenset({"text-generation", "image-text-to-text"})
# The Hugging Face LLM serving container for SageMaker (TGI), from AWS's Deep Learning
# Containers registry; `{account}` and `{region}` per region. The tag is the newest that
# AWS's Deep Learning Containers listing of TGI images for SageMaker shows (framework 2.4,
# TGI 3.0.1, pushed 2025-01-09); check that listing before a release.
TGI_IMAGE: Final = (
    "{account}.dkr.ecr.{region}.amazonaws.com/huggingface-pytorch-tgi-inference:"
    "2.4.0-tgi3.0.1-gpu-py311-cu124-ubuntu22.04-v2.0"
)
# The Deep Learning Containers' registry account per region (AWS's Deep Learning Containers
# documentation; the same account in these regions).
_DLC_ACCOUNTS: Final = {
    "us-east-1": "763104351884", "us-east-2": "763104351884", "us-west-1": "763104351884",
    "us-west-2": "763104351884", "eu-west-1": "763104351884", "eu-west-2": "763104351884",
    "eu-west-3": "763104351884", "eu-central-1": "763104351884", "eu-north-1": "763104351884",
    "ap-northeast-1": "763104351884", "ap-northeast-2": "763104351884",
    "ap-southeast-1": "763104351884", "ap-southeast-2": "763104351884",
    "ap-south-1": "763104351884", "ca-central-1": "763104351884", "sa-east-1": "763104351884",
}  # fmt: skip


def instance_type(name: str) -> InstanceType | None:
    return _BY_NAME.get(name)


def resource_name(deployment_id: str) -> str:
    """The name of a deployment's model, endpoint config and endpoint: stable, inside the
    role's `kriptik-*` resources, valid for SageMaker (letters, digits, single hyphens, at
    most 63), and distinct for distinct ids."""
    slug = re.sub(r"[^a-z0-9]+", "-", deployment_id.lower()).strip("-")
    digest = hashlib.sha256(deployment_id.encode()).hexdigest()[:8]
    return f"{RESOURCE_PREFIX}{slug[:40].rstrip('-')}-{digest}".replace("--", "-")


def resource_tags(deployment_id: str) -> dict[str, str]:
    """The tags on every SageMaker resource of a deployment (the console shows whose)."""
    return {"managed-by": "kriptik", "kriptik-deployment": deployment_id[:256]}


def serving_image(region: str) -> str:
    """Hugging Face's LLM container for SageMaker in `region`.

    Raises:
        InvalidRequest: No registry of it is known for the region.
    """
    account = _DLC_ACCOUNTS.get(region)
    if account is None:
        raise InvalidRequest(
            f"KripTik does not know where Hugging Face's LLM container is published for "
            f"{region}. Deploy in one of {', '.join(sorted(_DLC_ACCOUNTS))}.",
            provider=AWS.name,
        )
    return TGI_IMAGE.format(account=account, region=region)


def offer(kind: InstanceType, price: InstancePrice, quota: InstanceQuota) -> TargetGpu:
    """A priced offer; one the account has no quota for carries the link to ask for it."""
    blocked = (
        None
        if quota.allows_one
        else (
            f"your AWS account's quota for {kind.name} endpoint instances in {price.region} is "
            f"{quota.value:g}: request more at {quota.request_url}"
        )
    )
    return TargetGpu(
        target="sagemaker", offer_id=kind.name,
        label=f"{kind.name}, {kind.gpus} x NVIDIA {kind.gpu} {kind.gpu_memory_gib} GB "
        f"(Amazon SageMaker, {price.region})",
        gpu_memory_gib=float(kind.gpu_memory_gib), gpu_count=kind.gpus,
        usd_per_hour=round(price.usd_per_hour, 4), region=price.region,
        source=f"{price.source}, SKU {price.sku}, read {price.as_of:%Y-%m-%d}",
        quota_note=blocked,
    )  # fmt: skip


def check_plan(plan: TargetPlan) -> InstanceType:
    """Bad input, refused before any call that could cost money; the instance type."""

    def bad(text: str) -> InvalidRequest:
        return InvalidRequest(text, provider=AWS.name)

    kind = instance_type(plan.gpu.offer_id)
    if plan.gpu.target != "sagemaker" or kind is None:
        listed = ", ".join(t.name for t in INSTANCE_TYPES)
        raise bad(f"Amazon SageMaker offers {listed}; not {plan.gpu.offer_id!r}.")
    if plan.gpu.quota_note:
        raise bad(f"{plan.gpu.quota_note}. Plan again to get the next instance type that fits.")
    if plan.task not in LLM_TASKS and not plan.image:
        raise bad("This model runs our worker image on SageMaker: build and push it to ECR "
                  "first (plan.image).")  # fmt: skip
    if plan.max_replicas < 1 or plan.min_replicas > plan.max_replicas:
        raise bad("Instances must satisfy 0 <= minimum <= maximum, with a maximum of 1 or more.")
    return kind


async def adopting(create: Awaitable[object]) -> None:
    """A create whose resource an earlier attempt of this deployment made: adopt it (every
    name comes from the deployment id, so a re-run after a crash meets its own)."""
    try:
        await create
    except Conflict:
        pass


def hourly_note() -> str:
    """The card's plain words on billing: a SageMaker endpoint bills while it exists."""
    return (
        "This SageMaker endpoint keeps its instances running: it bills every hour, busy or "
        "idle, until it is torn down (plan it with no instance always on to let it scale to "
        "zero instead). KripTik tears it down by itself when its time-to-live ends, or "
        "earlier when you ask."
    )


# The shortest idle time before a scale-to-zero endpoint scales in. Waking it takes minutes
# (an instance starts, the model loads), so scaling in after a minute's pause would make
# nearly every request a cold start; AWS's own scale-in alarms look over minutes anyway.
MIN_IDLE_BEFORE_ZERO_S: Final = 600


def idle_before_zero_s(idle_timeout_s: int) -> int:
    """How long a scale-to-zero endpoint stays up without requests before it scales in."""
    return max(MIN_IDLE_BEFORE_ZERO_S, idle_timeout_s)


def duration_text(seconds: int) -> str:
    """A time in whole minutes or hours, as the card says it."""
    minutes = max(1, round(seconds / 60))
    if minutes % 60 == 0:
        hours = minutes // 60
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def scale_to_zero_note(idle_s: int) -> str:
    """The card's plain words on billing for a SageMaker deployment that scales to zero
    (`plan.min_replicas == 0`): when it stops billing, and what waking it costs in time."""
    return (
        f"This SageMaker endpoint scales to zero: after {duration_text(idle_s)} without requests "
        "its instances stop, and nothing bills while it is at zero. The next request wakes "
        f"it: SageMaker starts an instance and loads the model, which takes {cold_start_note()}, "
        "and requests are refused until it is up."
    )


def cold_start_note() -> str:
    """How long a deployment at zero takes to answer again, as users read it."""
    return "several minutes (longer for large models)"
