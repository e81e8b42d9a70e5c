"""SageMaker in the AWS fake: models, endpoint configs, endpoints (Creating for
`state.ready_after` describes, then InService, or Failed with a reason from
`state.failing`), inference components, the List calls, and the runtime's
`InvokeEndpoint` (an echo, shaped like the Hugging Face LLM container's answer).

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

__all__ = ["HANDLERS", "NEEDS", "RUNTIME_HANDLERS"]

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
        kind = variant.get("InstanceType")
        if kind not in INSTANCES or ctx.region not in REGIONS:
            raise AwsError("ValidationException", f"The instance type {kind} is not supported "
                           f"for endpoints in {ctx.region}.")  # fmt: skip
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
    return out | ({"FailureReason": e.failure_reason} if e.status == "Failed" else {})


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
    _get(ctx, "Model", p["Specification"]["ModelName"])
    ctx.state.inference_components[(ctx.region, name)] = InferenceComponent(
        name, arn, p, ctx.now, endpoint_name=endpoint.name, polls_left=ctx.state.ready_after,
        copies=p["RuntimeConfig"]["CopyCount"],
    )  # fmt: skip
    return {"InferenceComponentArn": arn}


def describe_inference_component(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    ic: InferenceComponent = _get(ctx, "InferenceComponent", p["InferenceComponentName"])
    if ic.status == "Creating":
        ic.polls_left -= 1
        ic.status = "InService" if ic.polls_left < 0 else "Creating"
    endpoint = ctx.state.endpoints.get((ctx.region, ic.endpoint_name))
    return {"InferenceComponentName": ic.name, "InferenceComponentArn": ic.arn,
            "EndpointName": ic.endpoint_name, "EndpointArn": endpoint.arn if endpoint else "",
            "VariantName": ic.body["VariantName"], "InferenceComponentStatus": ic.status,
            "RuntimeConfig": {"DesiredCopyCount": ic.copies, "CurrentCopyCount": ic.copies},
            "CreationTime": ic.created, "LastModifiedTime": ic.created}  # fmt: skip


def update_runtime_config(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    ic: InferenceComponent = _get(ctx, "InferenceComponent", p["InferenceComponentName"])
    ic.copies = p["DesiredRuntimeConfig"]["CopyCount"]
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
