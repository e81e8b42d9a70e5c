"""Application Auto Scaling in the AWS fake, for SageMaker inference components (what
scales them to zero and back), and the runtime's side of it.

```
RegisterScalableTarget      an upsert; the component must exist, the caller may describe
                            and update it, and the first one in an account makes the
                            service-linked role (the caller's iam:CreateServiceLinkedRole)
PutScalingPolicy            an upsert on a registered target; target tracking on an inference
                            component's metric makes its two alarms (TargetTracking-...)
Describe*, Deregister/Delete   ObjectNotFoundException when there is none; deregistering a
                            target deletes its policies and their alarms
InvokeEndpoint (runtime)    on an inference-component endpoint: names a component; at zero
                            copies, "no capacity" and one NoCapacityInvocationFailures
                            datapoint, whose alarm runs its step policy (copies + N)
scale_in(state, region, name)   what target tracking does after its scale-in cooldown
```

Permission checks Application Auto Scaling makes on the target service and on CloudWatch
fail the call with a `ValidationException` naming the missing permission, as AWS does.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from tools.simulator import aws_cloudwatch, aws_sagemaker
from tools.simulator.aws_state import (
    Alarm,
    AwsState,
    Ctx,
    InferenceComponent,
    ScalableTarget,
    ScalingPolicy,
    decide,
)
from tools.simulator.aws_wire import AwsError

__all__ = ["HANDLERS", "SERVICE_LINKED_ROLE", "invoke_endpoint", "invoke_needs", "scale_in"]

Needs = list[tuple[str, str, dict[str, str]]]
_COPIES = "sagemaker:inference-component:DesiredCopyCount"
_METRICS = frozenset({"SageMakerInferenceComponentInvocationsPerCopy",
                      "SageMakerInferenceComponentConcurrentRequestsPerCopyHighResolution"})  # fmt: skip
_SERVICE = "sagemaker.application-autoscaling.amazonaws.com"
SERVICE_LINKED_ROLE = (
    f"role/aws-service-role/{_SERVICE}/AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"
)
_NO_CAPACITY = ("Inference Component has no capacity to process this request. "
                "ApplicationAutoScaling may be in-progress (if configured) or try to increase the "
                "capacity by invoking UpdateInferenceComponentRuntimeConfig API.")  # fmt: skip


def _invalid(message: str) -> AwsError:
    return AwsError("ValidationException", message)


def _require(ctx: Ctx, checks: list[tuple[str, str, dict[str, str]]]) -> None:
    """Application Auto Scaling's own check of what the caller may do elsewhere."""
    policy = ctx.state.policy_of(ctx.caller)
    for action, resource, context in checks:
        if decide(policy, action, resource, context) != "allowed":
            raise _invalid(f"User: {ctx.caller.arn} is not authorized to perform: {action} on "
                           f"resource: {resource}")  # fmt: skip


def _component(ctx: Ctx, p: dict[str, Any]) -> InferenceComponent:
    if p["ServiceNamespace"] != "sagemaker" or p["ScalableDimension"] != _COPIES:
        raise _invalid(f"This fake scales only {_COPIES} (service namespace sagemaker).")
    kind, _, name = str(p["ResourceId"]).partition("/")
    ic = ctx.state.inference_components.get((ctx.region, name))
    if kind != "inference-component" or ic is None:
        raise _invalid(f"Unsupported or missing resource: {p['ResourceId']}. An inference "
                       "component is named inference-component/<name>.")  # fmt: skip
    return ic


def _target(ctx: Ctx, p: dict[str, Any]) -> ScalableTarget:
    target = ctx.state.scalable_targets.get((ctx.region, p["ResourceId"]))
    if target is None or target.dimension != p["ScalableDimension"]:
        raise AwsError("ObjectNotFoundException", "No scalable target registered for service "
                       f"namespace: {p['ServiceNamespace']}, resource ID: {p['ResourceId']}, "
                       f"scalable dimension: {p['ScalableDimension']}")  # fmt: skip
    return target


def register_scalable_target(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    ic = _component(ctx, p)
    _require(ctx, [(f"sagemaker:{a}", ic.arn, {}) for a in
                   ("DescribeInferenceComponent", "UpdateInferenceComponentRuntimeConfig")])  # fmt: skip
    if _SERVICE not in ctx.state.service_linked_roles:
        role = f"arn:aws:iam::{ctx.account}:{SERVICE_LINKED_ROLE}"
        _require(ctx, [("iam:CreateServiceLinkedRole", role, {"iam:AWSServiceName": _SERVICE})])
        ctx.state.service_linked_roles.add(_SERVICE)
    key = (ctx.region, p["ResourceId"])
    old = ctx.state.scalable_targets.get(key)
    lo = p.get("MinCapacity", old.min_capacity if old else None)
    hi = p.get("MaxCapacity", old.max_capacity if old else None)
    if lo is None or hi is None or lo > hi:
        raise _invalid("A new scalable target needs MinCapacity and MaxCapacity, the minimum "
                       "no greater than the maximum.")  # fmt: skip
    arn = old.arn if old else ctx.arn("application-autoscaling",
                                      f"scalable-target/{secrets.token_hex(16)}")  # fmt: skip
    ctx.state.scalable_targets[key] = ScalableTarget(
        arn, p["ResourceId"], p["ScalableDimension"], lo, hi, old.created if old else ctx.now
    )
    return {"ScalableTargetARN": arn}


def describe_scalable_targets(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    ids, dimension = p.get("ResourceIds"), p.get("ScalableDimension")
    role = f"arn:aws:iam::{ctx.account}:{SERVICE_LINKED_ROLE}"
    rows = [{"ServiceNamespace": "sagemaker", "ResourceId": t.resource_id,
             "ScalableDimension": t.dimension, "MinCapacity": t.min_capacity,
             "MaxCapacity": t.max_capacity, "RoleARN": role, "CreationTime": t.created,
             "ScalableTargetARN": t.arn}
            for (r, _), t in sorted(ctx.state.scalable_targets.items()) if r == ctx.region
            and p["ServiceNamespace"] == "sagemaker" and (ids is None or t.resource_id in ids)
            and dimension in (None, t.dimension)]  # fmt: skip
    return _page(rows, p, "ScalableTargets")


def _page(rows: list[dict[str, Any]], p: dict[str, Any], key: str) -> dict[str, Any]:
    start, size = int(p.get("NextToken") or 0), int(p.get("MaxResults") or 50)
    out: dict[str, Any] = {key: rows[start : start + size]}
    return out | ({"NextToken": str(start + size)} if start + size < len(rows) else {})


def deregister_scalable_target(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    target = _target(ctx, p)
    for key, policy in list(ctx.state.scaling_policies.items()):
        if key[0] == ctx.region and policy.resource_id == target.resource_id:
            _drop_policy(ctx, key)
    del ctx.state.scalable_targets[(ctx.region, target.resource_id)]
    return {}


def _drop_policy(ctx: Ctx, key: tuple[str, str]) -> None:
    """A policy goes, and with it the alarms Application Auto Scaling made for it."""
    policy = ctx.state.scaling_policies.pop(key)
    for name in policy.alarms:
        ctx.state.alarms.pop((ctx.region, name), None)


def _check_policy(kind: str, p: dict[str, Any]) -> None:
    step, tracking = p.get("StepScalingPolicyConfiguration"), p.get(
        "TargetTrackingScalingPolicyConfiguration")  # fmt: skip
    if kind == "StepScaling" and (not step or tracking or not step.get("StepAdjustments")
                                  or not step.get("AdjustmentType")):  # fmt: skip
        raise _invalid("A StepScaling policy needs a StepScalingPolicyConfiguration with an "
                       "AdjustmentType and StepAdjustments (and nothing else).")  # fmt: skip
    if kind == "TargetTrackingScaling":
        if not tracking or step:
            raise _invalid("A TargetTrackingScaling policy needs a "
                           "TargetTrackingScalingPolicyConfiguration (and nothing else).")  # fmt: skip
        predefined: dict[str, Any] = tracking.get("PredefinedMetricSpecification") or {}
        metric = predefined.get("PredefinedMetricType")
        if metric is not None and metric not in _METRICS:
            raise _invalid(f"{metric} is not a metric of {_COPIES}; use one of {sorted(_METRICS)}.")
    if kind not in {"StepScaling", "TargetTrackingScaling"}:
        raise _invalid(f"This fake does not serve {kind} policies.")


def put_scaling_policy(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    target, kind = _target(ctx, p), p.get("PolicyType", "StepScaling")
    _check_policy(kind, p)
    key = next((k for k, v in ctx.state.scaling_policies.items() if k[0] == ctx.region
                and v.resource_id == target.resource_id and v.name == p["PolicyName"]), None)  # fmt: skip
    old = ctx.state.scaling_policies.get(key) if key else None
    if old is not None and old.kind != kind:
        raise _invalid(f"Policy {p['PolicyName']} is a {old.kind} policy; delete it first.")
    arn = old.arn if old else ctx.arn(
        "autoscaling", f"scalingPolicy:{secrets.token_hex(16)}:resource/sagemaker/"
        f"{target.resource_id}:policyName/{p['PolicyName']}")  # fmt: skip
    alarms = old.alarms if old else []
    if old is None and kind == "TargetTrackingScaling":
        alarms = _tracking_alarms(ctx, target, arn, p)
    ctx.state.scaling_policies[(ctx.region, arn)] = ScalingPolicy(
        arn, p["PolicyName"], target.resource_id, target.dimension, kind, p,
        old.created if old else ctx.now, alarms,
    )  # fmt: skip
    out: dict[str, Any] = {"PolicyARN": arn}
    if alarms:
        out["Alarms"] = [{"AlarmName": n, "AlarmARN": ctx.state.alarms[(ctx.region, n)].arn}
                         for n in alarms]  # fmt: skip
    return out


def _tracking_alarms(
    ctx: Ctx, target: ScalableTarget, policy_arn: str, p: dict[str, Any]
) -> list[str]:
    """The high and low alarms target tracking keeps, made in the caller's name."""
    tag = secrets.token_hex(16)
    names = [f"TargetTracking-{target.resource_id}-Alarm{side}-{tag}" for side in ("High", "Low")]
    arns = [aws_cloudwatch.alarm_arn(ctx.region, ctx.account, n) for n in names]
    _require(ctx, [("cloudwatch:PutMetricAlarm", arn, {}) for arn in arns])
    config = p["TargetTrackingScalingPolicyConfiguration"]
    component = target.resource_id.partition("/")[2]
    for name, arn, op in zip(names, arns, ("GreaterThanThreshold", "LessThanThreshold"),
                             strict=True):  # fmt: skip
        body = {"AlarmName": name, "Namespace": "AWS/SageMaker", "MetricName": "TargetTracking",
                "Dimensions": [{"Name": "InferenceComponentName", "Value": component}],
                "Threshold": float(config["TargetValue"]), "ComparisonOperator": op,
                "EvaluationPeriods": 3, "Period": 60, "Statistic": "Average",
                "AlarmActions": [policy_arn]}  # fmt: skip
        ctx.state.alarms[(ctx.region, name)] = Alarm(name, arn, body, ctx.now)
    return names


def describe_scaling_policies(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    names = p.get("PolicyNames")
    rows: list[dict[str, Any]] = []
    for (r, _), policy in sorted(ctx.state.scaling_policies.items()):
        if r != ctx.region or p.get("ResourceId") not in (None, policy.resource_id):
            continue
        if names is not None and policy.name not in names:
            continue
        configs = {k: v for k, v in policy.body.items() if k.endswith("PolicyConfiguration")}
        alarms = [{"AlarmName": n, "AlarmARN": aws_cloudwatch.alarm_arn(r, ctx.account, n)}
                  for n in policy.alarms]  # fmt: skip
        rows.append({"PolicyARN": policy.arn, "PolicyName": policy.name,
                     "ServiceNamespace": "sagemaker", "ResourceId": policy.resource_id,
                     "ScalableDimension": policy.dimension, "PolicyType": policy.kind,
                     "Alarms": alarms, "CreationTime": policy.created, **configs})  # fmt: skip
    return _page(rows, p, "ScalingPolicies")


def delete_scaling_policy(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    key = next((k for k, v in ctx.state.scaling_policies.items() if k[0] == ctx.region
                and v.resource_id == p["ResourceId"] and v.name == p["PolicyName"]), None)  # fmt: skip
    if key is None:
        raise AwsError("ObjectNotFoundException", f"No scaling policy found for service "
                       f"namespace: {p['ServiceNamespace']}, resource ID: {p['ResourceId']}, "
                       f"scalable dimension: {p['ScalableDimension']}, policy name: "
                       f"{p['PolicyName']}")  # fmt: skip
    arns = [aws_cloudwatch.alarm_arn(ctx.region, ctx.account, n)
            for n in ctx.state.scaling_policies[key].alarms]  # fmt: skip
    _require(ctx, [("cloudwatch:DeleteAlarms", arn, {}) for arn in arns])
    _drop_policy(ctx, key)
    return {}


HANDLERS: dict[str, Callable[[Ctx, dict[str, Any]], dict[str, Any]]] = {
    "RegisterScalableTarget": register_scalable_target,
    "DescribeScalableTargets": describe_scalable_targets,
    "DeregisterScalableTarget": deregister_scalable_target,
    "PutScalingPolicy": put_scaling_policy,
    "DescribeScalingPolicies": describe_scaling_policies,
    "DeleteScalingPolicy": delete_scaling_policy,
}


# ---- the world: alarms run step policies; target tracking scales in ---------------------
def _run_step_policies(ctx: Ctx, actions: list[str]) -> None:
    """Each action that is a step policy of this region: copies + its adjustment."""
    for arn in actions:
        policy = ctx.state.scaling_policies.get((ctx.region, arn))
        target = (
            ctx.state.scalable_targets.get((ctx.region, policy.resource_id)) if policy else None
        )
        if policy is None or target is None or policy.kind != "StepScaling":
            continue
        ic = ctx.state.inference_components.get((ctx.region, target.resource_id.partition("/")[2]))
        if ic is None:
            continue
        config = policy.body["StepScalingPolicyConfiguration"]
        step = int(config["StepAdjustments"][0]["ScalingAdjustment"])
        wanted = {"ExactCapacity": step,
                  "PercentChangeInCapacity": ic.copies + -(-ic.copies * step // 100)}.get(
            config["AdjustmentType"], ic.copies + step)  # fmt: skip
        copies = max(target.min_capacity, min(target.max_capacity, wanted))
        aws_sagemaker.set_copies(ic, copies, ctx.state.ready_after)


def scale_in(state: AwsState, region: str, name: str) -> int:
    """What a target-tracking policy does once its scale-in cooldown passed without load:
    the component's copies go to its target's minimum (0: the endpoint's instances follow).
    The copies now; LookupError when no such policy could scale it in."""
    resource_id = f"inference-component/{name}"
    target = state.scalable_targets.get((region, resource_id))
    tracking = [p for (r, _), p in state.scaling_policies.items() if r == region
                and p.resource_id == resource_id and p.kind == "TargetTrackingScaling"
                and not p.body["TargetTrackingScalingPolicyConfiguration"].get("DisableScaleIn")]  # fmt: skip
    ic = state.inference_components.get((region, name))
    if target is None or not tracking or ic is None:
        raise LookupError(f"no target-tracking policy can scale {name} in (in {region})")
    aws_sagemaker.set_copies(ic, target.min_capacity, 0)
    return ic.current


def invoke_endpoint(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    """InvokeEndpoint: an inference-component endpoint needs the component named, and one
    with no copy running answers "no capacity" (and wakes its alarm); the rest is SageMaker's
    own answer."""
    e = ctx.state.endpoints.get((ctx.region, p["EndpointName"]))
    if e is not None and e.status == "InService" and aws_sagemaker.component_endpoint(ctx, e):
        name = p.get("InferenceComponentName")
        ic = ctx.state.inference_components.get((ctx.region, name or ""))
        if ic is None or ic.endpoint_name != e.name:
            raise AwsError("ValidationError", "Inference Component Name header is required for "
                           "endpoints to which you plan to deploy inference components. Please "
                           "include Inference Component Name header or consider using SageMaker "
                           "models." if not name else f"Inference Component {name} was not found "
                           f"on endpoint {e.name}.")  # fmt: skip
        dims = {"InferenceComponentName": ic.name}
        if ic.status != "InService" or ic.current < 1:
            _run_step_policies(ctx, aws_cloudwatch.breach(
                ctx.state, ctx.region, "AWS/SageMaker", "NoCapacityInvocationFailures", dims))  # fmt: skip
            raise AwsError("ValidationError", _NO_CAPACITY)
        aws_cloudwatch.settle(ctx.state, ctx.region, "AWS/SageMaker",
                              "NoCapacityInvocationFailures", dims)  # fmt: skip
    return aws_sagemaker.invoke_endpoint(ctx, p)


def invoke_needs(ctx: Ctx, p: dict[str, Any]) -> Needs:
    """InvokeEndpoint is authorised on the endpoint, and on the component it names."""
    needs = aws_sagemaker.NEEDS["InvokeEndpoint"](ctx, p)
    if name := p.get("InferenceComponentName"):
        needs.append(("sagemaker:InvokeEndpoint",
                      ctx.arn("sagemaker", f"inference-component/{name.lower()}"), {}))  # fmt: skip
    return needs
