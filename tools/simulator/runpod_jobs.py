"""RunPod serverless job API fake (`https://api.runpod.ai/v2/{endpoint_id}/...`).

RunPod publishes no machine-readable description of this API, so requests and responses
are checked against JSON Schemas written from docs `serverless/endpoints/
operation-reference.mdx` (below). State is shared with `RunPodFake` (`RunPodState`).
vLLM endpoints also serve OpenAI's chat completions (`/openai/v1/chat/completions`): here a
short streamed echo of the last message, cut at `max_tokens` words, as server-sent events.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from tools.simulator._base import FakeProvider, FakeRequest, bearer, json_response, route
from tools.simulator._contract import RouteSchema, SchemaContract
from tools.simulator.runpod import FakeEndpoint, FakeJob, RunPodState

_JOB_REQUEST = {
    "type": "object",
    "required": ["input"],
    "additionalProperties": False,
    "properties": {
        "input": {"type": "object"},
        "webhook": {"type": "string"},
        "policy": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "executionTimeout": {"type": "integer"},
                "lowPriority": {"type": "boolean"},
                "ttl": {"type": "integer"},
            },
        },
        "s3Config": {"type": "object"},
    },
}
_STATUS = {"enum": ["IN_QUEUE", "IN_PROGRESS", "COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"]}
_JOB = {
    "type": "object",
    "required": ["id", "status"],
    "properties": {"id": {"type": "string"}, "status": _STATUS, "output": {}, "error": {"type": "string"},
                   "delayTime": {"type": "integer"}, "executionTime": {"type": "integer"}},
}  # fmt: skip
_COUNTS = {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}}
_HEALTH = {
    "type": "object",
    "required": ["jobs", "workers"],
    "properties": {
        "jobs": {
            **_COUNTS,
            "required": ["completed", "failed", "inProgress", "inQueue", "retried"],
        },
        "workers": {**_COUNTS, "required": ["idle", "running"]},
    },
}
_CHAT = {  # OpenAI's chat-completions body, the fields the generated function sends
    "type": "object", "additionalProperties": False, "required": ["model", "messages"],
    "properties": {
        "model": {"type": "string", "minLength": 1},
        "messages": {"type": "array", "minItems": 1, "items": {
            "type": "object", "additionalProperties": False, "required": ["role", "content"],
            "properties": {"role": {"enum": ["system", "user", "assistant"]}, "content": {"type": "string"}}}},
        "stream": {"type": "boolean"},
        "max_tokens": {"type": "integer", "minimum": 1},
        "temperature": {"type": "number", "minimum": 0, "maximum": 2},
    },
}  # fmt: skip
CONTRACT = SchemaContract({
    "GET /v2/{endpoint_id}/health": RouteSchema(responses={200: _HEALTH}),
    "POST /v2/{endpoint_id}/run": RouteSchema(request=_JOB_REQUEST, responses={200: _JOB}),
    "POST /v2/{endpoint_id}/runsync": RouteSchema(request=_JOB_REQUEST, responses={200: _JOB}),
    "GET /v2/{endpoint_id}/status/{job_id}": RouteSchema(responses={200: _JOB}),
    "POST /v2/{endpoint_id}/cancel/{job_id}": RouteSchema(responses={200: _JOB}),
    "POST /v2/{endpoint_id}/openai/v1/chat/completions": RouteSchema(request=_CHAT),
})  # fmt: skip


class RunPodJobsFake(FakeProvider):
    """Jobs on the endpoints that the control-plane fake created."""

    name = "RunPod jobs"

    def __init__(self, state: RunPodState) -> None:
        super().__init__(CONTRACT)
        self.state = state
        # The chat-completions bodies received, in order (what a generated app sent).
        self.chats: list[dict[str, Any]] = []

    def reset_state(self) -> None:
        self.chats = []

    def authenticate(self, request: Request) -> str | None:
        return self.state.keys.get(bearer(request) or "")

    def error(
        self, status: int, message: str, *, headers: dict[str, str] | None = None
    ) -> Response:
        return json_response({"error": message}, status, headers)

    def _endpoint(self, req: FakeRequest) -> FakeEndpoint:
        """The endpoint the path names, or `Refused` with a 404."""
        return self.found(self.state.endpoints, req.params["endpoint_id"], "endpoint not found")

    def _submit(self, req: FakeRequest) -> FakeJob:
        """A new job on the request's endpoint, queued with the request's input."""
        ep = self._endpoint(req)
        job = FakeJob(self.state.new_id("job-"), req.json()["input"])
        ep.jobs[job.id] = job
        return job

    def _job(self, req: FakeRequest) -> FakeJob:
        """The job the path names, or `Refused` with a 404 (for it or its endpoint)."""
        return self.found(self._endpoint(req).jobs, req.params["job_id"], "job not found")

    def _advance(self, ep: FakeEndpoint, job: FakeJob) -> None:
        """One poll of a job: it runs once a worker is up, and finishes on the next poll."""
        if job.status == "IN_QUEUE" and ep.poll() == "IDLE":
            job.status = "IN_PROGRESS"
        elif job.status == "IN_PROGRESS":
            try:
                job.output, job.status = self.state.handler(job.input), "COMPLETED"
            except Exception as err:  # The worker's handler failed: so does the job.
                job.error, job.status = f"{type(err).__name__}: {err}", "FAILED"

    @route("GET", "/v2/{endpoint_id}/health")
    async def health(self, req: FakeRequest) -> Response:
        ep = self._endpoint(req)
        status = ep.poll()
        count = max(1, ep.data["workers"]["min"]) if ep.data["workers"]["max"] > 0 else 0
        self.state.meter(ep, {"idle": count if status == "IDLE" else 0})
        jobs = [j.status for j in ep.jobs.values()]
        return json_response({
            "jobs": {"completed": jobs.count("COMPLETED"), "failed": jobs.count("FAILED"),
                     "inProgress": jobs.count("IN_PROGRESS"), "inQueue": jobs.count("IN_QUEUE"), "retried": 0},
            "workers": {"idle": count if status == "IDLE" else 0, "running": 0,
                        "initializing": count if status == "INITIALIZING" else 0,
                        "ready": count if status == "IDLE" else 0, "throttled": 0, "unhealthy": 0},
        })  # fmt: skip

    @route("POST", "/v2/{endpoint_id}/run")
    async def run(self, req: FakeRequest) -> Response:
        job = self._submit(req)
        return json_response({"id": job.id, "status": job.status})

    @route("POST", "/v2/{endpoint_id}/runsync")
    async def runsync(self, req: FakeRequest) -> Response:
        ep, job = self._endpoint(req), self._submit(req)
        for _ in range(2):  # A ready endpoint finishes within the wait; a cold one does not.
            self._advance(ep, job)
        return json_response(_job_json(job))

    @route("GET", "/v2/{endpoint_id}/status/{job_id}")
    async def status(self, req: FakeRequest) -> Response:
        job = self._job(req)
        self._advance(self._endpoint(req), job)
        return json_response(_job_json(job))

    @route("POST", "/v2/{endpoint_id}/cancel/{job_id}")
    async def cancel(self, req: FakeRequest) -> Response:
        job = self._job(req)
        if job.status in {"IN_QUEUE", "IN_PROGRESS"}:
            job.status = "CANCELLED"
        return json_response(_job_json(job))

    @route("POST", "/v2/{endpoint_id}/openai/v1/chat/completions")
    async def chat(self, req: FakeRequest) -> Response:
        self._endpoint(req)  # an unknown endpoint answers 404
        body = req.json()
        self.chats.append(body)
        words = f"Echo from {body['model']}: {body['messages'][-1]['content']}".split(" ")
        limit = body.get("max_tokens", len(words))  # vLLM stops at max_tokens: a word a token

        async def events() -> AsyncIterator[bytes]:
            for i, word in enumerate(words[:limit]):
                last = i == min(limit, len(words)) - 1
                delta = {"content": word if i == 0 else f" {word}"}
                finish = ("stop" if limit >= len(words) else "length") if last else None
                chunk = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": body["model"],
                         "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}  # fmt: skip
                yield f"data: {json.dumps(chunk)}\n\n".encode()
            yield b"data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")


def _job_json(job: FakeJob) -> dict[str, Any]:
    data: dict[str, Any] = {"id": job.id, "status": job.status, "delayTime": 120}
    if job.status == "COMPLETED":
        data |= {"output": job.output, "executionTime": 35}
    if job.error is not None:
        data["error"] = job.error
    return data
