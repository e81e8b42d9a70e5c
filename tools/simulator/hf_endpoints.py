"""Hugging Face Inference Endpoints fake: the `/v2` API that `huggingface_hub` calls, and the
endpoints' own inference URLs.

Routes (`huggingface_hub` 2.4): `GET /v2/provider/{ns}` (the hardware catalog with hourly
prices and the namespace's quota), `GET|POST /v2/endpoint/{ns}`, `GET|PUT|DELETE
/v2/endpoint/{ns}/{name}`, `POST .../pause|resume|scale-to-zero`. Each endpoint's URL is
served here too: `POST /inference/{ns}/{name}` (and `GET .../health`, and for
text-generation the OpenAI-compatible `POST .../v1/chat/completions` that
text-generation-inference serves, streamed), answering 503 while it is not running, the
cold start that a scaled-to-zero endpoint goes through.

Hugging Face publishes no description of this API that can be kept (only a live Swagger
page), so requests and answers are checked against JSON Schemas written from
`huggingface_hub`'s own payloads (`_hf_endpoints_contract`).

States: a created endpoint is `pending`, then `initializing`, then `running`, moving on
after `polls_per_state` reads of it (`GET`); a scaled-to-zero one wakes after
`wake_requests` inference calls answered 503. Faults, as knobs:
- `quota[instance_type]`: accelerators the namespace may run (create answers 400 beyond);
- `set_status(hardware_id, "not_available")`: no such GPU in the region now;
- `failing_models[repo_id] = text`: the endpoint ends `failed` with that message;
- `revoke(token)`: the token is gone (401 here and on the Hub fake).
A token that may not manage endpoints (a read token, or a fine-grained one without
"inference.endpoints.write") is refused a create with 403, as Hugging Face refuses it.

Tokens and gated-repo grants are the Hub fake's (`HuggingFaceFake`), as on the real service.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from tools.simulator._base import FakeProvider, FakeRequest, Refused, json_response, route
from tools.simulator._hf_endpoints_contract import contract
from tools.simulator.huggingface import HfUser, HuggingFaceFake

__all__ = ["FakeEndpoint", "Hardware", "HfEndpointsFake", "default_hardware"]

_ITEM = "/v2/endpoint/{namespace}/{name}"


@dataclass
class Hardware:
    """One offer of the provider catalog (`GET /v2/provider/{ns}`)."""

    vendor: str
    region: str
    instance_type: str
    instance_size: str
    architecture: str
    num_accelerators: int
    gpu_memory_gb: int | None
    price_per_hour: float
    accelerator: str = "gpu"
    status: str = "available"

    @property
    def id(self) -> str:
        return f"{self.vendor}-{self.region}-{self.instance_type}-{self.instance_size}"


def default_hardware() -> list[Hardware]:
    """A small catalog: GPUs on two vendors, and one CPU instance (never a GPU offer)."""
    return [
        Hardware("aws", "us-east-1", "nvidia-t4", "x1", "NVIDIA T4", 1, 16, 0.5),
        Hardware("aws", "us-east-1", "nvidia-l4", "x1", "NVIDIA L4", 1, 24, 0.8),
        Hardware("aws", "us-east-1", "nvidia-a10g", "x1", "NVIDIA A10G", 1, 24, 1.0),
        Hardware("aws", "us-east-1", "nvidia-l40s", "x4", "NVIDIA L40S", 4, 192, 8.3),
        Hardware("aws", "us-east-1", "nvidia-a100", "x1", "NVIDIA A100", 1, 80, 2.5),
        Hardware("gcp", "us-east4", "nvidia-l4", "x1", "NVIDIA L4", 1, 24, 0.7),
        Hardware("aws", "us-east-1", "intel-spr", "x2", "Intel Sapphire Rapids", 1, None, 0.067,
                 accelerator="cpu"),
    ]  # fmt: skip


@dataclass
class FakeEndpoint:
    """An endpoint as the service keeps it; `raw` is what the API answers."""

    namespace: str
    raw: dict[str, Any]
    hardware: Hardware
    reads: int = 0  # GETs since the last state change
    wake_calls: int = 0  # 503s answered since it began to wake

    @property
    def state(self) -> str:
        return str(self.raw["status"]["state"])

    @property
    def replicas(self) -> int:
        return int(self.raw["compute"]["scaling"]["maxReplica"])


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


@dataclass
class _Knobs:
    polls_per_state: int = 2
    wake_requests: int = 2
    quota: dict[str, int] = field(default_factory=dict[str, int])
    failing_models: dict[str, str] = field(default_factory=dict[str, str])


class HfEndpointsFake(FakeProvider):
    """Inference Endpoints for the Hub fake's users and orgs."""

    name = "Hugging Face Inference Endpoints"

    def __init__(self, hub: HuggingFaceFake | None = None) -> None:
        super().__init__(contract())
        self.hub = hub or HuggingFaceFake()
        self.endpoints: dict[tuple[str, str], FakeEndpoint] = {}
        self.hardware: list[Hardware] = []
        self.knobs = _Knobs()
        self.reset_state()

    def reset_state(self) -> None:
        self.endpoints = {}
        self.hardware = default_hardware()
        self.knobs = _Knobs()

    # ---- test knobs ---------------------------------------------------------------------
    @property
    def quota(self) -> dict[str, int]:
        """Accelerators of each instance type a namespace may run (default 8)."""
        return self.knobs.quota

    @property
    def failing_models(self) -> dict[str, str]:
        return self.knobs.failing_models

    def set_status(self, hardware_id: str, status: str) -> None:
        for i, hw in enumerate(self.hardware):
            if hw.id == hardware_id:
                self.hardware[i] = dataclasses.replace(hw, status=status)
                return
        raise KeyError(hardware_id)

    def revoke(self, token: str) -> None:
        """The user revoked the token on huggingface.co: every service rejects it now."""
        self.hub.users.pop(token, None)

    def live(self) -> list[FakeEndpoint]:
        """Endpoints that exist (any state)."""
        return list(self.endpoints.values())

    # ---- protocol details ---------------------------------------------------------------
    def authenticate(self, request: Request) -> HfUser | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return self.hub.users.get(token) if scheme == "Bearer" else None

    def error(
        self, status: int, message: str, *, headers: dict[str, str] | None = None
    ) -> Response:
        return json_response({"error": message}, status, headers)

    def _namespace(self, req: FakeRequest) -> str:
        ns, user = req.params["namespace"], req.account
        if not isinstance(user, HfUser) or ns not in {user.name, *user.orgs}:
            raise Refused(self.error(401, f"You don't have access to namespace {ns}"))
        return ns

    def _endpoint(self, req: FakeRequest) -> FakeEndpoint:
        key = (self._namespace(req), req.params["name"])
        return self.found(self.endpoints, key, f"Endpoint {req.params['name']} not found")

    def _hardware(self, vendor: str, region: str, itype: str, size: str) -> Hardware | None:
        for hw in self.hardware:
            if (hw.vendor, hw.region, hw.instance_type, hw.instance_size) == (
                vendor, region, itype, size,
            ):  # fmt: skip
                return hw
        return None

    def _used(self, ns: str, instance_type: str) -> int:
        return sum(
            e.replicas * e.hardware.num_accelerators
            for (n, _), e in self.endpoints.items()
            if n == ns and e.hardware.instance_type == instance_type
        )

    def _set_state(self, ep: FakeEndpoint, state: str, message: str = "") -> None:
        status = ep.raw["status"]
        status |= {"state": state, "updatedAt": _now(), "message": message or state}
        status["readyReplica"] = 1 if state == "running" else 0
        ep.reads, ep.wake_calls = 0, 0

    def _advance(self, ep: FakeEndpoint) -> None:
        """One read of the endpoint: after `polls_per_state` reads it moves on a state."""
        ep.reads += 1
        if ep.reads < self.knobs.polls_per_state:
            return
        if ep.state == "pending":
            self._set_state(ep, "initializing", "Endpoint is initializing")
        elif ep.state == "initializing":
            repo = ep.raw["model"]["repository"]
            if (failure := self.knobs.failing_models.get(repo)) is not None:
                self._set_state(ep, "failed", failure)
            else:
                self._set_state(ep, "running", "Endpoint is running")

    # ---- catalog and collection -------------------------------------------------------
    @route("GET", "/v2/provider/{namespace}")
    async def providers(self, req: FakeRequest) -> Response:
        ns = self._namespace(req)
        vendors: dict[str, dict[str, list[dict[str, Any]]]] = {}
        for hw in self.hardware:
            vendors.setdefault(hw.vendor, {}).setdefault(hw.region, []).append(
                self._compute_json(ns, hw)
            )
        return json_response({"vendors": [
            {"name": v, "regions": [{"name": r, "computes": c} for r, c in regions.items()]}
            for v, regions in vendors.items()
        ]})  # fmt: skip

    def _compute_json(self, ns: str, hw: Hardware) -> dict[str, Any]:
        return {
            "id": hw.id, "accelerator": hw.accelerator, "instanceType": hw.instance_type,
            "instanceSize": hw.instance_size, "architecture": hw.architecture,
            "numAccelerators": hw.num_accelerators, "numCpus": 8, "memoryGb": 32,
            "gpuMemoryGb": hw.gpu_memory_gb, "pricePerHour": hw.price_per_hour,
            "status": hw.status,
            "quota": {"maxAccelerators": self.knobs.quota.get(hw.instance_type, 8),
                      "usedAccelerators": self._used(ns, hw.instance_type)},
        }  # fmt: skip

    @route("GET", "/v2/endpoint/{namespace}")
    async def list_endpoints(self, req: FakeRequest) -> Response:
        ns = self._namespace(req)
        items = [e.raw for (n, _), e in self.endpoints.items() if n == ns]
        return json_response({"items": items})

    @route("POST", "/v2/endpoint/{namespace}")
    async def create(self, req: FakeRequest) -> Response:
        ns, body = self._namespace(req), req.json()
        if not req.account.may_manage_endpoints():
            return self.error(403, (
                "This token does not have permission to manage Inference Endpoints in "
                f"{ns}: it needs the write role or the inference.endpoints.write permission"
            ))  # fmt: skip
        name, compute, provider = body["name"], body["compute"], body["provider"]
        if (ns, name) in self.endpoints:
            return self.error(409, f"Endpoint {name} already exists")
        hw = self._hardware(provider["vendor"], provider["region"], compute["instanceType"],
                            compute["instanceSize"])  # fmt: skip
        where = f"{provider['vendor']}/{provider['region']}"
        if hw is None or hw.accelerator != compute["accelerator"]:
            return self.error(400, f"Instance {compute['instanceType']} is not offered in {where}")
        if hw.status not in {"available", "low_availability"}:
            return self.error(
                400, f"No {hw.architecture} capacity available in {where} at the moment"
            )
        need = compute["scaling"]["maxReplica"] * hw.num_accelerators
        limit, used = self.knobs.quota.get(hw.instance_type, 8), self._used(ns, hw.instance_type)
        if used + need > limit:
            return self.error(400, (
                f"Quota exceeded: {hw.instance_type} accelerators, {used} of {limit} in use and "
                f"{need} requested. Request a quota increase at api-enterprise@huggingface.co"
            ))  # fmt: skip
        if problem := self._repo_problem(req.account, body["model"]["repository"]):
            return self.error(400, problem)
        ep = FakeEndpoint(ns, self._new_raw(req, ns, body), hw)
        self.endpoints[(ns, name)] = ep
        return json_response(ep.raw)

    def _repo_problem(self, user: HfUser, repo_id: str) -> str | None:
        repo = self.hub.repos.get(repo_id)
        if repo is None:
            return f"Repository {repo_id} not found"
        if repo.gated and (user.name, repo_id) not in self.hub.granted:
            return f"Access to model {repo_id} is restricted: request access on the Hub first"
        return None

    def _new_raw(self, req: FakeRequest, ns: str, body: dict[str, Any]) -> dict[str, Any]:
        model = dict(body["model"])
        model.setdefault("task", None)
        model.setdefault("revision", None)
        image: dict[str, dict[str, Any]] = model.get("image", {})
        variant = next(iter(image), "huggingface")
        health = str((image.get(variant) or {}).get("healthRoute") or "/health")
        url = f"{req.base_url}/inference/{ns}/{body['name']}"
        who = {"id": f"id-{req.account.name}", "name": req.account.name}
        status = {
            "state": "pending", "message": "Endpoint is pending", "url": url, "readyReplica": 0,
            "targetReplica": body["compute"]["scaling"]["maxReplica"], "createdAt": _now(),
            "updatedAt": _now(), "createdBy": who, "updatedBy": who, "private": None,
        }  # fmt: skip
        return {
            "name": body["name"], "type": body["type"], "accountId": None,
            "compute": json.loads(json.dumps(body["compute"])), "model": model,
            "provider": dict(body["provider"]), "status": status, "healthRoute": health,
            "tags": list(body.get("tags", [])),
        }  # fmt: skip

    # ---- one endpoint -----------------------------------------------------------------
    @route("GET", _ITEM)
    async def get(self, req: FakeRequest) -> Response:
        ep = self._endpoint(req)
        self._advance(ep)
        return json_response(ep.raw)

    @route("PUT", _ITEM)
    async def update(self, req: FakeRequest) -> Response:
        ep, body = self._endpoint(req), req.json()
        compute = body.get("compute", {})
        ep.raw["compute"]["scaling"] |= compute.pop("scaling", {})
        ep.raw["compute"] |= compute
        ep.raw["model"] |= body.get("model", {})
        if "tags" in body:
            ep.raw["tags"] = list(body["tags"])
        return json_response(ep.raw)

    @route("DELETE", _ITEM)
    async def delete(self, req: FakeRequest) -> Response:
        ep = self._endpoint(req)
        del self.endpoints[(ep.namespace, ep.raw["name"])]
        return Response(b"", 200)

    @route("POST", _ITEM + "/pause")
    async def pause(self, req: FakeRequest) -> Response:
        ep = self._endpoint(req)
        self._set_state(ep, "paused", "Endpoint is paused")
        return json_response(ep.raw)

    @route("POST", _ITEM + "/resume")
    async def resume(self, req: FakeRequest) -> Response:
        ep = self._endpoint(req)
        if ep.state == "running":
            return self.error(400, "Endpoint is already running")
        self._set_state(ep, "pending", "Endpoint is resuming")
        return json_response(ep.raw)

    @route("POST", _ITEM + "/scale-to-zero")
    async def scale_to_zero(self, req: FakeRequest) -> Response:
        ep = self._endpoint(req)
        self._set_state(ep, "scaledToZero", "Endpoint is scaled to zero")
        return json_response(ep.raw)

    # ---- the endpoint's own URL (not part of the management API) -------------------------
    @route("GET", "/inference/{namespace}/{name}/health", checked=False)
    async def health(self, req: FakeRequest) -> Response:
        ep = self._endpoint(req)
        return json_response({}) if ep.state == "running" else self._cold(ep)

    @route("POST", "/inference/{namespace}/{name}", checked=False)
    async def infer(self, req: FakeRequest) -> Response:
        ep = self._endpoint(req)
        if ep.state != "running":
            return self._cold(ep)
        body: dict[str, Any] = req.json() or {}
        inputs = body.get("inputs", "")
        task = ep.raw["model"].get("task")
        if task == "text-generation":
            return json_response([{"generated_text": f"{inputs} and so on."}])
        if task in {"feature-extraction", "sentence-similarity"}:
            return json_response([[0.25, -0.5, 0.75]])
        return json_response({"task": task, "ok": True})

    @route("POST", "/inference/{namespace}/{name}/v1/chat/completions", checked=False)
    async def chat(self, req: FakeRequest) -> Response:
        """TGI's Messages API: the last message echoed back, one SSE chunk per word."""
        ep = self._endpoint(req)
        if ep.state != "running":
            return self._cold(ep)
        body: dict[str, Any] = req.json() or {}
        words = f"Echo: {body['messages'][-1]['content']}".split(" ")
        chunks = [{"object": "chat.completion.chunk", "model": body.get("model"),
                   "choices": [{"index": 0, "delta": {"content": w if i == 0 else f" {w}"}}]}
                  for i, w in enumerate(words)]  # fmt: skip
        lines = [f"data: {json.dumps(c)}\n\n".encode() for c in chunks] + [b"data: [DONE]\n\n"]
        return StreamingResponse(iter(lines), media_type="text/event-stream")

    def _cold(self, ep: FakeEndpoint) -> Response:
        """503 while the endpoint is not running; a scaled-to-zero one starts to wake."""
        if ep.state == "scaledToZero":
            self._set_state(ep, "initializing", "Endpoint is scaling up")
        if ep.state == "initializing" and ep.raw["status"]["message"] == "Endpoint is scaling up":
            ep.wake_calls += 1
            if ep.wake_calls >= self.knobs.wake_requests:
                self._set_state(ep, "running", "Endpoint is running")
        return self.error(503, "Service Unavailable: the endpoint is starting up")
