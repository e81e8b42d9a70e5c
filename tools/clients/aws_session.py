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
from datetime import timedelta
from typing import Any

from tools.clients._http import Retry, with_retry
from tools.clients.aws_credentials import (
    AwsCredential,
    AwsKeyCredential,
    check_region,
    new_external_id,
)
from tools.clients.aws_endpoints import AwsEndpoints, AwsService, operator_keys
from tools.clients.aws_errors import AWS, ErrorContext, RoleNotAssumable, SessionExpired, aws_error
from tools.clients.aws_sdk import AwsFault, AwsKeys, SdkClient, open_client
from tools.clients.aws_sts import AwsIdentity, AwsStsClient
from vault.settings import Settings

__all__ = ["AwsEndpoints", "AwsService", "AwsSession", "operator_keys"]

_RENEW_BEFORE = timedelta(minutes=5)
# Service Quotas' code of each service, for the link a quota error gives.
_QUOTA_CODE = {"ecr": "ecr", "sagemaker-runtime": "sagemaker"}


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
        self.renewals += 1
        return await self._operator_sts().assume_role(
            credential.role_arn, external_id=credential.external_id, session_name=self._session_name
        )

    async def external_id_enforced(self) -> bool:
        """Whether the role refuses KripTik without the user's external id.

        The role is assumed once with a random external id, which a correct trust policy
        refuses. A role that accepts it could be used by anyone's KripTik account (the
        confused deputy), so it is not accepted. Keys have no trust policy: True.
        """
        credential = self.credential
        if isinstance(credential, AwsKeyCredential):
            return True
        try:
            await self._operator_sts().assume_role(
                credential.role_arn, external_id=new_external_id(), session_name="kriptik-probe"
            )
        except RoleNotAssumable:
            return True
        return False

    def _operator_sts(self) -> AwsStsClient:
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
        return self._sts

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
