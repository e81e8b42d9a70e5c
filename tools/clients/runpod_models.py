"""Request and result models for RunPod's REST API v2 (`runpod-rest-v2.openapi.json`).

Requests (`TemplateSpec`, `EndpointSpec`, `EndpointUpdate`) are what KripTik decides;
`body()` renders the exact JSON the spec accepts (it is strict: unknown fields are 400s).
Results (`Template`, `Endpoint`, `Workers`, `GpuType`, `Registry`, `ServerlessBilling`) keep
what we use and ignore the rest, so additive API changes do not break us.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tools.clients._http import as_dict

__all__ = [
    "BillingAmounts",
    "BillingBucket",
    "Endpoint",
    "EndpointSpec",
    "EndpointUpdate",
    "FlashBoot",
    "GpuType",
    "Registry",
    "ServerlessBilling",
    "ServerlessBillingRecord",
    "Template",
    "TemplateSpec",
    "WorkerSummary",
    "Workers",
]

FlashBoot = Literal["OFF", "FLASHBOOT", "PRIORITY_FLASHBOOT"]
WorkerStatus = Literal["RUNNING", "IDLE", "INITIALIZING", "THROTTLED", "UNHEALTHY"]
BillingBucket = Literal["hour", "day", "week", "month", "year"]


class _Result(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


class TemplateSpec(BaseModel):
    """A serverless template: the image and how to run it.

    Attributes:
        name: Unique per account; `ensure_template` finds templates by it.
        image: Image reference, e.g. `ghcr.io/me/worker:1.0`.
        env: Environment; reference secrets as `{{ RUNPOD_SECRET_name }}`, never inline.
        disk_gb: Container disk in GB.
        registry_id: Registry credential id, for private images.
    """

    model_config = ConfigDict(frozen=True)

    name: str = Field(min_length=1)
    image: str = Field(min_length=1)
    env: dict[str, str] = Field(default_factory=dict[str, str])
    disk_gb: int = Field(default=20, ge=1)
    ports: tuple[str, ...] = ()
    args: str | None = None
    registry_id: str | None = None

    def body(self) -> dict[str, Any]:
        # startSsh/startJupyter default to true upstream; a worker needs neither.
        body: dict[str, Any] = {
            "name": self.name, "image": self.image, "env": dict(self.env), "disk": self.disk_gb,
            "serverless": True, "startSsh": False, "startJupyter": False,
        }  # fmt: skip
        if self.ports:
            body["ports"] = list(self.ports)
        if self.args is not None:
            body["args"] = self.args
        if self.registry_id is not None:
            body["registry"] = self.registry_id
        return body


class EndpointSpec(BaseModel):
    """A queue-based serverless endpoint on one or more GPU pools (e.g. "ADA_24")."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(min_length=1)
    template_id: str
    gpu_pools: tuple[str, ...] = Field(min_length=1)
    gpu_count: int = Field(default=1, ge=1)
    excluded_gpu_types: tuple[str, ...] = ()
    workers_min: int = Field(default=0, ge=0)
    workers_max: int = Field(default=1, ge=0)
    idle_timeout_s: int = Field(default=5, ge=1, le=3600)
    queue_delay_s: float = Field(default=4.0, ge=0.5)
    flashboot: FlashBoot = "FLASHBOOT"
    timeout_ms: int = Field(default=600_000, ge=1)
    # Lowest host CUDA (`major.minor`) the image runs on: sent as `gpu.minCudaVersion`.
    min_cuda_version: str | None = Field(default=None, pattern=r"^\d+\.\d+$")

    def body(self) -> dict[str, Any]:
        gpu: dict[str, Any] = {"pools": list(self.gpu_pools), "count": self.gpu_count}
        if self.excluded_gpu_types:
            gpu["excludedTypes"] = list(self.excluded_gpu_types)
        if self.min_cuda_version:
            gpu["minCudaVersion"] = self.min_cuda_version
        return {
            "name": self.name, "type": "QUEUE", "templateId": self.template_id, "gpu": gpu,
            "workers": {"min": self.workers_min, "max": self.workers_max,
                        "idleTimeout": self.idle_timeout_s},
            "scaling": {"type": "QUEUE_DELAY", "queueDelay": self.queue_delay_s},
            "flashboot": self.flashboot, "timeout": self.timeout_ms,
        }  # fmt: skip


class EndpointUpdate(BaseModel):
    """A partial endpoint change; fields left None stay as they are."""

    model_config = ConfigDict(frozen=True)

    workers_min: int | None = Field(default=None, ge=0)
    workers_max: int | None = Field(default=None, ge=0)
    idle_timeout_s: int | None = Field(default=None, ge=1, le=3600)
    template_id: str | None = None
    flashboot: FlashBoot | None = None

    def body(self) -> dict[str, Any]:
        workers = {
            "min": self.workers_min,
            "max": self.workers_max,
            "idleTimeout": self.idle_timeout_s,
        }
        body: dict[str, Any] = {"templateId": self.template_id, "flashboot": self.flashboot}
        if any(v is not None for v in workers.values()):
            body["workers"] = {k: v for k, v in workers.items() if v is not None}
        return {k: v for k, v in body.items() if v is not None}


class Template(_Result):
    id: str
    name: str
    image: str
    env: dict[str, str] = Field(default_factory=dict[str, str])
    disk: int | None = None
    serverless: bool = True
    registry: str | None = None

    def matches(self, spec: TemplateSpec) -> bool:
        """Whether this template already is what `spec` asks for."""
        return (self.image, self.env, self.disk, self.registry) == (
            spec.image, dict(spec.env), spec.disk_gb, spec.registry_id,
        )  # fmt: skip


class EndpointWorkersConfig(_Result):
    min: int
    max: int
    idle_timeout: int | None = Field(default=None, alias="idleTimeout")


class Endpoint(_Result):
    id: str
    name: str
    image: str | None = None
    type: Literal["QUEUE", "LOAD_BALANCER"] | None = None
    workers: EndpointWorkersConfig
    flashboot: FlashBoot | None = None
    gpu_pools: tuple[str, ...] = ()
    gpu_count: int = 1
    min_cuda_version: str | None = None
    request_urls: dict[str, str] = Field(default_factory=dict[str, str], alias="requestUrls")
    created_at: datetime | None = Field(default=None, alias="createdAt")

    @model_validator(mode="before")
    @classmethod
    def _flatten_gpu(cls, data: Any) -> Any:
        # The API nests `gpu{pools,count,minCudaVersion}`; we keep them flat.
        fields = as_dict(data)
        if gpu := as_dict(fields.get("gpu")):
            return {**fields, "gpu_pools": gpu.get("pools", ()), "gpu_count": gpu.get("count", 1),
                    "min_cuda_version": gpu.get("minCudaVersion")}  # fmt: skip
        return data


class WorkerSummary(_Result):
    running: int = 0
    idle: int = 0
    initializing: int = 0
    throttled: int = 0
    unhealthy: int = 0
    total: int = 0

    @property
    def ready(self) -> bool:
        """At least one worker can take a job."""
        return self.running + self.idle > 0


class Worker(_Result):
    id: str
    status: WorkerStatus
    gpu_type_id: str | None = Field(default=None, alias="gpuTypeId")
    # When the worker started (None while it waits for a machine).
    started_at: datetime | None = Field(default=None, alias="startedAt")


class Workers(_Result):
    workers: tuple[Worker, ...]
    summary: WorkerSummary


class GpuType(_Result):
    """One GPU type of the catalogue; `serverless_price_hr` is USD per GPU-hour."""

    id: str
    name: str
    pool: str | None
    memory_gb: int = Field(alias="memory")
    serverless_price_hr: float | None = None
    availability: Literal["NONE", "LOW", "MEDIUM", "HIGH"] | None = None

    @model_validator(mode="before")
    @classmethod
    def _flatten_price(cls, data: Any) -> Any:
        fields = as_dict(data)
        if price := as_dict(fields.get("price")):
            return {**fields, "serverless_price_hr": price.get("serverless")}
        return data


class Registry(_Result):
    id: str
    name: str


class BillingAmounts(_Result):
    """Serverless cost components, USD (`ServerlessBillingAmounts`)."""

    total: float = Field(alias="totalAmount")
    gpu: float = Field(default=0.0, alias="gpuAmount")
    cpu: float = Field(default=0.0, alias="cpuAmount")
    disk: float = Field(default=0.0, alias="diskAmount")
    fee: float = Field(default=0.0, alias="feeAmount")


class ServerlessBillingRecord(BillingAmounts):
    """One endpoint's cost in one time bucket [start, end)."""

    start: datetime = Field(alias="startTime")
    end: datetime = Field(alias="endTime")
    serverless_id: str = Field(alias="serverlessId")


class ServerlessBilling(_Result):
    """`GET /v2/billing/serverless`: records per endpoint per bucket, the totals across
    them, and the window the API resolved (snapped to whole buckets)."""

    records: tuple[ServerlessBillingRecord, ...]
    totals: BillingAmounts
    window_start: datetime
    window_end: datetime

    @model_validator(mode="before")
    @classmethod
    def _flatten_metadata(cls, data: Any) -> Any:
        # The API nests `metadata{query{startTime,endTime},totals}`; we keep them flat.
        fields = as_dict(data)
        meta = as_dict(fields.get("metadata"))
        query = as_dict(meta.get("query"))
        return {**fields, "totals": meta.get("totals"), "window_start": query.get("startTime"),
                "window_end": query.get("endTime")}  # fmt: skip
