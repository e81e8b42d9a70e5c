"""RunPod's serverless job API (`https://api.runpod.ai/v2/{endpoint_id}/...`): health,
run, runsync, status and cancel, with the key per client (never the SDK's global one).

`wait_ready` and `wait_job` poll with the retry policy's `sleep` and `clock`, so tests
drive them on a fake clock. A submitted job is not retried after a server error (it may
have been queued); status, health and cancel are.

Errors: as for every client (`tools.clients.errors`); a job that fails is not an error
here but a `Job` with `status="FAILED"` and its `error`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tools.clients._base import ProviderClient
from tools.clients._http import path_segment
from tools.clients.runpod import RUNPOD

__all__ = ["EndpointHealth", "Job", "JobStatus", "RunPodJobsClient"]

JobStatus = Literal["IN_QUEUE", "IN_PROGRESS", "COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"]
_FINAL = frozenset({"COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"})


class Job(BaseModel):
    """A job's state; `output` once COMPLETED, `error` once FAILED."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    id: str
    status: JobStatus
    output: Any = None
    error: str | None = None
    delay_ms: int | None = Field(default=None, alias="delayTime")
    execution_ms: int | None = Field(default=None, alias="executionTime")

    @property
    def done(self) -> bool:
        return self.status in _FINAL


class EndpointHealth(BaseModel):
    """Job counts and worker counts of one endpoint (`GET /health`)."""

    model_config = ConfigDict(frozen=True)

    jobs: dict[str, int]
    workers: dict[str, int]

    @property
    def ready(self) -> bool:
        """A worker is up and can take a job."""
        w = self.workers
        return w.get("idle", 0) + w.get("running", 0) + w.get("ready", 0) > 0


class RunPodJobsClient(ProviderClient):
    """The job API for one key; `base_url` is e.g. `https://api.runpod.ai/v2`
    (settings: runpod_jobs_base_url).

    Args: see `ProviderClient`.
    """

    info = RUNPOD

    async def health(self, endpoint_id: str) -> EndpointHealth:
        return await self._one(
            EndpointHealth, "GET", _path(endpoint_id, "health"), _what(endpoint_id)
        )

    async def run(self, endpoint_id: str, job_input: dict[str, Any]) -> Job:
        """Queue a job; poll it with `status` or `wait_job`."""
        path, body = _path(endpoint_id, "run"), {"input": job_input}
        return await self._one(Job, "POST", path, _what(endpoint_id), json=body)

    async def run_sync(
        self, endpoint_id: str, job_input: dict[str, Any], *, wait_ms: int = 90_000
    ) -> Job:
        """Run and wait up to `wait_ms` (1000..300000); an unfinished job comes back queued."""
        path, body = _path(endpoint_id, "runsync"), {"input": job_input}
        params = {"wait": max(1000, min(wait_ms, 300_000))}
        return await self._one(Job, "POST", path, _what(endpoint_id), json=body, params=params)

    async def status(self, endpoint_id: str, job_id: str) -> Job:
        path = _path(endpoint_id, "status", job_id)
        return await self._one(Job, "GET", path, f"the job {job_id} of endpoint {endpoint_id}")

    async def cancel(self, endpoint_id: str, job_id: str) -> Job:
        path = _path(endpoint_id, "cancel", job_id)
        what = f"the job {job_id} of endpoint {endpoint_id}"
        return await self._one(Job, "POST", path, what, idempotent=True)

    async def wait_ready(
        self, endpoint_id: str, *, poll_s: float = 5.0, timeout_s: float = 900.0
    ) -> EndpointHealth:
        """Poll `health` until a worker is up; `Timeout` after `timeout_s`."""
        return await self._poll(
            lambda: self.health(endpoint_id),
            done=lambda h: h.ready,
            failed=lambda _: None,
            poll_s=poll_s,
            timeout_s=timeout_s,
            still=lambda _: f"RunPod endpoint {endpoint_id} has no ready worker",
            hint="RunPod may be short of that GPU: check the endpoint in the RunPod console, "
            "or widen its GPU pools.",
        )

    async def wait_job(
        self, endpoint_id: str, job_id: str, *, poll_s: float = 2.0, timeout_s: float = 600.0
    ) -> Job:
        """Poll `status` until the job is final (see `Job.status`); `Timeout` after `timeout_s`."""
        return await self._poll(
            lambda: self.status(endpoint_id, job_id),
            done=lambda j: j.done,
            failed=lambda _: None,
            poll_s=poll_s,
            timeout_s=timeout_s,
            still=lambda j: f"RunPod job {job_id} is still {j.status}",
        )


def _path(endpoint_id: str, *parts: str) -> str:
    return "/" + "/".join(path_segment(p) for p in (endpoint_id, *parts))


def _what(endpoint_id: str) -> str:
    return f"the endpoint {endpoint_id}"
