"""RunPod fakes: the REST v2 control plane (`runpod-rest-v2.openapi.json`, strict) and
the serverless job API at `api.runpod.ai/v2/{endpoint}` (no published spec; the shapes
of docs `serverless/endpoints/operation-reference.mdx`, checked by `SchemaContract`).

Both share one `RunPodState`: an endpoint created through the control plane reports its
workers as INITIALIZING for `ready_after` polls (of `/workers` or `/health`), then IDLE;
jobs sent to it move IN_QUEUE -> IN_PROGRESS -> COMPLETED as they are polled, with the
output of `state.handler(input)` (an echo by default; raise to make the job FAIL).

Billing: every look at the workers meters the billed ones (RUNNING or IDLE) on
`state.clock`, until the endpoint is scaled to zero or deleted; `GET /v2/billing/serverless`
reports those seconds at the catalogue's prices (`_runpod_billing`). Tests drive the clock.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from tools.simulator._base import FakeProvider, FakeRequest, Refused, bearer, json_response, route
from tools.simulator._contract import OpenApiContract
from tools.simulator._runpod_billing import BillingMeter, BillingQueryError, serverless_billing
from tools.simulator._runpod_json import GPU_CATALOG, gpu_json, request_urls, workers_json

__all__ = ["DEFAULT_KEY", "GPU_CATALOG", "READ_ONLY_KEY", "RunPodFake", "RunPodState"]

DEFAULT_KEY = "rpa_FAKE0000000000000000000000000000000000000000"
READ_ONLY_KEY = "rpa_READONLY00000000000000000000000000000000000"
_NOW = "2026-01-01T00:00:00Z"


def _echo(job_input: Any) -> Any:
    return {"echo": job_input}


def _wall_clock() -> datetime:
    return datetime.now(UTC)


# Serverless $/s per GPU of each pool, from the catalogue the fake serves.
_POOL_USD_PER_S: dict[str, float] = {pool: per_s for _, _, pool, _, per_s in GPU_CATALOG
                                     if pool is not None and per_s is not None}  # fmt: skip


@dataclass
class FakeJob:
    id: str
    input: Any
    status: str = "IN_QUEUE"
    output: Any = None
    error: str | None = None


@dataclass
class FakeEndpoint:
    data: dict[str, Any]
    polls_left: int
    jobs: dict[str, FakeJob] = field(default_factory=dict[str, FakeJob])

    def poll(self) -> str:
        """One observation of the workers: counts down, then the workers are up."""
        if self.polls_left > 0:
            self.polls_left -= 1
            return "INITIALIZING"
        return "IDLE"


@dataclass
class RunPodState:
    """Everything both RunPod fakes know."""

    keys: dict[str, str] = field(default_factory=lambda: {DEFAULT_KEY: "rw", READ_ONLY_KEY: "ro"})
    templates: dict[str, dict[str, Any]] = field(default_factory=dict[str, dict[str, Any]])
    endpoints: dict[str, FakeEndpoint] = field(default_factory=dict[str, FakeEndpoint])
    registries: dict[str, dict[str, str]] = field(default_factory=dict[str, dict[str, str]])
    ready_after: int = 2
    # Pools whose cards report no serverless stock (`availability: NONE` in the catalogue).
    no_capacity: set[str] = field(default_factory=set[str])
    handler: Callable[[Any], Any] = _echo
    jobs_url: str = "https://api.runpod.ai/v2"
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    # What "now" is for billing (tests hand in a `FakeClock`'s `now`).
    clock: Callable[[], datetime] = _wall_clock
    billing: BillingMeter = field(default_factory=BillingMeter)

    def new_id(self, prefix: str = "") -> str:
        return prefix + hashlib.sha1(str(next(self.ids)).encode()).hexdigest()[:10]  # noqa: S324

    def meter(self, ep: FakeEndpoint, summary: dict[str, int]) -> datetime | None:
        """Bill, from now on, the workers a look at `ep` showed as RUNNING or IDLE; returns
        since when they have been billed (None: no worker is)."""
        # An endpoint a test planted may name no GPU.
        gpu: dict[str, Any] = ep.data.get("gpu") or {"pools": [""], "count": 1}
        pool: str = gpu["pools"][0]
        return self.billing.set_workers(
            ep.data["id"], summary.get("running", 0) + summary.get("idle", 0), at=self.clock(),
            gpu_usd_per_s=_POOL_USD_PER_S.get(pool, 0.0) * int(gpu["count"]),
            disk_gb=int(ep.data.get("disk") or 0),
        )  # fmt: skip

    def stop_billing(self, endpoint_id: str) -> None:
        """The endpoint's workers are gone (scaled to zero, or the endpoint deleted)."""
        self.billing.set_workers(endpoint_id, 0, at=self.clock(), gpu_usd_per_s=0.0, disk_gb=0)


class RunPodFake(FakeProvider):
    """RunPod REST v2: templates, serverless endpoints, workers, GPU catalogue, registries."""

    name = "RunPod"

    def __init__(self, state: RunPodState | None = None) -> None:
        super().__init__(
            OpenApiContract("runpod-rest-v2.openapi.json", host_url="https://api.runpod.io")
        )
        self.state = state or RunPodState()

    def reset_state(self) -> None:
        jobs_url, self.state.__dict__ = self.state.jobs_url, RunPodState().__dict__
        self.state.jobs_url = jobs_url

    def authenticate(self, request: Request) -> str | None:
        return self.state.keys.get(bearer(request) or "")

    def error(
        self, status: int, message: str, *, headers: dict[str, str] | None = None
    ) -> Response:
        title = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
                 409: "Conflict", 422: "Unprocessable Entity", 429: "Too Many Requests",
                 500: "Internal Server Error", 503: "Service Unavailable"}.get(status, "Error")  # fmt: skip
        resp = json_response({"title": title, "status": status, "detail": message}, status, headers)
        resp.headers["content-type"] = "application/problem+json"
        return resp

    def _require_write(self, req: FakeRequest) -> None:
        """`Refused` with RunPod's 403 for a read-only key."""
        if req.account != "rw":
            raise Refused(self.error(403, "this API key is read-only"))

    def _template(self, req: FakeRequest) -> dict[str, Any]:
        """The template the path names, or `Refused` with a 404."""
        return self.found(self.state.templates, req.params["id"], "template not found")

    def _endpoint(self, req: FakeRequest) -> FakeEndpoint:
        """The endpoint the path names, or `Refused` with a 404."""
        return self.found(self.state.endpoints, req.params["id"], "endpoint not found")

    # ---- templates ----------------------------------------------------------------------
    @route("POST", "/v2/templates")
    async def create_template(self, req: FakeRequest) -> Response:
        self._require_write(req)
        body = req.json()
        if any(t["name"] == body["name"] for t in self.state.templates.values()):
            return self.error(400, f"template name {body['name']!r} must be unique")
        tid = self.state.new_id()
        template: dict[str, Any] = {
            "id": tid, "name": body["name"], "image": body["image"], "args": body.get("args", ""),
            "disk": body.get("disk", 50), "mounts": {}, "ports": body.get("ports", []),
            "env": body.get("env", {}), "registry": body.get("registry"),
            "serverless": body.get("serverless", False), "public": body.get("public", False),
            "category": body.get("category", "NVIDIA"), "startSsh": body.get("startSsh", True),
            "startJupyter": body.get("startJupyter", True),
            "allowedCudaVersions": body.get("allowedCudaVersions", []),
        }  # fmt: skip
        self.state.templates[tid] = template
        return json_response(template, 201)

    @route("GET", "/v2/templates")
    async def list_templates(self, req: FakeRequest) -> Response:
        return json_response({"templates": list(self.state.templates.values())})

    @route("GET", "/v2/templates/{id}")
    async def get_template(self, req: FakeRequest) -> Response:
        return json_response(self._template(req))

    @route("PATCH", "/v2/templates/{id}")
    async def update_template(self, req: FakeRequest) -> Response:
        self._require_write(req)
        t = self._template(req)
        t.update(req.json())
        return json_response(t)

    @route("DELETE", "/v2/templates/{id}")
    async def delete_template(self, req: FakeRequest) -> Response:
        self._require_write(req)
        tid = req.params["id"]
        self._template(req)  # an unknown template answers 404
        if any(e.data.get("_templateId") == tid for e in self.state.endpoints.values()):
            return self.error(400, "template is in use by a serverless endpoint")
        del self.state.templates[tid]
        return Response(status_code=204)

    # ---- endpoints ----------------------------------------------------------------------
    @route("POST", "/v2/serverless")
    async def create_endpoint(self, req: FakeRequest) -> Response:
        self._require_write(req)
        body = req.json()
        template = self.state.templates.get(body.get("templateId", ""))
        if "templateId" in body and template is None:
            return self.error(404, f"template {body['templateId']} not found")
        gpu = body.get("gpu", {"pools": ["AMPERE_16"]})
        if gpu.get("allowedCudaVersions") and gpu.get("minCudaVersion"):
            # The spec's rule that its schema cannot say: an exact set or a floor, not both.
            return self.error(400, "allowedCudaVersions and minCudaVersion are mutually exclusive")
        eid = self.state.new_id()
        base = template or {}
        data: dict[str, Any] = {
            "id": eid, "name": body["name"], "type": body["type"],
            "image": body.get("image", base.get("image", "")), "args": base.get("args", ""),
            "disk": body.get("disk", base.get("disk", 50)), "ports": base.get("ports", []),
            "env": {**base.get("env", {}), **body.get("env", {})}, "registry": base.get("registry"),
            "gpu": {"pools": gpu["pools"], "count": gpu.get("count", 1),
                    "allowedCudaVersions": gpu.get("allowedCudaVersions", []),
                    "minCudaVersion": gpu.get("minCudaVersion")},
            "workers": {"min": 0, "max": 3, "idleTimeout": 5, **body.get("workers", {})},
            "scaling": body["scaling"], "dataCenterIds": body.get("dataCenterIds", []),
            "networkVolumes": body.get("networkVolumes", []), "timeout": body.get("timeout", 300000),
            "flashboot": body.get("flashboot", "OFF"), "createdAt": _NOW,
            "requestUrls": request_urls(self.state.jobs_url, eid),
        }  # fmt: skip
        if "excludedTypes" in gpu:
            data["gpu"]["excludedTypes"] = gpu["excludedTypes"]
        self.state.endpoints[eid] = FakeEndpoint(
            {**data, "_templateId": body.get("templateId")}, self.state.ready_after
        )
        return json_response(data, 201)

    def _public(self, ep: FakeEndpoint) -> dict[str, Any]:
        return {k: v for k, v in ep.data.items() if not k.startswith("_")}

    @route("GET", "/v2/serverless")
    async def list_endpoints(self, req: FakeRequest) -> Response:
        return json_response(
            {"endpoints": [self._public(e) for e in self.state.endpoints.values()]}
        )

    @route("GET", "/v2/serverless/{id}")
    async def get_endpoint(self, req: FakeRequest) -> Response:
        return json_response(self._public(self._endpoint(req)))

    @route("PATCH", "/v2/serverless/{id}")
    async def update_endpoint(self, req: FakeRequest) -> Response:
        self._require_write(req)
        ep = self._endpoint(req)
        body = req.json()
        if "workers" in body:
            ep.data["workers"] = {**ep.data["workers"], **body.pop("workers")}
            if ep.data["workers"]["max"] == 0:
                self.state.stop_billing(ep.data["id"])
        if (tid := body.pop("templateId", None)) is not None:
            template = self.state.templates.get(tid)
            if template is None:
                return self.error(404, f"template {tid} not found")
            ep.data |= {"image": template["image"], "env": template["env"], "_templateId": tid}
        ep.data.update(body)
        return json_response(self._public(ep))

    @route("DELETE", "/v2/serverless/{id}")
    async def delete_endpoint(self, req: FakeRequest) -> Response:
        self._require_write(req)
        if self.state.endpoints.pop(req.params["id"], None) is None:
            return self.error(404, "endpoint not found")
        self.state.stop_billing(req.params["id"])
        return Response(status_code=204)

    @route("GET", "/v2/serverless/{id}/workers")
    async def workers(self, req: FakeRequest) -> Response:
        ep = self._endpoint(req)
        body = workers_json(ep, ep.poll())
        if billed_since := self.state.meter(ep, body["summary"]):
            # A billed worker started when its billing did.
            for worker in body["workers"]:
                worker["startedAt"] = billed_since.strftime("%Y-%m-%dT%H:%M:%SZ")
        return json_response(body)

    # ---- billing ------------------------------------------------------------------------
    @route("GET", "/v2/billing/serverless")
    async def serverless_billing(self, req: FakeRequest) -> Response:
        """The billed seconds of the account's endpoints, per endpoint per bucket."""
        try:
            return json_response(
                serverless_billing(self.state.billing, req.query, self.state.clock())
            )
        except BillingQueryError as err:
            return self.error(400, str(err))

    # ---- catalogue and registries ---------------------------------------------------------
    @route("GET", "/v2/catalog/gpus")
    async def gpus(self, req: FakeRequest) -> Response:
        gpus = [gpu_json(*g) for g in GPU_CATALOG]
        if req.query.get("include") == "AVAILABILITY":
            for g in gpus:
                stocked = g["pool"] and g["pool"] not in self.state.no_capacity
                g["availability"] = "HIGH" if stocked else "NONE"
        return json_response({"gpus": gpus})

    @route("POST", "/v2/registries")
    async def create_registry(self, req: FakeRequest) -> Response:
        self._require_write(req)
        body, rid = req.json(), self.state.new_id("reg_")
        self.state.registries[rid] = {"id": rid, **body}
        return json_response({"id": rid, "name": body["name"]}, 201)

    @route("GET", "/v2/registries")
    async def list_registries(self, req: FakeRequest) -> Response:
        regs = [{"id": r["id"], "name": r["name"]} for r in self.state.registries.values()]
        return json_response({"registries": regs})
