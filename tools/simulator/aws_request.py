"""A request to the AWS fake, read as AWS reads it: which service (the signature's scope)
and operation (X-Amz-Target, the form's Action, or the REST path), whether the signature
holds for the key's secret and the session is live, and its parameters checked against
botocore's model of the operation. Every refusal is AWS's own code for the protocol."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from typing import Any, cast
from urllib.parse import parse_qsl

from tools.simulator._base import FakeRequest
from tools.simulator.aws_sigv4 import expected_signature, read_authorization
from tools.simulator.aws_state import AwsAccount, AwsState
from tools.simulator.aws_wire import (
    AwsError,
    Protocol,
    check,
    operation,
    parse_query,
    service_model,
)

__all__ = ["SERVICES", "Supported", "authenticate", "codes", "read_params"]

Supported = Mapping[str, Collection[str]]  # model name -> the operations the fake serves

# The signature's service name -> botocore's model name.
SERVICES = {"sts": "sts", "iam": "iam", "sagemaker": "sagemaker", "ecr": "ecr",
            "servicequotas": "service-quotas", "pricing": "pricing",
            "application-autoscaling": "application-autoscaling", "monitoring": "cloudwatch"}  # fmt: skip

# Per protocol: (unknown key, bad signature, expired token, denied, throttled, invalid).
_CODES = {
    "query": (("InvalidClientTokenId", 403), ("SignatureDoesNotMatch", 403),
              ("ExpiredToken", 403), ("AccessDenied", 403), ("Throttling", 400),
              ("ValidationError", 400)),
    "json": (("UnrecognizedClientException", 400), ("InvalidSignatureException", 403),
             ("ExpiredTokenException", 400), ("AccessDeniedException", 400),
             ("ThrottlingException", 400), ("ValidationException", 400)),
}  # fmt: skip


def codes(protocol: Protocol) -> tuple[tuple[str, int], ...]:
    return _CODES["query" if protocol == "query" else "json"]


def authenticate(
    state: AwsState,
    req: FakeRequest,
    protocol: Protocol,
    violations: list[str],
    supported: Supported,
) -> tuple[str, Any, AwsAccount, str]:
    """The service, operation, caller and region of a request whose signature holds."""
    refusals = codes(protocol)
    signed = read_authorization(req.headers.get("authorization", ""))
    if signed is None or "x-amz-date" not in req.headers:
        raise AwsError("MissingAuthenticationToken", "Missing Authentication Token", 403)
    service = SERVICES.get(signed.service, "")
    service = "sagemaker-runtime" if protocol == "rest-json" and service == "sagemaker" else service
    op = _operation(req, protocol, service, violations, supported)
    account = state.accounts.get(signed.key_id)
    token = req.headers.get("x-amz-security-token")
    if account is None or account.session_token != token:
        raise AwsError(
            refusals[0][0], "The security token included in the request is invalid.", refusals[0][1]
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
            refusals[1][0],
            "The request signature we calculated does not match the "
            "signature you provided. Check your AWS Secret Access Key and signing method.",
            refusals[1][1],
        )
    if account.expired:
        raise AwsError(
            refusals[2][0], "The security token included in the request is expired", refusals[2][1]
        )
    return service, op, account, signed.region


def _operation(
    req: FakeRequest, protocol: Protocol, service: str, violations: list[str], supported: Supported
) -> Any:
    if service not in supported:
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
    if op is None or name not in supported[service]:
        violations.append(f"{service}: unknown or unsupported operation {name!r}")
        code = "InvalidAction" if protocol == "query" else "UnknownOperationException"
        raise AwsError(code, f"Could not find operation {name}", 400)
    return op


def read_params(
    req: FakeRequest, protocol: Protocol, service: str, op: Any, violations: list[str]
) -> dict[str, Any]:
    """The request's parameters, checked against the operation's input shape."""
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
        violations.extend([f"{service}:{op.name}: {p}" for p in problems])
        code, status = codes(protocol)[5]
        raise AwsError(
            code,
            f"{len(problems)} validation error(s) detected: " + "; ".join(problems),
            status,
        )
    return params
