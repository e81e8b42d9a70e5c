"""SageMaker real-time endpoints through boto3, over an `AwsSession` (a user's role or
keys, in one region).

```
SageMakerClient(session)
  create_model(ModelSpec) -> arn                     Conflict when the name exists
  create_endpoint_config(EndpointConfigSpec) -> arn
  create_endpoint(name, config_name, tags) -> arn    QuotaExceeded (ResourceLimitExceeded),
                                                      PassRoleDenied, RateLimited, ...
  describe_endpoint(name) -> EndpointStatus | None   None: no such endpoint
  delete_endpoint / delete_endpoint_config / delete_model(name) -> bool  False: was gone
  create_inference_component(InferenceComponentSpec) -> arn
  describe_inference_component(name) -> InferenceComponentStatus | None
  scale_inference_component(name, copies)            UpdateInferenceComponentRuntimeConfig
  delete_inference_component(name) -> bool
  list_endpoints / list_models / list_endpoint_configs / list_inference_components(prefix)
endpoint_failed(status) -> EndpointFailed            the failure, with SageMaker's reason
```

SageMaker says "not found" as a `ValidationException` ("Could not find endpoint ..."),
which `aws_errors` maps to `NotFound`; reads and deletes turn that into None / False, so
a teardown that runs twice ends the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from tools.clients.aws_session import AwsSession
from tools.clients.errors import NotFound, ProviderError
from tools.clients.sagemaker_models import (
    EndpointConfigSpec,
    EndpointStatus,
    InferenceComponentSpec,
    InferenceComponentStatus,
    ModelSpec,
    tag_list,
)

__all__ = ["EndpointFailed", "SageMakerClient", "endpoint_failed"]

_LISTS = {  # operation -> (result list, name field)
    "list_endpoints": ("Endpoints", "EndpointName"),
    "list_models": ("Models", "ModelName"),
    "list_endpoint_configs": ("EndpointConfigs", "EndpointConfigName"),
    "list_inference_components": ("InferenceComponents", "InferenceComponentName"),
}


class EndpointFailed(ProviderError):
    """The endpoint (or inference component) went to `Failed`; `reason` is SageMaker's."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message, provider="AWS")
        self.reason = reason


def endpoint_failed(name: str, reason: str | None) -> EndpointFailed:
    why = (reason or "SageMaker gave no reason").strip()
    return EndpointFailed(
        f"The SageMaker endpoint {name} failed: {why}. Check the instance type and the "
        "model's logs in CloudWatch (/aws/sagemaker/Endpoints/" + name + "), then deploy "
        "again; KripTik deletes the failed endpoint so it does not bill.",
        reason=why,
    )


class SageMakerClient:
    """SageMaker's control plane for one session and region."""

    def __init__(self, session: AwsSession) -> None:
        self._s = session

    def __repr__(self) -> str:
        return f"SageMakerClient(region={self._s.region!r})"

    async def _call(
        self,
        op: str,
        params: Mapping[str, object],
        what: str,
        *,
        idempotent: bool,
        execution_role_arn: str | None = None,
    ) -> dict[str, Any]:
        return await self._s.call(
            "sagemaker",
            op,
            params,
            what=what,
            idempotent=idempotent,
            execution_role_arn=execution_role_arn,
        )

    async def create_model(self, spec: ModelSpec) -> str:
        out = await self._call(
            "create_model",
            spec.body(),
            f"the model {spec.name}",
            idempotent=False,
            execution_role_arn=spec.execution_role_arn,
        )
        return str(out["ModelArn"])

    async def create_endpoint_config(self, spec: EndpointConfigSpec) -> str:
        out = await self._call(
            "create_endpoint_config",
            spec.body(),
            f"the endpoint config {spec.name} ({spec.instance_type})",
            idempotent=False,
            execution_role_arn=spec.execution_role_arn,
        )
        return str(out["EndpointConfigArn"])

    async def create_endpoint(
        self, name: str, config_name: str, *, tags: Mapping[str, str] | None = None
    ) -> str:
        params = {
            "EndpointName": name,
            "EndpointConfigName": config_name,
            "Tags": tag_list(tags or {}),
        }
        out = await self._call("create_endpoint", params, f"the endpoint {name}", idempotent=False)
        return str(out["EndpointArn"])

    async def describe_endpoint(self, name: str) -> EndpointStatus | None:
        try:
            out = await self._call(
                "describe_endpoint", {"EndpointName": name}, f"the endpoint {name}", idempotent=True
            )
        except NotFound:
            return None
        return EndpointStatus.model_validate(out)

    async def delete_endpoint(self, name: str) -> bool:
        return await self._delete("delete_endpoint", {"EndpointName": name}, f"the endpoint {name}")

    async def delete_endpoint_config(self, name: str) -> bool:
        return await self._delete(
            "delete_endpoint_config", {"EndpointConfigName": name}, f"the endpoint config {name}"
        )

    async def delete_model(self, name: str) -> bool:
        return await self._delete("delete_model", {"ModelName": name}, f"the model {name}")

    async def create_inference_component(self, spec: InferenceComponentSpec) -> str:
        out = await self._call(
            "create_inference_component",
            spec.body(),
            f"the inference component {spec.name}",
            idempotent=False,
        )
        return str(out["InferenceComponentArn"])

    async def describe_inference_component(self, name: str) -> InferenceComponentStatus | None:
        try:
            out = await self._call(
                "describe_inference_component",
                {"InferenceComponentName": name},
                f"the inference component {name}",
                idempotent=True,
            )
        except NotFound:
            return None
        runtime = cast("dict[str, Any]", out.get("RuntimeConfig") or {})
        return InferenceComponentStatus.model_validate(
            out
            | {
                "copies": runtime.get("CurrentCopyCount"),
                "desired_copies": runtime.get("DesiredCopyCount"),
            }
        )

    async def scale_inference_component(self, name: str, copies: int) -> None:
        """Set the copies of a model (0 lets the endpoint scale its instances to zero)."""
        params = {"InferenceComponentName": name, "DesiredRuntimeConfig": {"CopyCount": copies}}
        await self._call(
            "update_inference_component_runtime_config",
            params,
            f"the inference component {name}",
            idempotent=True,
        )

    async def delete_inference_component(self, name: str) -> bool:
        return await self._delete(
            "delete_inference_component",
            {"InferenceComponentName": name},
            f"the inference component {name}",
        )

    async def list_endpoints(self, prefix: str) -> list[str]:
        return await self._list("list_endpoints", prefix)

    async def list_models(self, prefix: str) -> list[str]:
        return await self._list("list_models", prefix)

    async def list_endpoint_configs(self, prefix: str) -> list[str]:
        return await self._list("list_endpoint_configs", prefix)

    async def list_inference_components(self, prefix: str) -> list[str]:
        return await self._list("list_inference_components", prefix)

    async def _delete(self, op: str, params: Mapping[str, object], what: str) -> bool:
        try:
            await self._call(op, params, what, idempotent=True)
        except NotFound:
            return False
        return True

    async def _list(self, op: str, prefix: str) -> list[str]:
        """Every name containing `prefix` (SageMaker's NameContains), across pages."""
        key, field = _LISTS[op]
        params: dict[str, object] = {"NameContains": prefix, "MaxResults": 100}
        names: list[str] = []
        while True:
            out = await self._call(op, params, f"the list of {key}", idempotent=True)
            names += [str(row[field]) for row in cast("list[dict[str, Any]]", out.get(key) or [])]
            if not out.get("NextToken"):
                return [n for n in names if n.startswith(prefix)]
            params["NextToken"] = out["NextToken"]
