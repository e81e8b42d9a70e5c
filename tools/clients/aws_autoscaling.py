"""Application Auto Scaling through boto3, over an `AwsSession`: what scales a SageMaker
inference component's copies between 0 and N.

```
AutoScalingClient(session)
  register_target(ScalableTargetSpec) -> arn          RegisterScalableTarget (an upsert)
  describe_target(resource_id) -> ScalableTargetStatus | None
  deregister_target(resource_id) -> bool              False: was not registered
  put_policy(StepPolicySpec | TargetTrackingSpec) -> arn   PutScalingPolicy (an upsert)
  describe_policies(resource_id) -> list[ScalingPolicyStatus]
  delete_policy(resource_id, name) -> bool            False: was gone
inference_component_resource(name) -> "inference-component/<name>"
```

Registering a target and putting a policy create or update in place, so a create run
again after a crash adopts what the first run made. Deregistering a target also deletes
its policies (and the alarms of its target-tracking policies); a missing target or
policy (`ObjectNotFoundException`) reads as False, so teardown runs twice safely.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, cast

from tools.clients.aws_session import AwsSession
from tools.clients.errors import NotFound

__all__ = [
    "IC_COPIES",
    "AutoScalingClient",
    "ScalableTargetSpec",
    "ScalableTargetStatus",
    "ScalingPolicyStatus",
    "StepPolicySpec",
    "TargetTrackingSpec",
    "inference_component_resource",
]

# The dimension an inference component scales on: its number of copies.
IC_COPIES: Final = "sagemaker:inference-component:DesiredCopyCount"
_NAMESPACE: Final = "sagemaker"


def inference_component_resource(name: str) -> str:
    """Application Auto Scaling's resource id of an inference component."""
    return f"inference-component/{name}"


@dataclass(frozen=True, kw_only=True)
class ScalableTargetSpec:
    """Copies of one inference component, from `min_copies` (0: scale to zero) to
    `max_copies`."""

    resource_id: str
    min_copies: int
    max_copies: int
    dimension: str = IC_COPIES

    def body(self) -> dict[str, Any]:
        return _target(self.resource_id, self.dimension) | {
            "MinCapacity": self.min_copies,
            "MaxCapacity": self.max_copies,
        }


@dataclass(frozen=True, kw_only=True)
class StepPolicySpec:
    """A step-scaling policy that adds `add` copies each time its alarm goes off (the
    way out of zero copies: target tracking cannot scale out from nothing)."""

    name: str
    resource_id: str
    add: int = 1
    cooldown_s: int = 60
    dimension: str = IC_COPIES

    def body(self) -> dict[str, Any]:
        return _policy(self.name, self.resource_id, self.dimension) | {
            "PolicyType": "StepScaling",
            "StepScalingPolicyConfiguration": {
                "AdjustmentType": "ChangeInCapacity",
                "MetricAggregationType": "Maximum",
                "Cooldown": self.cooldown_s,
                "StepAdjustments": [
                    {"MetricIntervalLowerBound": 0.0, "ScalingAdjustment": self.add}
                ],
            },
        }


@dataclass(frozen=True, kw_only=True)
class TargetTrackingSpec:
    """A target-tracking policy on a predefined metric: copies follow the load, and scale
    in (to the target's minimum, 0 included) once `scale_in_cooldown_s` passed quietly."""

    name: str
    resource_id: str
    metric: str
    target_value: float
    scale_in_cooldown_s: int
    scale_out_cooldown_s: int = 60
    dimension: str = IC_COPIES

    def body(self) -> dict[str, Any]:
        return _policy(self.name, self.resource_id, self.dimension) | {
            "PolicyType": "TargetTrackingScaling",
            "TargetTrackingScalingPolicyConfiguration": {
                "TargetValue": float(self.target_value),
                "PredefinedMetricSpecification": {"PredefinedMetricType": self.metric},
                "ScaleInCooldown": self.scale_in_cooldown_s,
                "ScaleOutCooldown": self.scale_out_cooldown_s,
            },
        }


def _target(resource_id: str, dimension: str) -> dict[str, Any]:
    """The parameters that name one scalable target."""
    return {
        "ServiceNamespace": _NAMESPACE,
        "ResourceId": resource_id,
        "ScalableDimension": dimension,
    }


def _policy(name: str, resource_id: str, dimension: str) -> dict[str, Any]:
    return {"PolicyName": name} | _target(resource_id, dimension)


@dataclass(frozen=True)
class ScalableTargetStatus:
    """A registered target, the fields we use."""

    resource_id: str
    min_copies: int
    max_copies: int
    arn: str | None


@dataclass(frozen=True)
class ScalingPolicyStatus:
    """A policy on a target, the fields we use; `alarms` are those Application Auto
    Scaling made for it (target tracking) or that trigger it."""

    name: str
    arn: str
    kind: str
    alarms: tuple[str, ...]


class AutoScalingClient:
    """Application Auto Scaling for SageMaker targets, for one session and region."""

    def __init__(self, session: AwsSession) -> None:
        self._s = session

    def __repr__(self) -> str:
        return f"AutoScalingClient(region={self._s.region!r})"

    async def _call(
        self, op: str, params: Mapping[str, object], what: str, *, idempotent: bool = True
    ) -> dict[str, Any]:
        return await self._s.call(
            "application-autoscaling", op, params, what=what, idempotent=idempotent
        )

    async def register_target(self, spec: ScalableTargetSpec) -> str:
        """Register (or update) the target; its ARN."""
        out = await self._call(
            "register_scalable_target", spec.body(), f"the scaling of {spec.resource_id}"
        )
        return str(out.get("ScalableTargetARN") or "")

    async def describe_target(
        self, resource_id: str, *, dimension: str = IC_COPIES
    ) -> ScalableTargetStatus | None:
        params = {
            "ServiceNamespace": _NAMESPACE,
            "ResourceIds": [resource_id],
            "ScalableDimension": dimension,
        }
        out = await self._call("describe_scalable_targets", params, f"the scaling of {resource_id}")
        for row in cast("list[dict[str, Any]]", out.get("ScalableTargets") or []):
            if row.get("ResourceId") == resource_id:
                return ScalableTargetStatus(
                    resource_id,
                    int(row["MinCapacity"]),
                    int(row["MaxCapacity"]),
                    row.get("ScalableTargetARN"),
                )
        return None

    async def deregister_target(self, resource_id: str, *, dimension: str = IC_COPIES) -> bool:
        """Deregister the target (its policies go with it); False when it was not there."""
        return await self._delete(
            "deregister_scalable_target", _target(resource_id, dimension),
            f"the scaling of {resource_id}",
        )  # fmt: skip

    async def put_policy(self, spec: StepPolicySpec | TargetTrackingSpec) -> str:
        """Create (or update) the policy; its ARN, which an alarm names as its action."""
        out = await self._call("put_scaling_policy", spec.body(), f"the scaling policy {spec.name}")
        return str(out["PolicyARN"])

    async def describe_policies(
        self, resource_id: str, *, dimension: str = IC_COPIES
    ) -> list[ScalingPolicyStatus]:
        params: dict[str, object] = _target(resource_id, dimension)
        found: list[ScalingPolicyStatus] = []
        while True:
            out = await self._call(
                "describe_scaling_policies", params, f"the scaling policies of {resource_id}"
            )
            for row in cast("list[dict[str, Any]]", out.get("ScalingPolicies") or []):
                alarms = tuple(
                    str(a["AlarmName"])
                    for a in cast("list[dict[str, Any]]", row.get("Alarms") or [])
                )
                found.append(
                    ScalingPolicyStatus(
                        str(row["PolicyName"]),
                        str(row["PolicyARN"]),
                        str(row["PolicyType"]),
                        alarms,
                    )
                )
            if not out.get("NextToken"):
                return found
            params["NextToken"] = out["NextToken"]

    async def delete_policy(
        self, resource_id: str, name: str, *, dimension: str = IC_COPIES
    ) -> bool:
        """Delete the policy; False when it was gone."""
        return await self._delete(
            "delete_scaling_policy", _policy(name, resource_id, dimension),
            f"the scaling policy {name}",
        )  # fmt: skip

    async def _delete(self, op: str, params: Mapping[str, object], what: str) -> bool:
        """A delete; False when what it names was already gone."""
        try:
            await self._call(op, params, what)
        except NotFound:
            return False
        return True
