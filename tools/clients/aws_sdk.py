"""The typed edge of boto3 (which ships no type information): keys, one botocore client per
service, region, endpoint and keys, and each operation run in a worker thread.

```
AwsKeys(access_key_id, secret_access_key, session_token?, expires_at?)   never in a repr
open_client(service, region=, endpoint_url=, keys=, timeout_s=) -> SdkClient
SdkClient.call("create_model", {...}) -> dict        raises AwsFault (not yet mapped)
```

boto3 and botocore are imported inside these functions only: they take a third of a
second and tens of MB to load, and nothing on the start path of `kriptik serve` may load
them (`tests/clients/test_aws_start_path.py`). botocore's own retries are off, so our
`Retry` policy (on an injectable clock) decides; its DEBUG log is off too, because it
prints each signed request's headers, the session token among them.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, cast

from pydantic import SecretStr

from vault.redact import REDACTOR

__all__ = ["AwsFault", "AwsKeys", "FaultKind", "SdkClient", "open_client"]

FaultKind = Literal["error", "timeout", "unreachable", "invalid"]
_lock = threading.Lock()
_shared: list[Any] = []  # the process's one boto3 Session (its loaders cache the models)


@dataclass(frozen=True, kw_only=True)
class AwsKeys:
    """One set of AWS credentials: an access key pair, or an assumed role's session.

    Attributes:
        access_key_id: AKIA... (long-term) or ASIA... (temporary).
        secret_access_key: The secret key.
        session_token: Temporary credentials' token.
        expires_at: When temporary credentials stop working (None: long-term).
    """

    access_key_id: str
    secret_access_key: SecretStr
    session_token: SecretStr | None = None
    expires_at: datetime | None = None

    def __repr__(self) -> str:
        tail = self.access_key_id[-4:]
        return f"AwsKeys(access_key_id='…{tail}', temporary={self.session_token is not None})"

    __str__ = __repr__

    def secrets(self) -> list[str]:
        """The plaintext values that must never appear in logs, errors or reprs."""
        found = [self.secret_access_key.get_secret_value()]
        return found + ([self.session_token.get_secret_value()] if self.session_token else [])


class AwsFault(Exception):
    """A failed call, before `tools.clients.aws_errors` turns it into a `ProviderError`.

    Attributes:
        kind: "error" (AWS answered with an error code), "timeout", "unreachable" (no
            answer) or "invalid" (botocore refused the parameters before sending).
        code: AWS's error code (`ThrottlingException`, `ValidationException`, ...).
        message: AWS's error message, or botocore's (never carries a key).
        status: The HTTP status (0 when none came back).
        request_id: AWS's request id, for support.
        request_sent: False when the request provably never reached AWS.
    """

    def __init__(
        self,
        kind: FaultKind,
        code: str,
        message: str,
        *,
        status: int = 0,
        request_id: str | None = None,
        request_sent: bool = True,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.kind, self.code, self.message = kind, code, message
        self.status, self.request_id, self.request_sent = status, request_id, request_sent


class SdkClient:
    """One botocore client (thread-safe); `call` runs one operation in a worker thread."""

    def __init__(self, raw: object, service: str) -> None:
        self._raw = raw
        self.service = service

    def __repr__(self) -> str:
        return f"SdkClient({self.service!r})"

    async def call(self, operation: str, params: Mapping[str, object]) -> dict[str, Any]:
        """Run `operation` (the client's snake_case method, e.g. "create_model")."""
        return await asyncio.to_thread(self._call, operation, dict(params))

    def _call(self, operation: str, params: dict[str, object]) -> dict[str, Any]:
        from botocore import exceptions as bx  # pyright: ignore[reportMissingTypeStubs]

        method = getattr(self._raw, operation)
        try:
            out = cast("dict[str, Any]", method(**params))
            # A payload (InvokeEndpoint's Body) is a stream: read it here, off the loop.
            return {k: v.read() if hasattr(v, "read") else v for k, v in out.items()}
        except bx.ClientError as err:
            raise _client_fault(cast("dict[str, Any]", err.response)) from None
        except bx.ParamValidationError as err:
            raise AwsFault("invalid", "ParamValidation", str(err), request_sent=False) from None
        except (bx.ConnectTimeoutError, bx.EndpointConnectionError) as err:
            kind: FaultKind = (
                "timeout" if isinstance(err, bx.ConnectTimeoutError) else "unreachable"
            )
            raise AwsFault(kind, type(err).__name__, "no connection", request_sent=False) from None
        except bx.ReadTimeoutError:
            raise AwsFault("timeout", "ReadTimeout", "no answer in time") from None
        except (bx.ConnectionClosedError, bx.HTTPClientError) as err:
            raise AwsFault("unreachable", type(err).__name__, "connection dropped") from None

    def close(self) -> None:
        close = getattr(self._raw, "close", None)
        if callable(close):
            close()


def _client_fault(response: dict[str, Any]) -> AwsFault:
    error = cast("dict[str, Any]", response.get("Error") or {})
    meta = cast("dict[str, Any]", response.get("ResponseMetadata") or {})
    return AwsFault(
        "error",
        str(error.get("Code") or "Unknown"),
        str(error.get("Message") or ""),
        status=int(meta.get("HTTPStatusCode") or 0),
        request_id=meta.get("RequestId"),
    )


def _session() -> Any:
    """The process's one boto3 Session, made on first use (under `_lock`)."""
    if not _shared:
        import boto3.session  # pyright: ignore[reportMissingTypeStubs]

        _shared.append(boto3.session.Session())
    return _shared[0]


def _new_client(
    service: str, region: str, endpoint_url: str, keys: AwsKeys, timeout_s: float
) -> SdkClient:
    from botocore.config import Config  # pyright: ignore[reportMissingTypeStubs]

    config = Config(
        region_name=region,
        connect_timeout=timeout_s,
        read_timeout=timeout_s,
        retries={"total_max_attempts": 1, "mode": "standard"},
        user_agent_appid="kriptik",
        inject_host_prefix=False,
        ignore_configured_endpoint_urls=True,  # ours come from the settings, never ~/.aws
    )
    token = keys.session_token.get_secret_value() if keys.session_token else None
    for secret in keys.secrets():  # masked in any log line or error that might carry it
        REDACTOR.register(secret)
    # botocore logs each signed request's headers (the session token among them) at DEBUG:
    # never below INFO, whoever turned it on.
    botocore_log = logging.getLogger("botocore")
    botocore_log.setLevel(max(botocore_log.level, logging.INFO))
    with _lock:  # a boto3 Session is not thread-safe; the clients it makes are
        raw = _session().client(
            service,
            region_name=region,
            endpoint_url=endpoint_url,
            config=config,
            aws_access_key_id=keys.access_key_id,
            aws_secret_access_key=keys.secret_access_key.get_secret_value(),
            aws_session_token=token,
        )
    return SdkClient(raw, service)


async def open_client(
    service: str, *, region: str, endpoint_url: str, keys: AwsKeys, timeout_s: float = 30.0
) -> SdkClient:
    """A client for `service` ("sts", "sagemaker", "ecr", ...) in `region`, sending to
    `endpoint_url` with `keys`. Built in a worker thread: loading a service model takes
    tens of milliseconds."""
    return await asyncio.to_thread(_new_client, service, region, endpoint_url, keys, timeout_s)
