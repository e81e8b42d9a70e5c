"""AWS STS `GetCallerIdentity`: the free check of an access key, signed with SigV4 by hand.

`GetCallerIdentity` needs no IAM permission, so any working key passes and a revoked or
mistyped one fails. Signing is AWS Signature Version 4 over one small form POST, which
is cheap to do with `hmac` and `httpx` (no SDK here).

Errors: `AuthError` (InvalidClientTokenId, SignatureDoesNotMatch, ExpiredToken), else
the usual tree (`RateLimited` for Throttling, `Upstream` for 5xx).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Literal

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr

from tools.clients._http import HttpApi, Retry
from tools.clients._messages import ProviderInfo
from tools.clients.errors import AuthError

__all__ = ["AWS", "AwsIdentity", "AwsStsClient"]

AWS = ProviderInfo(
    name="AWS",
    keys_url="https://console.aws.amazon.com/iam/home#/security_credentials",
    status_url="https://health.aws.amazon.com/health/status",
)
_BODY = b"Action=GetCallerIdentity&Version=2011-06-15"
_FORM = "application/x-www-form-urlencoded; charset=utf-8"
_BAD_KEY = ("InvalidClientTokenId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidAccessKeyId")


class AwsIdentity(BaseModel):
    model_config = ConfigDict(frozen=True)

    arn: str
    account: str
    user_id: str


class AwsStsClient:
    """STS for one access key.

    Args:
        http: The process-wide HTTP client.
        base_url: STS endpoint (settings: aws_sts_base_url), e.g. `https://sts.amazonaws.com`.
        access_key_id: The key id (AKIA... or ASIA...).
        secret_access_key: The secret key.
        session_token: For temporary (ASIA...) keys.
        timeout_s: Per-request timeout.
        retry: Retry policy (a fake clock in tests; its clock also dates the signature).
    """

    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        base_url: str,
        access_key_id: str,
        secret_access_key: SecretStr,
        session_token: SecretStr | None = None,
        timeout_s: float = 30.0,
        retry: Retry | None = None,
    ) -> None:
        self._api = HttpApi(
            http=http, base_url=base_url, info=AWS, token=None, timeout_s=timeout_s, retry=retry
        )
        self._key_id, self._secret, self._session = access_key_id, secret_access_key, session_token
        host = httpx.URL(self._api.base_url).host
        regional = re.fullmatch(r"sts\.([a-z0-9-]+)\.amazonaws\.com", host)
        self._region = regional.group(1) if regional else "us-east-1"  # the global endpoint's

    def __repr__(self) -> str:
        return f"AwsStsClient(base_url={self._api.base_url!r})"

    async def caller_identity(self) -> AwsIdentity:
        """Who the key belongs to (`GetCallerIdentity`)."""
        resp, _ = await self._api.exchange(
            "POST", "/", content=_BODY, headers=self._signed_headers(), ok={200, 400, 403},
            parse=False, idempotent=True, what="the caller identity",
        )  # fmt: skip
        text = resp.text
        if resp.status_code != 200:
            code = _tag(text, "Code")
            if code in _BAD_KEY:
                raise AuthError(
                    f"AWS rejected the access key ({code}). Create a new access key at "
                    f"{AWS.keys_url}, then paste it here.",
                    provider=AWS.name,
                    status=resp.status_code,
                    request_id=_tag(text, "RequestId"),
                )
            raise self._api.error_from(resp, "the caller identity")
        return AwsIdentity(
            arn=_tag(text, "Arn") or "",
            account=_tag(text, "Account") or "",
            user_id=_tag(text, "UserId") or "",
        )

    def _signed_headers(self) -> dict[str, str]:
        now = self._api.retry.clock()
        stamp, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
        host = httpx.URL(self._api.base_url).netloc.decode()
        headers = {"content-type": _FORM, "host": host, "x-amz-date": stamp}
        if self._session is not None:
            headers["x-amz-security-token"] = self._session.get_secret_value()
        signed = ";".join(sorted(headers))
        canonical = "\n".join([
            "POST", "/", "", *(f"{k}:{headers[k]}" for k in sorted(headers)), "", signed,
            hashlib.sha256(_BODY).hexdigest(),
        ])  # fmt: skip
        scope = f"{day}/{self._region}/sts/aws4_request"
        to_sign = (
            f"AWS4-HMAC-SHA256\n{stamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        )
        key = ("AWS4" + self._secret.get_secret_value()).encode()
        for part in (day, self._region, "sts", "aws4_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        auth = (
            f"AWS4-HMAC-SHA256 Credential={self._key_id}/{scope}, SignedHeaders={signed}, "
            f"Signature={signature}"
        )
        return {**{k: v for k, v in headers.items() if k != "host"}, "Authorization": auth}


def _tag(xml: str, name: Literal["Arn", "Account", "UserId", "Code", "RequestId"]) -> str | None:
    # A fixed, flat response: a regex reads it without an XML parser's attack surface.
    found = re.search(rf"<{name}>([^<]*)</{name}>", xml)
    return found.group(1) if found else None
