"""The interface every deploy target implements, and the plain values it passes.

```
catalog(user)             -> [TargetGpu]       priced offers that exist now, with their source
create(user, plan)        -> TargetEndpoint    idempotent: the resource is named for the
                                                deployment id, so a retry adopts it
wait_ready(user, plan, progress) -> TargetEndpoint   ready, or a ProviderError that says why
smoke_test(user, endpoint, payload) -> dict   one real request through the target's URL
teardown(user, plan)      -> bool              removed, or already gone: nothing is left
running_usd_per_hour(...) -> float | None      None: unknown (never shown as $0)
```

Failures raise `tools.clients.errors.ProviderError` subclasses whose message says what the
user does next. A target takes its token from a `TokenSource` (in the app,
`Connections.token`), so it never reads the vault itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final, Literal, Protocol

from pydantic import BaseModel, ConfigDict, SecretStr

__all__ = [
    "TARGET_CREDENTIALS", "TARGET_UNITS", "DeployTarget", "EndpointState", "Progress",
    "TargetEndpoint", "TargetGpu", "TargetName", "TargetPlan", "TokenSource",
]  # fmt: skip

TargetName = Literal["runpod", "huggingface", "cloudrun", "sagemaker"]
# The vault credential each target deploys with (and a generated app calls it with): the
# `gcp` credential is a service-account JSON key, the `aws` one a role to assume (or a key
# pair), as JSON. One table for the pipeline, the
# publishers and the agent's key checks.
TARGET_CREDENTIALS: Final[dict[TargetName, str]] = {
    "runpod": "runpod", "huggingface": "huggingface", "cloudrun": "gcp", "sagemaker": "aws",
}  # fmt: skip
# What one running copy of a deployment is called on each target, in cards and summaries.
TARGET_UNITS: Final[dict[TargetName, str]] = {
    "runpod": "worker", "huggingface": "replica", "cloudrun": "instance", "sagemaker": "instance",
}  # fmt: skip
EndpointState = Literal["pending", "initializing", "ready", "scaled_to_zero", "failed", "gone"]
# user id -> the token of the target's credential, fresh (refreshed where it expires).
TokenSource = Callable[[str], Awaitable[SecretStr]]


class TargetGpu(BaseModel):
    """One priced offer of a target's catalog."""

    model_config = ConfigDict(frozen=True)

    target: TargetName
    offer_id: str  # the target's own id: "nvidia-l4", "aws/us-east-1/nvidia-a10g/x1"
    label: str  # as users read it: "NVIDIA L4 24 GB (Google Cloud Run, us-central1)"
    gpu_memory_gib: float  # per GPU
    gpu_count: int = 1
    usd_per_hour: float  # one running instance or replica, all its GPUs
    region: str
    source: str  # where the price comes from: the API or page, and its date
    # Why the account cannot run it now (no quota: with the link to request more); such an
    # offer is listed, so the plan can say so, and never chosen.
    quota_note: str | None = None


class TargetPlan(BaseModel):
    """What the user approves for one target."""

    model_config = ConfigDict(frozen=True)

    deployment_id: str  # the idempotency key: the remote resource is named for it
    repo_id: str
    revision: str
    task: str  # the model's pipeline tag
    gpu: TargetGpu
    min_replicas: int = 0  # 0: scales to zero
    max_replicas: int = 1
    idle_scale_to_zero_s: int = 900
    concurrency: int = 1
    image: str | None = None  # our worker image; None: the target's own serving image


class TargetEndpoint(BaseModel):
    """A target's endpoint or service as the provider last reported it."""

    model_config = ConfigDict(frozen=True)

    target: TargetName
    resource_id: str  # the remote endpoint's or service's name
    url: str | None  # the base URL clients call; None until it is ready
    state: EndpointState
    message: str = ""  # the provider's own words (redacted), for a failure
    region: str | None = None  # where it runs, for targets whose calls are regional


class Progress(Protocol):
    async def __call__(self, text: str) -> None: ...


class DeployTarget(Protocol):
    """A place to run a model: its catalog, lifecycle and running cost."""

    name: TargetName
    credential: str  # the vault provider id it needs: "runpod", "huggingface", "gcp", "aws"

    async def catalog(self, user_id: str) -> list[TargetGpu]: ...

    async def create(self, user_id: str, plan: TargetPlan) -> TargetEndpoint: ...

    async def wait_ready(
        self, user_id: str, plan: TargetPlan, progress: Progress, *, timeout_s: float
    ) -> TargetEndpoint: ...

    async def smoke_test(
        self,
        user_id: str,
        endpoint: TargetEndpoint,
        payload: dict[str, Any],
        progress: Progress | None = None,
    ) -> dict[str, Any]:
        """One real request; `progress` hears what a long wait is for (an endpoint waking
        from zero)."""
        ...

    async def teardown(self, user_id: str, plan: TargetPlan) -> bool: ...

    async def running_usd_per_hour(
        self, user_id: str, endpoint: TargetEndpoint, plan: TargetPlan
    ) -> float | None: ...
