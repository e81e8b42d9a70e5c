"""One piece of work's access to a user's AWS account: the user's keys, or (preferred) the
user's role assumed by KripTik's own principal, renewed transparently when it expires.

```
session = AwsSession.from_settings(credential, settings=s, region="us-east-1",
                                   session_name="kriptik-dep-42")
await session.call("sagemaker", "describe_endpoint", {"EndpointName": ...},
                   what="the endpoint kriptik-x", idempotent=True) -> dict
await session.identity() -> AwsIdentity          await session.aclose()
```

A role's credentials come from STS `AssumeRole` (with the user's external id) on first use,
live only in this object (never stored), and are renewed before they expire and once more
when AWS answers `ExpiredToken`/`ExpiredTokenException` mid-work. Every endpoint URL comes
from the settings (`AwsEndpoints`), with `{region}` filled in; the region is always given.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from tools.clients._http import Retry, with_retry
from tools.clients.aws_credentials import AwsCredential, AwsKeyCredential, check_region
from tools.clients.aws_errors import AWS, ErrorContext, RoleNotAssumable, SessionExpired, aws_error
from tools.clients.aws_sdk import AwsFault, AwsKeys, SdkClient, open_client
from tools.clients.aws_sts import AwsIdentity, AwsStsClient, sts_region
from vault.settings import Settings

__all__ = ["AwsEndpoints", "AwsService", "AwsSession", "operator_keys"]

AwsService = Literal[
    "sts", "iam", "sagemaker", "sagemaker-runtime", "ecr", "service-quotas", "pricing"
]
_RENEW_BEFORE = timedelta(minutes=5)
# Service Quotas' code of each service, for the link a quota error gives.
_QUOTA_CODE = {"ecr": "ecr", "sagemaker-runtime": "sagemaker"}


@dataclass(frozen=True)
class AwsEndpoints:
    """Each service's URL (`{region}` is filled in per call), from the settings."""

    sts: str
    iam: str
    sagemaker: str
    sagemaker_runtime: str
    ecr: str
    service_quotas: str
    pricing: str

    @classmethod
    def from_settings(cls, s: Settings) -> AwsEndpoints:
        return cls(
            sts=s.aws_sts_base_url,
            iam=s.aws_iam_base_url,
            sagemaker=s.aws_sagemaker_base_url,
            sagemaker_runtime=s.aws_sagemaker_runtime_base_url,
            ecr=s.aws_ecr_base_url,
            service_quotas=s.aws_service_quotas_base_url,
            pricing=s.aws_pricing_base_url,
        )

    def url(self, service: AwsService, region: str) -> str:
        template: str = getattr(self, service.replace("-", "_"))
        return template.replace("{region}", region)

    def signing_region(self, service: AwsService, region: str) -> str:
        """IAM is global (us-east-1); the price list lives where its URL says."""
        if service == "sts":
            return sts_region(self.sts)
        if service == "iam":
            return "us-east-1"
        if service == "pricing":
            found = re.search(r"api\.pricing\.([a-z0-9-]+)\.", self.pricing)
            return found.group(1) if found else "us-east-1"
        return region


def operator_keys(s: Settings) -> AwsKeys | None:
    """KripTik's own principal (the one that assumes users' roles), if configured."""
    if not (s.aws_operator_access_key_id and s.aws_operator_secret_access_key):
        return None
    return AwsKeys(
        access_key_id=s.aws_operator_access_key_id,
        secret_access_key=s.aws_operator_secret_access_key,
        session_token=s.aws_operator_session_token,
    )


class AwsSession:
    """AWS access for one piece of work, in one region.

    Args:
        credential: The user's role or keys (`tools.clients.aws_credentials`).
        region: The region every regional call goes to.
        endpoints: Each service's URL.
        operator: KripTik's own keys, which assume a role (unused for keys).
        session_name: The role session's name (shows in the user's CloudTrail).
        timeout_s: Per-request timeout.
        retry: Retry policy and clock (renewal is timed on its clock).
    """

    def __init__(
        self,
        credential: AwsCredential,
        *,
        region: str,
        endpoints: AwsEndpoints,
        operator: AwsKeys | None = None,
        session_name: str = "kriptik",
        timeout_s: float = 30.0,
        retry: Retry | None = None,
    ) -> None:
        self.credential, self.region = credential, check_region(region)
        self._endpoints, self._operator, self._timeout_s = endpoints, operator, timeout_s
        self._session_name = re.sub(r"[^\w+=,.@-]", "-", session_name)[:64].ljust(2, "-")
        self._retry = retry or Retry()
        self._keys = credential.keys if isinstance(credential, AwsKeyCredential) else None
        self._clients: dict[AwsService, SdkClient] = {}
        self._sts: AwsStsClient | None = None  # the operator's, for AssumeRole
        self._lock = asyncio.Lock()
        self.renewals = 0  # how many times the role was assumed (tests, metrics)

    @classmethod
    def from_settings(
        cls,
        credential: AwsCredential,
        *,
        settings: Settings,
        region: str,
        session_name: str = "kriptik",
        retry: Retry | None = None,
    ) -> AwsSession:
        return cls(
            credential,
            region=region,
            endpoints=AwsEndpoints.from_settings(settings),
            operator=operator_keys(settings),
            session_name=session_name,
            timeout_s=settings.http_timeout_s,
            retry=retry,
        )

    def __repr__(self) -> str:
        kind = "keys" if isinstance(self.credential, AwsKeyCredential) else "role"
        return f"AwsSession({kind}, region={self.region!r})"

    @property
    def role_arn(self) -> str | None:
        return None if isinstance(self.credential, AwsKeyCredential) else self.credential.role_arn

    async def keys(self) -> AwsKeys:
        """The keys calls are signed with: a role's are assumed now if missing or expiring."""
        async with self._lock:
            keys = self._keys
            if keys is None or _expiring(keys, self._retry):
                keys = self._keys = await self._assume()
                self._clients.clear()
            return keys

    async def identity(self) -> AwsIdentity:
        """Who the calls run as (`GetCallerIdentity`: free, needs no permission)."""
        out = await self.call(
            "sts", "get_caller_identity", {}, what="the caller identity", idempotent=True
        )
        return AwsIdentity(
            arn=str(out.get("Arn", "")),
            account=str(out.get("Account", "")),
            user_id=str(out.get("UserId", "")),
        )

    async def call(
        self,
        service: AwsService,
        operation: str,
        params: Mapping[str, object],
        *,
        what: str,
        idempotent: bool,
        execution_role_arn: str | None = None,
    ) -> dict[str, Any]:
        """Run one operation (the boto3 method name), retried as `retry` allows.

        Raises:
            ProviderError: mapped by `tools.clients.aws_errors.aws_error`.
        """
        ctx = ErrorContext(
            what=what,
            region=self.region,
            service=_QUOTA_CODE.get(service, service),
            role_arn=self.role_arn,
            execution_role_arn=execution_role_arn,
        )

        async def once() -> dict[str, Any]:
            return await self._send(service, operation, params, ctx)

        label = f"{service}:{operation}"
        return await with_retry(once, retry=self._retry, idempotent=idempotent, label=label)

    async def _send(
        self, service: AwsService, operation: str, params: Mapping[str, object], ctx: ErrorContext
    ) -> dict[str, Any]:
        for attempt in (1, 2):
            keys = await self.keys()
            client = await self._client(service, keys)
            try:
                return await client.call(operation, params)
            except AwsFault as fault:
                err = aws_error(fault, _with_secrets(ctx, keys))
                if isinstance(err, SessionExpired) and self.role_arn and attempt == 1:
                    await self._expire(keys)
                    continue
                raise err from None
        raise AssertionError("unreachable")  # pragma: no cover

    async def _client(self, service: AwsService, keys: AwsKeys) -> SdkClient:
        client = self._clients.get(service)
        if client is None:
            client = await open_client(
                service,
                region=self._endpoints.signing_region(service, self.region),
                endpoint_url=self._endpoints.url(service, self.region),
                keys=keys,
                timeout_s=self._timeout_s,
            )
            self._clients[service] = client
        return client

    async def _expire(self, keys: AwsKeys) -> None:
        """AWS says `keys` expired: forget them (once, however many calls saw it)."""
        async with self._lock:
            if self._keys is keys:
                self._keys = None
                self._clients.clear()

    async def _assume(self) -> AwsKeys:
        credential = self.credential
        if isinstance(credential, AwsKeyCredential):  # keys never expire into a role
            return credential.keys
        if self._operator is None:
            raise RoleNotAssumable(
                "This KripTik server has no AWS principal of its own "
                "(KRIPTIK_AWS_OPERATOR_ACCESS_KEY_ID and KRIPTIK_AWS_OPERATOR_SECRET_ACCESS_KEY), "
                "so it cannot assume your role. Ask its operator to set them, or add an access "
                "key pair instead.",
                provider=AWS.name,
            )
        if self._sts is None:
            self._sts = AwsStsClient(
                base_url=self._endpoints.sts,
                keys=self._operator,
                timeout_s=self._timeout_s,
                retry=self._retry,
            )
        self.renewals += 1
        return await self._sts.assume_role(
            credential.role_arn, external_id=credential.external_id, session_name=self._session_name
        )

    async def aclose(self) -> None:
        """Close the clients' connection pools (the keys go with this object)."""
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()
        if self._sts is not None:
            self._sts.close()


def _expiring(keys: AwsKeys, retry: Retry) -> bool:
    return keys.expires_at is not None and keys.expires_at - _RENEW_BEFORE <= retry.clock()


def _with_secrets(ctx: ErrorContext, keys: AwsKeys) -> ErrorContext:
    return ErrorContext(
        what=ctx.what,
        region=ctx.region,
        service=ctx.service,
        role_arn=ctx.role_arn,
        execution_role_arn=ctx.execution_role_arn,
        secrets=keys.secrets(),
    )
