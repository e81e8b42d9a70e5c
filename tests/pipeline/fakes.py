"""The RunPod control-plane fake, extended with what a deployment meets and the shared fake
lacks: scripted worker lives (throttled, pulling, unhealthy), worker logs as Server-Sent
Events, and deleting registry credentials. Every route stays checked against RunPod's
published OpenAPI document.

    fake.script = WorkerScript(["THROTTLED"] * 3 + ["IDLE"])
    fake.script = WorkerScript(["INITIALIZING", "UNHEALTHY"], logs=["CUDA out of memory"])

A script applies to endpoints created after it is set. Each `/workers` poll takes the next
status (the last one repeats). "PLACED" is INITIALIZING on an assigned machine (RunPod
then pulls the image). Once a poll shows IDLE, the endpoint's jobs run as in the base fake.
`hold()` keeps new endpoints initializing until `release()`.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import Response

from tools.simulator._base import Contract, Exchange, FakeRequest, json_response, route
from tools.simulator.runpod import FakeEndpoint, RunPodFake, RunPodState

_NOW = "2026-01-01T00:00:00Z"


@dataclass
class WorkerScript:
    statuses: list[str]
    logs: list[str] = field(default_factory=list)


class _EventStreamAware:
    """The RunPod contract, with Server-Sent Events bodies checked as what the spec says
    they are (text: `id:` and `data: {ts, source, line}` fields). openapi-core hands such
    a body to the schema as bytes, so its "not of type string" is not a finding."""

    def __init__(self, inner: Contract) -> None:
        self.inner = inner

    def check_request(self, ex: Exchange) -> list[str]:
        return self.inner.check_request(ex)

    def check_response(
        self, ex: Exchange, status: int, headers: dict[str, str], body: bytes
    ) -> list[str]:
        problems = self.inner.check_response(ex, status, headers, body)
        if not headers.get("content-type", "").startswith("text/event-stream"):
            return problems
        problems = [p for p in problems if "is not of type 'string'" not in p]
        for event in body.decode("utf-8").strip().split("\n\n"):
            fields = dict(line.split(": ", 1) for line in event.splitlines())
            data = json.loads(fields["data"])
            if set(fields) != {"id", "data"} or set(data) != {"ts", "source", "line"}:
                problems.append(f"malformed log event {event!r}")
        return problems


class DeployRunPodFake(RunPodFake):
    """`RunPodFake` plus worker scripts, logs and registry deletion."""

    def __init__(self, state: RunPodState | None = None) -> None:
        super().__init__(state)
        assert self.contract is not None
        self.contract = _EventStreamAware(self.contract)
        self.script: WorkerScript | None = None
        self.scripts: dict[str, WorkerScript] = {}
        self.polled = threading.Event()
        self.held = False

    def reset_state(self) -> None:
        super().reset_state()
        self.script, self.scripts, self.held = None, {}, False
        self.polled = threading.Event()

    def hold(self) -> None:
        """New endpoints stay INITIALIZING (and say so) until `release()`."""
        self.held = True
        self.script = WorkerScript(["INITIALIZING"])

    def release(self) -> None:
        self.held = False
        for script in self.scripts.values():
            script.statuses = ["IDLE"]

    @route("POST", "/v2/serverless")
    async def create_endpoint(self, req: FakeRequest) -> Response:
        response = await super().create_endpoint(req)
        if response.status_code == 201 and self.script is not None:
            created = json.loads(bytes(response.body))
            self.scripts[created["id"]] = WorkerScript(
                list(self.script.statuses), list(self.script.logs)
            )
        return response

    @route("GET", "/v2/serverless/{id}/workers")
    async def workers(self, req: FakeRequest) -> Response:
        ep = self.state.endpoints.get(req.params["id"])
        if ep is None:
            return self.error(404, "endpoint not found")
        self.polled.set()
        script = self.scripts.get(ep.data["id"])
        if script is None:
            return await super().workers(req)
        status = script.statuses.pop(0) if len(script.statuses) > 1 else script.statuses[0]
        if status == "IDLE":
            ep.polls_left = 0  # the job API now runs this endpoint's jobs
        body = _workers(ep, status)
        self.state.meter(ep, body["summary"])
        return json_response(body)

    @route("GET", "/v2/serverless/{id}/workers/{workerId}/logs")
    async def worker_logs(self, req: FakeRequest) -> Response:
        ep = self.state.endpoints.get(req.params["id"])
        if ep is None:
            return self.error(404, "endpoint not found")
        script = self.scripts.get(ep.data["id"])
        lines = script.logs if script else ["worker starting"]
        body = "".join(
            f"id: {_NOW}/{n:012d}\ndata: "
            + json.dumps({"ts": _NOW, "source": "container", "line": line})
            + "\n\n"
            for n, line in enumerate(lines)
        )
        return Response(
            body, 200, media_type="text/event-stream", headers={"cache-control": "no-cache"}
        )

    @route("DELETE", "/v2/registries/{id}")
    async def delete_registry(self, req: FakeRequest) -> Response:
        self._require_write(req)
        if self.state.registries.pop(req.params["id"], None) is None:
            return self.error(404, "registry not found")
        return Response(status_code=204)


def _workers(ep: FakeEndpoint, status: str) -> dict[str, Any]:
    placed = status != "INITIALIZING" and status != "THROTTLED"
    shown = "INITIALIZING" if status == "PLACED" else status
    count = 1 if ep.data["workers"]["max"] > 0 else 0
    workers = [
        {
            "id": f"{ep.data['id']}-w0",
            "status": shown,
            "isStale": False,
            "version": 1,
            "gpuCount": ep.data["gpu"]["count"],
            "image": ep.data["image"],
            "uptimeSeconds": 30 if placed else None,
            "gpuTypeId": "NVIDIA GeForce RTX 4090" if placed else None,
            "dataCenterId": "US-TX-3" if placed else None,
            "startedAt": _NOW if placed else None,
        }
        for _ in range(count)
    ]
    summary = dict.fromkeys(("running", "idle", "initializing", "throttled", "unhealthy"), 0)
    if count:
        summary[shown.lower()] = count
    return {"workers": workers, "summary": {**summary, "total": count}, "endpointVersion": 1}
