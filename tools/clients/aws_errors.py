"""AWS's error codes as our `ProviderError` tree, each with the user's next step.

```
InvalidClientTokenId, SignatureDoesNotMatch, ...  -> AuthError          (new key)
ExpiredToken, ExpiredTokenException                -> SessionExpired     (assume the role again)
AssumeRole: AccessDenied                           -> RoleNotAssumable   (trust policy, external id)
AccessDenied... mentioning iam:PassRole             -> PassRoleDenied     (the execution role)
AccessDenied, AccessDeniedException,
  "... is not authorized to perform ..."           -> ProviderPermissionError
Throttling, ThrottlingException, ...               -> RateLimited
ResourceLimitExceeded, LimitExceededException,
  ServiceQuotaExceededException                    -> QuotaExceeded      (Service Quotas link)
ValidationException "Could not find ...",
  *NotFound*                                       -> NotFound
ValidationException "... already existing ...",
  ResourceInUse, RepositoryAlreadyExistsException  -> Conflict
other 4xx                                          -> InvalidRequest
5xx, InternalFailure, ServiceUnavailable           -> Upstream
```

Messages quote AWS's own text only after scrubbing every secret of the call from it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypedDict

from tools.clients._messages import ProviderInfo, scrub
from tools.clients.aws_sdk import AwsFault
from tools.clients.errors import (
    AuthError,
    Conflict,
    InvalidRequest,
    NotFound,
    ProviderError,
    ProviderPermissionError,
    RateLimited,
    Timeout,
    Unreachable,
    Upstream,
)

__all__ = [
    "AWS",
    "ErrorContext",
    "PassRoleDenied",
    "QuotaExceeded",
    "RoleNotAssumable",
    "SessionExpired",
    "aws_error",
    "quotas_url",
]

AWS = ProviderInfo(
    name="AWS",
    keys_url="https://console.aws.amazon.com/iam/home#/security_credentials",
    status_url="https://health.aws.amazon.com/health/status",
)
_BAD_KEY = frozenset(
    {
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId",
        "UnrecognizedClientException",
        "IncompleteSignature",
        "MissingAuthenticationToken",
        "InvalidSignatureException",
    }
)
_EXPIRED = frozenset({"ExpiredToken", "ExpiredTokenException", "RequestExpired"})
_DENIED = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})
_THROTTLED = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ThrottledException",
        "SlowDown",
    }
)
_QUOTA = frozenset(
    {"ResourceLimitExceeded", "LimitExceededException", "ServiceQuotaExceededException"}
)
_CONFLICT = frozenset(
    {
        "ResourceInUse",
        "RepositoryAlreadyExistsException",
        "ConflictException",
        "EntityAlreadyExists",
        "ImageAlreadyExistsException",
    }
)
_DETAIL_MAX = 300


class SessionExpired(AuthError):
    """The temporary credentials expired; a role's are renewed by assuming it again."""


class RoleNotAssumable(ProviderPermissionError):
    """STS refused to let KripTik's principal assume the user's role."""


class PassRoleDenied(ProviderPermissionError):
    """The role may not pass the SageMaker execution role (`iam:PassRole`)."""


class QuotaExceeded(RateLimited):
    """An account quota (instances of a type, repositories) is used up; waiting does not
    raise it, so it is not retried. `quota_url` is where to ask for more."""

    retryable = False

    def __init__(
        self,
        message: str,
        *,
        quota_url: str,
        provider: str,
        status: int = 0,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message, provider=provider, status=status, request_id=request_id)
        self.quota_url = quota_url


class _Details(TypedDict):
    provider: str
    status: int
    request_id: str | None


@dataclass(frozen=True, kw_only=True)
class ErrorContext:
    """What a message names besides AWS's own words.

    Attributes:
        what: The resource or action, for messages ("the endpoint kriptik-abc").
        region: The call's region (the Service Quotas link is per region).
        service: The Service Quotas service code of the call ("sagemaker", "ecr").
        role_arn: The user's role, when KripTik works through one.
        execution_role_arn: The role SageMaker runs the model as.
        secrets: Every secret of the call, scrubbed from AWS's text.
    """

    what: str
    region: str = "us-east-1"
    service: str = "sagemaker"
    role_arn: str | None = None
    execution_role_arn: str | None = None
    secrets: Sequence[str] = ()


def quotas_url(region: str, service: str = "sagemaker") -> str:
    """The Service Quotas console page where the user asks for more of `service`."""
    return f"https://{region}.console.aws.amazon.com/servicequotas/home/services/{service}/quotas"


def aws_error(fault: AwsFault, ctx: ErrorContext) -> ProviderError:
    """The `ProviderError` for `fault`, with a message that says what to do next."""
    if fault.kind == "timeout":
        return Timeout(
            f"AWS did not answer in time while working on {ctx.what}. Try again in "
            f"a few minutes (status: {AWS.status_url}).",
            provider=AWS.name,
            request_sent=fault.request_sent,
        )
    if fault.kind == "unreachable":
        return Unreachable(
            f"Could not reach AWS for {ctx.what}. Check the network connection and try again.",
            provider=AWS.name,
            request_sent=fault.request_sent,
        )
    detail = _detail(fault.message, ctx.secrets)
    details = _Details(provider=AWS.name, status=fault.status, request_id=fault.request_id)
    code = fault.code
    if fault.kind == "invalid":
        return InvalidRequest(
            f"The request for {ctx.what} is not valid for AWS: {detail}. "
            "Correct the value it names and try again.",
            **details,
        )
    if code in _BAD_KEY:
        return AuthError(
            f"AWS rejected the access key ({code}). Create a new access key at "
            f"{AWS.keys_url}, then paste it here.",
            **details,
        )
    if code in _EXPIRED:
        return SessionExpired(
            f"AWS says the temporary credentials have expired ({code}). "
            "Paste fresh ones, or connect a role so KripTik can renew them "
            "itself.",
            **details,
        )
    if (
        code in _DENIED
        or code.startswith("AccessDenied")
        or "is not authorized to perform" in detail
    ):
        # Application Auto Scaling says a missing permission as a ValidationException.
        return _denied(code, detail, ctx, details)
    if code in _THROTTLED:
        return RateLimited(
            f"AWS is throttling requests ({code}) for {ctx.what}. Wait a minute and try again.",
            **details,
        )
    if code in _QUOTA:
        url = quotas_url(ctx.region, ctx.service)
        return QuotaExceeded(
            f"Your AWS account's quota does not allow {ctx.what} in "
            f"{ctx.region} ({code}: {detail}). Request an increase at {url}, "
            "or choose another instance type or region.",
            quota_url=url,
            **details,
        )
    return _by_status(fault, code, detail, ctx, details)


def _denied(code: str, detail: str, ctx: ErrorContext, details: _Details) -> ProviderError:
    if "iam:PassRole" in detail:
        role = ctx.execution_role_arn or "the SageMaker execution role"
        return PassRoleDenied(
            f"AWS refused to pass {role} to SageMaker ({code}: "
            f"iam:PassRole). Update your KripTik CloudFormation stack with "
            "the template KripTik generated (it allows passing exactly that "
            "role), then try again.",
            **details,
        )
    who = f"The role {ctx.role_arn}" if ctx.role_arn else "This access key"
    return ProviderPermissionError(
        f"AWS refused {ctx.what} ({code}: {detail}). {who} lacks "
        "the permission; update your KripTik CloudFormation stack "
        "with the template KripTik generated, or grant it, then try "
        "again.",
        **details,
    )


def _by_status(
    fault: AwsFault, code: str, detail: str, ctx: ErrorContext, details: _Details
) -> ProviderError:
    if (
        code.endswith(("NotFound", "NotFoundException"))
        or code == "NoSuchEntity"
        or (code == "ValidationException" and detail.startswith("Could not find"))
    ):
        return NotFound(
            f"AWS could not find {ctx.what} ({code}). It may have been deleted "
            "already; check the name and region.",
            **details,
        )
    if code in _CONFLICT or "already exist" in detail:
        return Conflict(
            f"{ctx.what} already exists in AWS ({code}). Reuse it, or delete it first.", **details
        )
    if fault.status >= 500 or code in {"InternalFailure", "ServiceUnavailable", "InternalError"}:
        return Upstream(
            f"AWS had a server error ({code}) while working on {ctx.what}. Try "
            f"again in a few minutes (status: {AWS.status_url}).",
            **details,
        )
    return InvalidRequest(
        f"AWS rejected the request for {ctx.what} ({code}: {detail}). "
        "Correct the value it names and try again.",
        **details,
    )


def _detail(message: str, secrets: Sequence[str]) -> str:
    text = scrub(re.sub(r"\s+", " ", message).strip(), secrets).rstrip(".")
    return text if len(text) <= _DETAIL_MAX else text[: _DETAIL_MAX - 1] + "…"
