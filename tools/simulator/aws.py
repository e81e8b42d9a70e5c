"""AWS fake: STS, IAM's policy simulator, SageMaker, SageMaker Runtime, ECR, Service Quotas,
the Price List API, Application Auto Scaling and CloudWatch's alarms on one loopback
server, as boto3 calls them.

Every request goes through what AWS itself does, in order: the SigV4 `Authorization`
header is read and its signature recomputed with the secret this fake knows (wrong key:
`InvalidClientTokenId`/`UnrecognizedClientException`; wrong secret: `SignatureDoesNotMatch`/
`InvalidSignatureException`; an expired session: `ExpiredToken`/`ExpiredTokenException`);
the operation and its parameters are checked against botocore's service model (a problem
is a contract violation, answered with AWS's `ValidationException`); the caller's IAM
policy must allow each action on its resource (`AccessDenied...`, naming `iam:PassRole`
when that is what is missing); then the state changes, and the answer is checked against
the operation's output shape.

Knobs (each test starts from `reset()`):
```
fake.fail_op("sagemaker:CreateEndpoint", "ResourceLimitExceeded", times=1)  any AWS error
fake.fail_op("sagemaker-runtime:InvokeEndpoint", "ModelError", status=424,   and its extra
             fields={"OriginalStatusCode": 400, "OriginalMessage": "..."})  body fields (the
                                                         operation's error shape in botocore's
                                                         model must have them: else ValueError)
fake.throttle("sagemaker:DescribeEndpoint", times=2)     ThrottlingException / Throttling
fake.expire_sessions()                                   issued role sessions expire
fake.deny(ROLE_ARN, "iam:PassRole")                      an explicit Deny on the role
fake.fail_endpoint("kriptik-x" or image, "reason")       Creating -> Failed, FailureReason
fake.state.ready_after = 5                               polls an endpoint stays Creating
fake.state.quotas["ml.g5.xlarge"] = 0                    ResourceLimitExceeded on create
fake.state.roles[ROLE_ARN].external_id = "other"         AssumeRole: AccessDenied
fake.push_image(region, repository, tag) -> digest       what a docker push leaves in ECR
fake.scale_in("kriptik-x")                               target tracking after its idle
                                                         cooldown: the inference component
                                                         to its minimum copies (0), the
                                                         endpoint's instances with it
fake.state.alarms[(region, name)].state                  an alarm's state (ALARM after an
                                                         invocation met no capacity)
fake.state.service_linked_roles                          made by RegisterScalableTarget
fake.state.resources() / resource_count()                what is left, scalable targets,
                                                         scaling policies and alarms too
```

An inference component at 0 copies answers InvokeEndpoint with "no capacity"; the
`NoCapacityInvocationFailures` alarm on it goes to ALARM and runs its step policy, and the
copies it adds start after `state.ready_after` DescribeInferenceComponent calls.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response

from tools.simulator import (
    aws_autoscaling,
    aws_catalog,
    aws_cloudwatch,
    aws_ecr,
    aws_identity,
    aws_sagemaker,
)
from tools.simulator._base import FakeProvider, FakeRequest, route
from tools.simulator.aws_request import authenticate, codes, read_params
from tools.simulator.aws_state import AwsAccount, AwsState, Ctx, decide
from tools.simulator.aws_wire import (
    AwsError,
    Protocol,
    check,
    check_error_fields,
    error_response,
    success_response,
)

__all__ = ["AwsFake"]

Handler = Callable[[Ctx, dict[str, Any]], dict[str, Any]]
Needs = Callable[[Ctx, dict[str, Any]], list[tuple[str, str, dict[str, str]]]]
_HANDLERS: dict[str, dict[str, Handler]] = {
    "sts": aws_identity.HANDLERS, "iam": aws_identity.HANDLERS,
    "sagemaker": aws_sagemaker.HANDLERS,
    "sagemaker-runtime": aws_sagemaker.RUNTIME_HANDLERS
    | {"InvokeEndpoint": aws_autoscaling.invoke_endpoint},
    "ecr": aws_ecr.HANDLERS, "application-autoscaling": aws_autoscaling.HANDLERS,
    "cloudwatch": aws_cloudwatch.HANDLERS,
    "service-quotas": {
        "ListServiceQuotas": lambda c, p: aws_catalog.list_service_quotas(c.state, c.region, p),
        "GetServiceQuota": lambda c, p: aws_catalog.get_service_quota(c.state, c.region, p),
    },
    "pricing": {"GetProducts": lambda c, p: aws_catalog.get_products(c.state, p)},
}  # fmt: skip
_NEEDS: dict[str, Needs] = {
    **{f"iam:{k}": v for k, v in aws_identity.NEEDS.items()},
    **{f"sts:{k}": v for k, v in aws_identity.NEEDS.items()},
    **{f"sagemaker:{k}": v for k, v in aws_sagemaker.NEEDS.items()},
    **{f"sagemaker-runtime:{k}": v for k, v in aws_sagemaker.NEEDS.items()},
    "sagemaker-runtime:InvokeEndpoint": aws_autoscaling.invoke_needs,
    **{f"ecr:{k}": v for k, v in aws_ecr.NEEDS.items()},
    **{f"cloudwatch:{k}": v for k, v in aws_cloudwatch.NEEDS.items()},
}
_protocol: ContextVar[Protocol] = ContextVar("aws_protocol", default="json")


@dataclass
class OpFault:
    code: str
    message: str
    status: int
    times: int | None
    fields: dict[str, object]


class AwsFake(FakeProvider):
    """The AWS services KripTik calls, on one loopback server (see the module docstring)."""

    name = "AWS"
    request_id_header = "x-amzn-requestid"

    def __init__(self) -> None:
        super().__init__(None)
        self.state = AwsState()
        self.op_faults: dict[str, list[OpFault]] = {}

    @property
    def accounts(self) -> dict[str, AwsAccount]:
        """Access keys the fake knows (the STS fake's `accounts`, kept for its tests)."""
        return self.state.accounts

    def reset_state(self) -> None:
        self.state = AwsState()
        self.op_faults = {}

    # ---- knobs --------------------------------------------------------------------------
    def fail_op(
        self, op: str, code: str, *, message: str | None = None, status: int = 400,
        times: int | None = 1, fields: dict[str, object] | None = None,
    ) -> None:  # fmt: skip
        """Answer "service:Operation" ("*" for any) with AWS's error `code`; `fields` are
        extra members of its body, checked against the operation's error shape `code` in
        botocore's model (ValueError for one it lacks, so a test cannot inject what AWS
        never sends)."""
        text = message or f"Injected {code}."
        if fields:
            service, _, name = op.partition(":")
            if service not in _HANDLERS or not name:
                raise ValueError(f"fields need one operation ('service:Operation'), not {op!r}")
            if problems := check_error_fields(service, name, code, fields):
                raise ValueError("; ".join(problems))
        fault = OpFault(code, text, status, times, dict(fields or {}))
        self.op_faults.setdefault(op, []).append(fault)

    def throttle(self, op: str, *, times: int | None = 1) -> None:
        """Throttle "service:Operation" with the protocol's own code and message."""
        self.fail_op(op, "__throttled__", message="Rate exceeded", times=times)

    def expire_sessions(self) -> int:
        return self.state.expire_sessions()

    def deny(self, role_arn: str, action: str, resource: str = "*") -> None:
        self.state.roles[role_arn].policy.append(
            {"Effect": "Deny", "Action": action, "Resource": resource}
        )

    def fail_endpoint(self, name_or_image: str, reason: str) -> None:
        self.state.failing[name_or_image] = reason

    def push_image(self, region: str, repository: str, tag: str) -> str:
        return aws_ecr.push_image(self.state, region, repository, tag)

    def scale_in(self, name: str, region: str = "us-east-1") -> int:
        """What the component's target-tracking policy does after its idle cooldown (see
        `aws_autoscaling.scale_in`); its copies now."""
        return aws_autoscaling.scale_in(self.state, region, name)

    # ---- the wire -----------------------------------------------------------------------
    def error(
        self, status: int, message: str, *, headers: dict[str, str] | None = None
    ) -> Response:
        code = {429: "ThrottlingException", 404: "UnknownOperationException"}.get(
            status, "InternalFailure" if status >= 500 else "ValidationException"
        )
        response = error_response(_protocol.get(), AwsError(code, message, status), "fault")
        response.headers.update(headers or {})
        return response

    @route("POST", "/")
    async def rpc(self, req: FakeRequest) -> Response:
        form = req.headers.get("content-type", "").startswith("application/x-www-form")
        return self._serve(req, "query" if form else "json")

    @route("POST", "/endpoints/{name}/invocations")
    async def runtime(self, req: FakeRequest) -> Response:
        return self._serve(req, "rest-json")

    def _serve(self, req: FakeRequest, protocol: Protocol) -> Response:
        _protocol.set(protocol)
        request_id = str(uuid.uuid4())
        try:
            service, op, caller, region = authenticate(
                self.state, req, protocol, self.violations, _HANDLERS
            )
            params = read_params(req, protocol, service, op, self.violations)
            out = self._run(service, op, params, Ctx(self.state, region, caller))
        except AwsError as err:
            response = error_response("query" if protocol == "query" else "json", err, request_id)
            if req.headers.get("x-amzn-query-mode") == "true":  # a query-era code, as AWS sends
                kind = "Sender" if err.status < 500 else "Receiver"
                response.headers["x-amzn-query-error"] = f"{err.code};{kind}"
            return response
        if problems := check(op.output_shape, out) if op.output_shape is not None else []:
            self.violations += [f"{service}:{op.name} answer: {p}" for p in problems]
        return success_response(protocol, service, op, out, request_id)

    def _run(self, service: str, op: Any, params: dict[str, Any], ctx: Ctx) -> dict[str, Any]:
        key = f"{service}:{op.name}"
        self._injected(key, ctx)
        policy = self.state.policy_of(ctx.caller)
        for action, resource, context in _NEEDS.get(key, _default_needs(service, op.name))(
            ctx, params
        ):
            if decide(policy, action, resource, context) != "allowed":
                code, status = codes("query" if service in {"sts", "iam"} else "json")[3]
                raise AwsError(
                    code,
                    f"User: {ctx.caller.arn} is not authorized to perform: {action} on "
                    f"resource: {resource} because no identity-based policy allows the "
                    f"{action} action",
                    status,
                )
        return _HANDLERS[service][op.name](ctx, params)

    def _injected(self, key: str, ctx: Ctx) -> None:
        for name in (key, "*"):
            queue = self.op_faults.get(name) or []
            if queue:
                fault = queue[0]
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        queue.pop(0)
                if fault.code == "__throttled__":
                    code, status = codes("query" if key.startswith(("sts:", "iam:")) else "json")[4]
                    raise AwsError(code, fault.message, status)
                raise AwsError(fault.code, fault.message, fault.status, **fault.fields)


def _default_needs(service: str, op: str) -> Needs:
    prefix = {"service-quotas": "servicequotas"}.get(service, service)
    free = service == "sts" and op == "GetCallerIdentity"  # needs no permission at all
    return lambda ctx, p: [] if free else [(f"{prefix}:{op}", "*", {})]
