"""What a SageMaker real-time endpoint is made of, as typed specs, the request bodies
boto3 takes for them, and the statuses read back (only the fields we use).

```
ModelSpec               -> CreateModel            (image, execution role, environment)
EndpointConfigSpec      -> CreateEndpointConfig   (one GPU variant; min 0 instances with
                                                   inference components: scale to zero)
InferenceComponentSpec  -> CreateInferenceComponent (the model's GPUs, memory, copies)
EndpointStatus, InferenceComponentStatus          <- Describe*
```
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "EndpointConfigSpec",
    "EndpointState",
    "EndpointStatus",
    "InferenceComponentSpec",
    "InferenceComponentStatus",
    "ModelSpec",
    "VariantStatus",
    "tag_list",
]

EndpointState = Literal[
    "OutOfService",
    "Creating",
    "Updating",
    "SystemUpdating",
    "RollingBack",
    "InService",
    "Deleting",
    "Failed",
    "UpdateRollbackFailed",
]


def tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


@dataclass(frozen=True, kw_only=True)
class ModelSpec:
    """A model: the serving image, the role SageMaker runs it as, its environment."""

    name: str
    image: str
    execution_role_arn: str
    environment: Mapping[str, str] = field(default_factory=dict[str, str])
    tags: Mapping[str, str] = field(default_factory=dict[str, str])

    def body(self) -> dict[str, Any]:
        container: dict[str, Any] = {"Image": self.image, "Mode": "SingleModel"}
        if self.environment:
            container["Environment"] = dict(self.environment)
        return {
            "ModelName": self.name,
            "PrimaryContainer": container,
            "ExecutionRoleArn": self.execution_role_arn,
            "Tags": tag_list(self.tags),
        }


@dataclass(frozen=True, kw_only=True)
class EndpointConfigSpec:
    """One production variant on GPU instances.

    `model_name` set: the classic endpoint (the model on every instance, billed while it
    exists). `model_name` None: an endpoint for inference components, with managed
    instance scaling from `min_instances` (0: scale to zero) to `max_instances`; then
    `execution_role_arn` is required.
    """

    name: str
    instance_type: str
    model_name: str | None = None
    instances: int = 1
    min_instances: int = 0
    max_instances: int = 1
    execution_role_arn: str | None = None
    startup_timeout_s: int = 1800
    variant_name: str = "AllTraffic"
    tags: Mapping[str, str] = field(default_factory=dict[str, str])

    def body(self) -> dict[str, Any]:
        variant: dict[str, Any] = {
            "VariantName": self.variant_name,
            "InstanceType": self.instance_type,
            "InitialInstanceCount": self.instances,
        }
        out: dict[str, Any] = {"EndpointConfigName": self.name, "Tags": tag_list(self.tags)}
        if self.model_name is not None:
            variant |= {
                "ModelName": self.model_name,
                "InitialVariantWeight": 1.0,
                "ContainerStartupHealthCheckTimeoutInSeconds": self.startup_timeout_s,
            }
        else:
            variant |= {
                "ManagedInstanceScaling": {
                    "Status": "ENABLED",
                    "MinInstanceCount": self.min_instances,
                    "MaxInstanceCount": self.max_instances,
                },
                "RoutingConfig": {"RoutingStrategy": "LEAST_OUTSTANDING_REQUESTS"},
            }
            if self.execution_role_arn is None:
                raise ValueError("an inference-component endpoint config needs its role")
            out["ExecutionRoleArn"] = self.execution_role_arn
        return out | {"ProductionVariants": [variant]}


@dataclass(frozen=True, kw_only=True)
class InferenceComponentSpec:
    """A model placed on an inference-component endpoint: its GPUs, memory and copies."""

    name: str
    endpoint_name: str
    model_name: str
    accelerators: int
    min_memory_mb: int
    copies: int = 1
    startup_timeout_s: int = 1800
    variant_name: str = "AllTraffic"
    tags: Mapping[str, str] = field(default_factory=dict[str, str])

    def body(self) -> dict[str, Any]:
        return {
            "InferenceComponentName": self.name,
            "EndpointName": self.endpoint_name,
            "VariantName": self.variant_name,
            "Specification": {
                "ModelName": self.model_name,
                "ComputeResourceRequirements": {
                    "NumberOfAcceleratorDevicesRequired": float(self.accelerators),
                    "MinMemoryRequiredInMb": self.min_memory_mb,
                },
                "StartupParameters": {
                    "ContainerStartupHealthCheckTimeoutInSeconds": self.startup_timeout_s,
                },
            },
            "RuntimeConfig": {"CopyCount": self.copies},
            "Tags": tag_list(self.tags),
        }


class VariantStatus(BaseModel):
    """One production variant of `DescribeEndpoint`: its instances now, and whether
    SageMaker manages them (an inference-component endpoint)."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    name: str = Field(alias="VariantName")
    instances: int | None = Field(default=None, alias="CurrentInstanceCount")
    managed_scaling: dict[str, Any] | None = Field(default=None, alias="ManagedInstanceScaling")


class EndpointStatus(BaseModel):
    """`DescribeEndpoint`, the fields we use."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    name: str = Field(alias="EndpointName")
    arn: str = Field(alias="EndpointArn")
    config_name: str = Field(alias="EndpointConfigName")
    status: EndpointState = Field(alias="EndpointStatus")
    failure_reason: str | None = Field(default=None, alias="FailureReason")
    created_at: datetime | None = Field(default=None, alias="CreationTime")
    variants: tuple[VariantStatus, ...] = Field(default=(), alias="ProductionVariants")

    @property
    def instances(self) -> int | None:
        """Instances running now, over every variant (None: SageMaker did not say)."""
        counts = [v.instances for v in self.variants]
        return None if not counts or None in counts else sum(c or 0 for c in counts)

    @property
    def managed(self) -> bool:
        """Whether SageMaker scales the instances (inference components; 0 possible)."""
        return any((v.managed_scaling or {}).get("Status") == "ENABLED" for v in self.variants)


class InferenceComponentStatus(BaseModel):
    """`DescribeInferenceComponent`, the fields we use."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    name: str = Field(alias="InferenceComponentName")
    arn: str = Field(alias="InferenceComponentArn")
    endpoint_name: str = Field(alias="EndpointName")
    status: Literal["InService", "Creating", "Updating", "Failed", "Deleting"] | None = Field(
        default=None, alias="InferenceComponentStatus"
    )
    failure_reason: str | None = Field(default=None, alias="FailureReason")
    copies: int | None = None  # running now (CurrentCopyCount)
    desired_copies: int | None = None  # what scaling asked for (DesiredCopyCount)
