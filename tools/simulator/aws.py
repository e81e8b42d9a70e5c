"""AWS fake: STS, IAM's policy simulator, SageMaker, SageMaker Runtime, ECR, Service Quotas
and the Price List API on one loopback server, as boto3 calls them.

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
fake.throttle("sagemaker:DescribeEndpoint", times=2)     ThrottlingException / Throttling
fake.expire_sessions()                                   issued role sessions expire
fake.deny(ROLE_ARN, "iam:PassRole")                      an explicit Deny on the role
fake.fail_endpoint("kriptik-x" or image, "reason")       Creating -> Failed, FailureReason
fake.state.ready_after = 5                               polls an endpoint stays Creating
fake.state.quotas["ml.g5.xlarge"] = 0                    ResourceLimitExceeded on create
fake.state.roles[ROLE_ARN].external_id = "other"         AssumeRole: AccessDenied
fake.push_image(region, repository, tag) -> digest       what a docker push leaves in ECR
fake.state.resources() / resource_count()                what is left
```
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import parse_qsl

from starlette.responses import Response

from tools.simulator import aws_catalog, aws_ecr, aws_identity, aws_sagemaker
from tools.simulator._base import FakeProvider, FakeRequest, route
from tools.simulator.aws_sigv4 import expected_signature, read_authorization
from tools.simulator.aws_state import AwsAccount, AwsState, Ctx, decide
from tools.simulator.aws_wire import (
    AwsError,
    Protocol,
    check,
    error_response,
    operation,
    parse_query,
    service_model,
    success_response,
)

__all__ = ["AwsFake"]

Handler = Callable[[Ctx, dict[str, Any]], dict[str, Any]]
Needs = Callable[[Ctx, dict[str, Any]], list[tuple[str, str, dict[str, str]]]]
_SERVICES = {"sts": "sts", "iam": "iam", "sagemaker": "sagemaker", "ecr": "ecr",
             "servicequotas": "service-quotas", "pricing": "pricing"}  # fmt: skip
_HANDLERS: dict[str, dict[str, Handler]] = {
    "sts": aws_identity.HANDLERS, "iam": aws_identity.HANDLERS,
    "sagemaker": aws_sagemaker.HANDLERS, "sagemaker-runtime": aws_sagemaker.RUNTIME_HANDLERS,
    "ecr": aws_ecr.HANDLERS,
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
    **{f"ecr:{k}": v for k, v in aws_ecr.NEEDS.items()},
}
_protocol: ContextVar[Protocol] = ContextVar("aws_protocol", default="json")
# Per protocol: (unknown key, bad signature, expired token, denied, throttled, invalid).
_CODES = {
    "query": (("InvalidClientTokenId", 403), ("SignatureDoesNotMatch", 403),
              ("ExpiredToken", 403), ("AccessDenied", 403), ("Throttling", 400),
              ("ValidationError", 400)),
    "json": (("UnrecognizedClientException", 400), ("InvalidSignatureException", 403),
             ("ExpiredTokenException", 400), ("AccessDeniedException", 400),
             ("ThrottlingException", 400), ("ValidationException", 400)),
}  # fmt: skip


@dataclass
class OpFault:
    code: str
    message: str
    status: int
    times: int | None


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
        times: int | None = 1,
    ) -> None:  # fmt: skip
        """Answer "service:Operation" ("*" for any) with AWS's error `code`."""
        text = message or f"Injected {code}."
        self.op_faults.setdefault(op, []).append(OpFault(code, text, status, times))

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
            service, op, caller, region = self._authenticate(req, protocol)
            params = self._params(req, protocol, service, op)
            out = self._run(service, op, params, Ctx(self.state, region, caller))
        except AwsError as err:
            return error_response("query" if protocol == "query" else "json", err, request_id)
        if problems := check(op.output_shape, out) if op.output_shape is not None else []:
            self.violations += [f"{service}:{op.name} answer: {p}" for p in problems]
        return success_response(protocol, service, op, out, request_id)

    def _codes(self, protocol: Protocol) -> tuple[tuple[str, int], ...]:
        return _CODES["query" if protocol == "query" else "json"]

    def _authenticate(
        self, req: FakeRequest, protocol: Protocol
    ) -> tuple[str, Any, AwsAccount, str]:
        codes = self._codes(protocol)
        signed = read_authorization(req.headers.get("authorization", ""))
        if signed is None or "x-amz-date" not in req.headers:
            raise AwsError("MissingAuthenticationToken", "Missing Authentication Token", 403)
        service = _SERVICES.get(signed.service, "")
        service = (
            "sagemaker-runtime" if protocol == "rest-json" and service == "sagemaker" else service
        )
        op = self._operation(req, protocol, service)
        account = self.state.accounts.get(signed.key_id)
        token = req.headers.get("x-amz-security-token")
        if account is None or account.session_token != token:
            raise AwsError(
                codes[0][0], "The security token included in the request is invalid.", codes[0][1]
            )
        url = req.base_url + (req.raw.scope.get("raw_path", b"/").decode() or "/")
        headers = {k.lower(): v for k, v in req.headers.items()}
        if signed.signature != expected_signature(
            method="POST",
            url=url,
            headers=headers,
            body=req.body,
            signed=signed,
            secret=account.secret,
            token=token,
        ):
            raise AwsError(
                codes[1][0],
                "The request signature we calculated does not match the "
                "signature you provided. Check your AWS Secret Access Key and signing method.",
                codes[1][1],
            )
        if account.expired:
            raise AwsError(
                codes[2][0], "The security token included in the request is expired", codes[2][1]
            )
        return service, op, account, signed.region

    def _operation(self, req: FakeRequest, protocol: Protocol, service: str) -> Any:
        if service not in _HANDLERS:
            raise AwsError("UnknownService", f"no such service {service!r}", 400)
        if protocol == "query":
            name = dict(parse_qsl(req.body.decode())).get("Action", "")
        elif protocol == "json":
            prefix, _, name = req.headers.get("x-amz-target", "").partition(".")
            if prefix != service_model(service).metadata.get("targetPrefix"):
                name = ""
        else:
            name = "InvokeEndpoint"
        op = operation(service, name)
        if op is None or name not in _HANDLERS[service]:
            self.violations.append(f"{service}: unknown or unsupported operation {name!r}")
            code = "InvalidAction" if protocol == "query" else "UnknownOperationException"
            raise AwsError(code, f"Could not find operation {name}", 400)
        return op

    def _params(
        self, req: FakeRequest, protocol: Protocol, service: str, op: Any
    ) -> dict[str, Any]:
        if protocol == "query":
            form = dict(parse_qsl(req.body.decode(), keep_blank_values=True))
            params, used = parse_query(op.input_shape, form)
            extra = set(form) - used - {"Action", "Version"}
            problems = [f"unknown parameter {k!r}" for k in sorted(extra)]
            if form.get("Version") != service_model(service).api_version:
                problems.append(
                    f"Version {form.get('Version')!r} is not {service_model(service).api_version}"
                )
        elif protocol == "json":
            try:
                body: object = json.loads(req.body or b"{}")
            except ValueError:
                body = None
            problems = [] if isinstance(body, dict) else ["the body is not a JSON object"]
            params = cast("dict[str, Any]", body) if isinstance(body, dict) else {}
        else:
            params: dict[str, Any] = {"EndpointName": req.params["name"], "Body": req.body}
            for name, member in op.input_shape.members.items():
                if member.serialization.get("location") == "header" and (
                    v := req.headers.get(member.serialization["name"])
                ):
                    params[name] = v
            problems = []
        problems += check(op.input_shape, params) if op.input_shape is not None else []
        if problems:
            self.violations += [f"{service}:{op.name}: {p}" for p in problems]
            code, status = self._codes(protocol)[5]
            raise AwsError(
                code,
                f"{len(problems)} validation error(s) detected: " + "; ".join(problems),
                status,
            )
        return params

    def _run(self, service: str, op: Any, params: dict[str, Any], ctx: Ctx) -> dict[str, Any]:
        key = f"{service}:{op.name}"
        self._injected(key, ctx)
        policy = self.state.policy_of(ctx.caller)
        for action, resource, context in _NEEDS.get(key, _default_needs(service, op.name))(
            ctx, params
        ):
            if decide(policy, action, resource, context) != "allowed":
                code, status = self._codes("query" if service in {"sts", "iam"} else "json")[3]
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
                    code, status = self._codes(
                        "query" if key.startswith(("sts:", "iam:")) else "json"
                    )[4]
                    raise AwsError(code, fault.message, status)
                raise AwsError(fault.code, fault.message, fault.status)


def _default_needs(service: str, op: str) -> Needs:
    prefix = {"service-quotas": "servicequotas"}.get(service, service)
    free = service == "sts" and op == "GetCallerIdentity"  # needs no permission at all
    return lambda ctx, p: [] if free else [(f"{prefix}:{op}", "*", {})]
