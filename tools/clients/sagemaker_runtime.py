"""SageMaker Runtime through boto3: one request to a live endpoint (`InvokeEndpoint`), for
the smoke test and for server-side calls, signed with the session's keys.

```
SageMakerRuntimeClient(session).invoke(endpoint, body, content_type=, accept=,
                                       inference_component=) -> Invocation(body, content_type)
```

The model container's own error comes back as `ModelError` (HTTP 424, with the
container's status and message) and a model still loading as `ModelNotReadyException`;
both are reported as `EndpointCallFailed` with what the container said. An inference
component scaled to zero copies answers a `ValidationError` saying it "has no capacity":
that is `NoCapacity` (its scale-out alarm is starting a copy; ask again in minutes).
"""

from __future__ import annotations

from dataclasses import dataclass

from tools.clients.aws_session import AwsSession
from tools.clients.errors import ProviderError, Upstream

__all__ = ["EndpointCallFailed", "Invocation", "NoCapacity", "SageMakerRuntimeClient"]

# SageMaker's words for an inference component with no copy running.
_NO_CAPACITY = "has no capacity"


class EndpointCallFailed(Upstream):
    """The endpoint answered, but its model did not (ModelError, ModelNotReadyException)."""


class NoCapacity(EndpointCallFailed):
    """The inference component runs no copy now (scaled to zero): nothing answered, and
    SageMaker counts the request as a `NoCapacityInvocationFailures`, which is what wakes
    it. Not retried here: a copy takes minutes to start."""

    retryable = False


@dataclass(frozen=True)
class Invocation:
    """The model's answer: its bytes and their type."""

    body: bytes
    content_type: str | None


class SageMakerRuntimeClient:
    """`InvokeEndpoint` for one session and region."""

    def __init__(self, session: AwsSession) -> None:
        self._s = session

    def __repr__(self) -> str:
        return f"SageMakerRuntimeClient(region={self._s.region!r})"

    async def invoke(
        self,
        endpoint: str,
        body: bytes,
        *,
        content_type: str = "application/json",
        accept: str = "application/json",
        inference_component: str | None = None,
    ) -> Invocation:
        """Send `body` to the endpoint (or one inference component of it)."""
        params: dict[str, object] = {
            "EndpointName": endpoint,
            "Body": body,
            "ContentType": content_type,
            "Accept": accept,
        }
        if inference_component:
            params["InferenceComponentName"] = inference_component
        try:
            out = await self._s.call(
                "sagemaker-runtime",
                "invoke_endpoint",
                params,
                what=f"a request to the endpoint {endpoint}",
                idempotent=False,
            )
        except ProviderError as err:
            if inference_component and _NO_CAPACITY in err.message:
                raise NoCapacity(
                    f"The model {inference_component} on {endpoint} is scaled to zero: no copy "
                    "is running. Its scale-out alarm starts one, which takes several minutes; "
                    "ask again then.",
                    provider=err.provider,
                    status=err.status,
                    request_id=err.request_id,
                ) from None
            if "ModelError" in err.message or "ModelNotReady" in err.message:
                raise EndpointCallFailed(
                    f"The model behind {endpoint} did not answer: {err.message}",
                    provider=err.provider,
                    status=err.status,
                    request_id=err.request_id,
                ) from None
            raise
        return Invocation(_read(out.get("Body")), out.get("ContentType"))


def _read(payload: object) -> bytes:
    return bytes(payload) if isinstance(payload, bytes | bytearray) else b""
