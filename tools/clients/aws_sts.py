"""AWS STS through botocore: `GetCallerIdentity`, the free check of a key, and
`AssumeRole`, how KripTik's principal gets a user's short-lived role credentials.

`GetCallerIdentity` needs no IAM permission, so any working key passes and a revoked or
mistyped one fails. Errors: `AuthError` (InvalidClientTokenId, SignatureDoesNotMatch,
...), `SessionExpired` (ExpiredToken), `RoleNotAssumable` (AssumeRole refused: the role's
trust policy lacks KripTik's principal or the user's external id), `RateLimited` for
throttling, `Upstream` for 5xx (`tools.clients.aws_errors`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, SecretStr

from tools.clients._http import Retry, with_retry
from tools.clients.aws_errors import AWS, ErrorContext, RoleNotAssumable, aws_error
from tools.clients.aws_sdk import AwsFault, AwsKeys, SdkClient, open_client
from tools.clients.errors import ProviderPermissionError
from vault.redact import REDACTOR

__all__ = ["AWS", "AwsIdentity", "AwsStsClient", "sts_region"]


class AwsIdentity(BaseModel):
    model_config = ConfigDict(frozen=True)

    arn: str
    account: str
    user_id: str


def sts_region(base_url: str) -> str:
    """The signing region of an STS URL: a regional endpoint's own, else the global one's."""
    regional = re.search(r"//sts\.([a-z0-9-]+)\.amazonaws\.com", base_url)
    return regional.group(1) if regional else "us-east-1"


class AwsStsClient:
    """STS for one set of keys.

    Args:
        base_url: STS endpoint (settings: aws_sts_base_url), e.g. `https://sts.amazonaws.com`.
        keys: The caller's keys.
        timeout_s: Per-request timeout.
        retry: Retry policy for throttling and server errors (a fake clock in tests).
    """

    def __init__(
        self, *, base_url: str, keys: AwsKeys, timeout_s: float = 30.0, retry: Retry | None = None
    ) -> None:
        self._url, self._keys, self._timeout_s = base_url, keys, timeout_s
        self._retry = retry or Retry()
        self._client: SdkClient | None = None

    def __repr__(self) -> str:
        return f"AwsStsClient(base_url={self._url!r})"

    def close(self) -> None:
        """Close the client's connection pool."""
        if self._client is not None:
            self._client.close()

    async def caller_identity(self) -> AwsIdentity:
        """Who the keys belong to (`GetCallerIdentity`)."""
        out = await self._call("get_caller_identity", {}, what="the caller identity")
        return AwsIdentity(
            arn=str(out.get("Arn", "")),
            account=str(out.get("Account", "")),
            user_id=str(out.get("UserId", "")),
        )

    async def assume_role(
        self, role_arn: str, *, external_id: str, session_name: str, duration_s: int = 3600
    ) -> AwsKeys:
        """Short-lived credentials for `role_arn` (`AssumeRole` with the external id).

        Raises:
            RoleNotAssumable: STS refused: the role does not exist, or its trust policy
                does not name this principal with this external id.
        """
        params = {
            "RoleArn": role_arn,
            "RoleSessionName": session_name,
            "ExternalId": external_id,
            "DurationSeconds": duration_s,
        }
        try:
            out = await self._call("assume_role", params, what=f"assuming the role {role_arn}")
        except ProviderPermissionError as err:
            raise RoleNotAssumable(
                f"AWS would not let KripTik assume the role {role_arn} ({err.status}). Its "
                "trust policy must name KripTik's principal with your external id "
                f"{external_id}: create or update the CloudFormation stack from the template "
                "KripTik generated for you, then try again.",
                provider=AWS.name,
                status=err.status,
                request_id=err.request_id,
            ) from None
        return _keys(out.get("Credentials") or {})

    async def _call(
        self, operation: str, params: Mapping[str, object], *, what: str
    ) -> dict[str, Any]:
        if self._client is None:
            self._client = await open_client(
                "sts",
                region=sts_region(self._url),
                endpoint_url=self._url,
                keys=self._keys,
                timeout_s=self._timeout_s,
            )
        client = self._client
        ctx = ErrorContext(what=what, service="sts", secrets=self._keys.secrets())

        async def once() -> dict[str, Any]:
            try:
                return await client.call(operation, params)
            except AwsFault as fault:
                raise aws_error(fault, ctx) from None

        return await with_retry(once, retry=self._retry, idempotent=True, label=operation)


def _keys(creds: Mapping[str, Any]) -> AwsKeys:
    expires = creds.get("Expiration")
    keys = AwsKeys(
        access_key_id=str(creds.get("AccessKeyId", "")),
        secret_access_key=SecretStr(str(creds.get("SecretAccessKey", ""))),
        session_token=SecretStr(str(creds.get("SessionToken", ""))),
        expires_at=expires if isinstance(expires, datetime) else None,
    )
    for secret in keys.secrets():  # masked wherever a log line or an error might carry it
        REDACTOR.register(secret)
    return keys
