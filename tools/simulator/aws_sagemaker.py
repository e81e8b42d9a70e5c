"""SageMaker in the AWS fake: models, endpoint configs, endpoints (Creating for
`state.ready_after` describes, then InService, or Failed with a reason from
`state.failing`), inference components, the List calls, and the runtime's
`InvokeEndpoint` (an echo, shaped like the Hugging Face LLM container's answer).

An endpoint whose config names no model hosts inference components: its instances are
managed (`ManagedInstanceScaling`) and follow the copies running on it, down to 0; a
component is created only on such an endpoint once it is InService, with accelerators
and memory that fit the instance type, and a change of its copies takes
`state.ready_after` describes to happen (scaling in is immediate).

SageMaker's own habits are kept: a missing resource is a `ValidationException` "Could not
find ...", a duplicate one "Cannot create already existing ...", and an endpoint beyond
the account's instance quota is `ResourceLimitExceeded` naming the quota.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, cast

from tools.simulator.aws_catalog import DEFAULT_QUOTAS, INSTANCES, REGIONS
from tools.simulator.aws_state import Ctx, Endpoint, InferenceComponent, Resource
from tools.simulator.aws_wire import AwsError

__all__ = ["HANDLERS", "NEEDS", "RUNTIME_HANDLERS", "component_endpoint", "instances",
           "set_copies"]  # fmt: skip

Needs = list[tuple[str, str, dict[str, str]]]
_PASSED = {"iam:PassedToService": "sagemaker.amazonaws.com"}
_KINDS = {"Model": ("models", "model"), "EndpointConfig": ("endpoint_configs", "endpoint-config"),
          "Endpoint": ("endpoints", "endpoint"),
          "InferenceComponent": ("inference_components", "inference-component")}  # fmt: skip
_WORDS = {"Model": "model", "EndpointConfig": "endpoint configuration", "Endpoint": "endpoint",
          "InferenceComponent": "inference component"}  # fmt: skip


def _rows(ctx: Ctx, kind: str) -> dict[tuple[str, str], Any]:
    return getattr(ctx.state, _KINDS[kind][0])


def _arn(ctx: Ctx, kind: str, name: str) -> str:
    return ctx.arn("sagemaker", f"{_KINDS[kind][1]}/{name.lower()}")


def _get(ctx: Ctx, kind: str, name: str) -> Any:
    row = _rows(ctx, kind).get((ctx.region, name))
    if row is None:
        raise AwsError("ValidationException",
                       f'Could not find {_WORDS[kind]} "{_arn(ctx, kind, name)}".')  # fmt: skip
    return row


def _new(ctx: Ctx, kind: str, name: str) -> str:
    if (ctx.region, name) in _rows(ctx, kind):
        raise AwsError("ValidationException", f"Cannot create already existing {_WORDS[kind]} "
                       f'"{_arn(ctx, kind, name)}".')  # fmt: skip
    return _arn(ctx, kind, name)


def create_model(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    arn = _new(ctx, "Model", p["ModelName"])
    ctx.state.models[(ctx.region, p["ModelName"])] = Resource(p["ModelName"], arn, p, ctx.now)
    return {"ModelArn": arn}


def create_endpoint_config(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    arn = _new(ctx, "EndpointConfig", p["EndpointConfigName"])
    for variant in p["ProductionVariants"]:
        if variant.get("ModelName"):
            _get(ctx, "Model", variant["ModelName"])
        elif not p.get("ExecutionRoleArn"):
            raise AwsError("ValidationException", "An endpoint configuration for inference "
                           "components (a variant without ModelName) requires ExecutionRoleArn.")  # fmt: skip
        kind = variant.get("InstanceType")
        if kind not in INSTANCES or ctx.region not in REGIONS:
            raise AwsError("ValidationException", f"The instance type {kind} is not supported "
                           f"for endpoints in {ctx.region}.")  # fmt: skip
        scaling: dict[str, Any] = variant.get("ManagedInstanceScaling") or {}
        if scaling.get("MinInstanceCount", 0) > scaling.get("MaxInstanceCount", 1):
            raise AwsError("ValidationException", "MinInstanceCount cannot exceed "
                           "MaxInstanceCount in ManagedInstanceScaling.")  # fmt: skip
    row = Resource(p["EndpointConfigName"], arn, p, ctx.now)
    ctx.state.endpoint_configs[(ctx.region, p["EndpointConfigName"])] = row
    return {"EndpointConfigArn": arn}


def _instances_in_use(ctx: Ctx, instance_type: str) -> int:
    used = 0
    for (region, _), endpoint in ctx.state.endpoints.items():
        config = ctx.state.endpoint_configs.get((region, endpoint.config_name))
        if region == ctx.region and config is not None and endpoint.status != "Failed":
            used += sum(v.get("InitialInstanceCount", 1) for v in config.body["ProductionVariants"]
                        if v.get("InstanceType") == instance_type)  # fmt: skip
    return used


def create_endpoint(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    name = p["EndpointName"]
    arn = _new(ctx, "Endpoint", name)
    config: Resource = _get(ctx, "EndpointConfig", p["EndpointConfigName"])
    for variant in config.body["ProductionVariants"]:
        kind, wanted = variant["InstanceType"], variant.get("InitialInstanceCount", 1)
        quota = ctx.state.quotas.get(kind, DEFAULT_QUOTAS.get(kind, 0))
        used = _instances_in_use(ctx, kind)
        if used + wanted > quota:
            raise AwsError("ResourceLimitExceeded", (
                f"The account-level service limit '{kind} for endpoint usage' is {quota} "
                f"Instances, with current utilization of {used} Instances and a request delta of "
                f"{wanted} Instances. Please use AWS Service Quotas to request an increase for "
                "this quota."))  # fmt: skip
    reason = ctx.state.failing.get(name) or next(
        (ctx.state.failing[m["PrimaryContainer"]["Image"]] for v in config.body["ProductionVariants"]
         if (m := _model_body(ctx, v)) and m["PrimaryContainer"]["Image"] in ctx.state.failing),
        None,
    )  # fmt: skip
    ctx.state.endpoints[(ctx.region, name)] = Endpoint(
        name, arn, p, ctx.now, config_name=config.name, polls_left=ctx.state.ready_after,
        failure_reason=reason, modified=ctx.now,
    )  # fmt: skip
    return {"EndpointArn": arn}


def _model_body(ctx: Ctx, variant: dict[str, Any]) -> dict[str, Any] | None:
    model = ctx.state.models.get((ctx.region, variant.get("ModelName", "")))
    return model.body if model is not None else None


def describe_endpoint(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    e: Endpoint = _get(ctx, "Endpoint", p["EndpointName"])
    if e.status == "Creating":
        if e.polls_left > 0:
            e.polls_left -= 1
        else:
            e.status, e.modified = ("Failed" if e.failure_reason else "InService"), ctx.now
    out = _endpoint_row(ctx, e) | {"EndpointConfigName": e.config_name}
    if e.status == "InService":
        out["ProductionVariants"] = _variants(ctx, e)
    return out | ({"FailureReason": e.failure_reason} if e.status == "Failed" else {})


def _config_variants(ctx: Ctx, e: Endpoint) -> list[dict[str, Any]]:
    config = ctx.state.endpoint_configs.get((ctx.region, e.config_name))
    return config.body["ProductionVariants"] if config is not None else []


def component_endpoint(ctx: Ctx, e: Endpoint) -> bool:
    """Whether `e` hosts inference components (its config's variants name no model)."""
    variants = _config_variants(ctx, e)
    return bool(variants) and not any(v.get("ModelName") for v in variants)


def instances(ctx: Ctx, e: Endpoint, variant: dict[str, Any]) -> int:
    """The variant's instances now: its initial count, or (managed instance scaling) what
    the copies running on it need, down to 0."""
    scaling: dict[str, Any] = variant.get("ManagedInstanceScaling") or {}
    components = [ic for (region, _), ic in ctx.state.inference_components.items()
                  if region == ctx.region and ic.endpoint_name == e.name
                  and ic.body.get("VariantName", "AllTraffic") == variant["VariantName"]]  # fmt: skip
    if scaling.get("Status") != "ENABLED" or not components:
        return int(variant.get("InitialInstanceCount", 1))
    gpus = INSTANCES[variant["InstanceType"]][0]
    needed = 0
    for ic in components:
        per_copy = ic.body["Specification"]["ComputeResourceRequirements"].get(
            "NumberOfAcceleratorDevicesRequired", 1)  # fmt: skip
        needed += -(-ic.current * int(per_copy) // gpus)  # whole instances, rounded up
    lo, hi = scaling.get("MinInstanceCount", 0), scaling.get("MaxInstanceCount", 1)
    return max(lo, min(hi, needed))


def _variants(ctx: Ctx, e: Endpoint) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for v in _config_variants(ctx, e):
        now = instances(ctx, e, v)
        row = {"VariantName": v["VariantName"], "CurrentInstanceCount": now,
               "DesiredInstanceCount": now}  # fmt: skip
        if v.get("ManagedInstanceScaling"):
            row["ManagedInstanceScaling"] = v["ManagedInstanceScaling"]
        if v.get("RoutingConfig"):
            row["RoutingConfig"] = v["RoutingConfig"]
        out.append(row)
    return out


def _endpoint_row(ctx: Ctx, e: Endpoint) -> dict[str, Any]:
    return {"EndpointName": e.name, "EndpointArn": e.arn, "EndpointStatus": e.status,
            "CreationTime": e.created, "LastModifiedTime": e.modified}  # fmt: skip


def _delete(kind: str) -> Callable[[Ctx, dict[str, Any]], dict[str, Any]]:
    def delete(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
        name = p[f"{kind}Name"]
        _get(ctx, kind, name)
        del _rows(ctx, kind)[(ctx.region, name)]
        return {}

    return delete


def create_inference_component(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    name = p["InferenceComponentName"]
    arn = _new(ctx, "InferenceComponent", name)
    endpoint: Endpoint = _get(ctx, "Endpoint", p["EndpointName"])
    spec: dict[str, Any] = p.get("Specification") or {}
    _get(ctx, "Model", spec.get("ModelName", ""))
    variant = _component_variant(ctx, endpoint, p.get("VariantName", "AllTraffic"))
    _check_fits(variant["InstanceType"], spec.get("ComputeResourceRequirements") or {})
    ctx.state.inference_components[(ctx.region, name)] = InferenceComponent(
        name, arn, p | {"VariantName": variant["VariantName"]}, ctx.now,
        endpoint_name=endpoint.name, polls_left=ctx.state.ready_after,
        copies=p["RuntimeConfig"]["CopyCount"],
    )  # fmt: skip
    return {"InferenceComponentArn": arn}


def _component_variant(ctx: Ctx, e: Endpoint, variant_name: str) -> dict[str, Any]:
    if e.status != "InService":
        raise AwsError("ValidationException", f'Endpoint "{e.arn}" is {e.status}; inference '
                       "components can be created only on an endpoint that is InService.")  # fmt: skip
    if not component_endpoint(ctx, e):
        raise AwsError("ValidationException", f'Endpoint "{e.arn}" serves a model of its own; '
                       "inference components need an endpoint config whose variant names no "
                       "model.")  # fmt: skip
    found = [v for v in _config_variants(ctx, e) if v["VariantName"] == variant_name]
    if not found:
        raise AwsError("ValidationException", f"Endpoint {e.name} has no variant {variant_name}.")
    return found[0]


def _check_fits(instance_type: str, needs: dict[str, Any]) -> None:
    gpus, _, _, _, memory_gib, _ = INSTANCES[instance_type]
    if needs.get("NumberOfAcceleratorDevicesRequired", 0) > gpus:
        raise AwsError("ValidationException", f"{instance_type} has {gpus} accelerator(s); the "
                       "inference component asks for "
                       f"{needs['NumberOfAcceleratorDevicesRequired']:g}.")  # fmt: skip
    if needs.get("MinMemoryRequiredInMb", 0) > memory_gib * 1024:
        raise AwsError("ValidationException", f"{instance_type} has {memory_gib} GiB of memory; "
                       f"the inference component asks for {needs['MinMemoryRequiredInMb']} MB.")  # fmt: skip


def describe_inference_component(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    ic: InferenceComponent = _get(ctx, "InferenceComponent", p["InferenceComponentName"])
    if ic.status == "Creating":
        ic.polls_left -= 1
        if ic.polls_left < 0:
            ic.status, ic.current = "InService", ic.copies
    elif ic.current != ic.copies:
        ic.scaling_polls -= 1
        if ic.scaling_polls < 0:
            ic.current = ic.copies
    endpoint = ctx.state.endpoints.get((ctx.region, ic.endpoint_name))
    return {"InferenceComponentName": ic.name, "InferenceComponentArn": ic.arn,
            "EndpointName": ic.endpoint_name, "EndpointArn": endpoint.arn if endpoint else "",
            "VariantName": ic.body["VariantName"], "InferenceComponentStatus": ic.status,
            "RuntimeConfig": {"DesiredCopyCount": ic.copies, "CurrentCopyCount": ic.current},
            "CreationTime": ic.created, "LastModifiedTime": ic.created}  # fmt: skip


def set_copies(ic: InferenceComponent, copies: int, polls: int) -> None:
    """Ask for `copies`: fewer happen at once; more start after `polls` describes."""
    ic.copies = copies
    if ic.status != "Creating":
        ic.current = min(ic.current, copies)
        ic.scaling_polls = polls


def update_runtime_config(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    ic: InferenceComponent = _get(ctx, "InferenceComponent", p["InferenceComponentName"])
    set_copies(ic, p["DesiredRuntimeConfig"]["CopyCount"], ctx.state.ready_after)
    return {"InferenceComponentArn": ic.arn}


def _lister(kind: str, key: str) -> Callable[[Ctx, dict[str, Any]], dict[str, Any]]:
    def listing(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
        rows = sorted((r for (region, _), r in _rows(ctx, kind).items() if region == ctx.region
                       and p.get("NameContains", "") in r.name), key=lambda r: r.name)  # fmt: skip
        start, size = int(p.get("NextToken") or 0), int(p.get("MaxResults") or 10)
        out: dict[str, Any] = {key: [_summary(ctx, kind, r) for r in rows[start : start + size]]}
        return out | ({"NextToken": str(start + size)} if start + size < len(rows) else {})

    return listing


def _summary(ctx: Ctx, kind: str, r: Any) -> dict[str, Any]:
    if kind == "Endpoint":
        return _endpoint_row(ctx, r)
    row = {f"{kind}Name": r.name, f"{kind}Arn": r.arn, "CreationTime": r.created}
    if kind == "InferenceComponent":
        endpoint = ctx.state.endpoints.get((ctx.region, r.endpoint_name))
        row |= {"EndpointName": r.endpoint_name, "EndpointArn": endpoint.arn if endpoint else "",
                "VariantName": r.body["VariantName"], "LastModifiedTime": r.created,
                "InferenceComponentStatus": r.status}  # fmt: skip
    return row


def invoke_endpoint(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    e = ctx.state.endpoints.get((ctx.region, p["EndpointName"]))
    if e is None or e.status != "InService":
        raise AwsError("ValidationError", f"Endpoint {p['EndpointName']} of account "
                       f"{ctx.account} not found.")  # fmt: skip
    try:
        request: object = json.loads(p.get("Body") or b"null")
    except ValueError:
        raise AwsError("ModelError", "Received client error (400) from primary with message "
                       '"the body is not JSON"', 424, OriginalStatusCode=400) from None  # fmt: skip
    text = cast("dict[str, object]", request).get("inputs") if isinstance(request, dict) else None
    if isinstance(text, str):
        request = [{"generated_text": f"{text} [simulated answer]"}]
    return {"Body": json.dumps(request).encode(), "ContentType": "application/json",
            "InvokedProductionVariant": "AllTraffic"}  # fmt: skip


HANDLERS: dict[str, Callable[[Ctx, dict[str, Any]], dict[str, Any]]] = {
    "CreateModel": create_model, "CreateEndpointConfig": create_endpoint_config,
    "CreateEndpoint": create_endpoint, "DescribeEndpoint": describe_endpoint,
    "DeleteEndpoint": _delete("Endpoint"), "DeleteEndpointConfig": _delete("EndpointConfig"),
    "DeleteModel": _delete("Model"), "CreateInferenceComponent": create_inference_component,
    "DescribeInferenceComponent": describe_inference_component,
    "UpdateInferenceComponentRuntimeConfig": update_runtime_config,
    "DeleteInferenceComponent": _delete("InferenceComponent"),
    "ListModels": _lister("Model", "Models"),
    "ListEndpointConfigs": _lister("EndpointConfig", "EndpointConfigs"),
    "ListEndpoints": _lister("Endpoint", "Endpoints"),
    "ListInferenceComponents": _lister("InferenceComponent", "InferenceComponents"),
}  # fmt: skip
RUNTIME_HANDLERS = {"InvokeEndpoint": invoke_endpoint}


def _needs(op: str, p: dict[str, Any], ctx: Ctx) -> Needs:
    """The IAM actions (and resources) one SageMaker call is authorised against."""
    if op.startswith("List"):
        return [(f"sagemaker:{op}", "*", {})]
    kind = next(k for k in sorted(_KINDS, key=len, reverse=True) if k in op)
    name = p.get(f"{kind}Name", "")
    needs: Needs = [(f"sagemaker:{op}", _arn(ctx, kind, name), {})]
    if role := p.get("ExecutionRoleArn"):
        needs.append(("iam:PassRole", role, _PASSED))
    if p.get("Tags"):
        needs.append(("sagemaker:AddTags", _arn(ctx, kind, name), {}))
    return needs


NEEDS: dict[str, Callable[[Ctx, dict[str, Any]], Needs]] = {
    op: (lambda ctx, p, op=op: _needs(op, p, ctx)) for op in [*HANDLERS, "InvokeEndpoint"]
}
