"""The one translation of a deployment's plan into what a deploy target creates
(`tools.targets.base.TargetPlan`), and the checks around it: which target runs a plan, and
whether it is a target deployment at all (RunPod's plans run the steps of this package
directly).

Every step, teardown and cost reading of a target deployment builds its `TargetPlan` here,
so create, wait, smoke test and teardown always name the same remote resource (the target
names it for the deployment id).
"""

from __future__ import annotations

from typing import Final

from pydantic import ValidationError

from tools.pipeline.plan import DeploymentPlan
from tools.pipeline.services import PipelineServices
from tools.targets.base import DeployTarget, TargetPlan
from vault.deployments import DeploymentView

__all__ = [
    "SCALE_TO_ZERO_MIN_S",
    "TargetMissing",
    "builds_image",
    "is_target_deployment",
    "plan_of_view",
    "target_for",
    "target_plan_for",
    "target_plan_of",
]

# The shortest idle time before scale-to-zero that a target is given: Hugging Face counts
# it in whole minutes, and RunPod's few seconds would make every request a cold start.
SCALE_TO_ZERO_MIN_S: Final = 60


class TargetMissing(LookupError):
    """This process has no deploy target of the plan's name; the message says what to do."""


def target_plan_of(plan: DeploymentPlan, deployment_id: str, image: str | None) -> TargetPlan:
    """The `TargetPlan` of a non-RunPod deployment.

    Args:
        plan: The approved plan; its `target_gpu` is the catalog offer chosen.
        deployment_id: The idempotency key: the target names its resource for it.
        image: The pushed worker image (Cloud Run; SageMaker for workers KripTik builds); None
            for the target's own serving image.

    Raises:
        ValueError: The plan is RunPod's, or names no target offer.
    """
    if plan.target == "runpod" or plan.target_gpu is None:
        raise ValueError(f"deployment {deployment_id} has no deploy-target offer in its plan")
    worker = plan.worker
    return TargetPlan(
        deployment_id=deployment_id,
        repo_id=worker.repo_id,
        revision=worker.revision,
        task=worker.task,
        gpu=plan.target_gpu,
        min_replicas=plan.workers_min,
        max_replicas=plan.workers_max,
        idle_scale_to_zero_s=max(SCALE_TO_ZERO_MIN_S, plan.idle_timeout_s),
        image=image,
    )


def plan_of_view(view: DeploymentView) -> DeploymentPlan | None:
    """The record's plan, or None for a record whose plan is not a full one (very old)."""
    try:
        return DeploymentPlan.model_validate(view.plan)
    except ValidationError:
        return None


def is_target_deployment(view: DeploymentView) -> bool:
    """Whether the record's plan runs on a deploy target other than RunPod (a cheap read of
    the stored plan, so every RunPod path can ask it first and go on unchanged)."""
    return view.plan.get("target", "runpod") != "runpod"


def builds_image(plan: DeploymentPlan) -> bool:
    """Whether a target deployment runs our worker image, built and pushed before the
    create: on Cloud Run, and on SageMaker for every workload its LLM container does not
    serve; never on Hugging Face, which runs its own serving images."""
    return plan.target in ("cloudrun", "sagemaker") and plan.worker.needs_build


def target_plan_for(view: DeploymentView, plan: DeploymentPlan) -> TargetPlan:
    """The record's `TargetPlan`: the image the build recorded where it built one
    (`builds_image`), else None (the target's own serving image)."""
    return target_plan_of(plan, view.id, view.image if builds_image(plan) else None)


def target_for(svc: PipelineServices, plan: DeploymentPlan) -> DeployTarget:
    """The process's target for the plan.

    Raises:
        TargetMissing: This server was started without it.
    """
    target = svc.targets.get(plan.target)
    if target is None:
        raise TargetMissing(
            f"This KripTik server has no {plan.target} deploy target set up, so the "
            "deployment cannot run here. Ask the operator to enable it, or deploy to RunPod."
        )
    return target
