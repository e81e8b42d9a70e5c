"""Cloud Run Admin API v2 fake (services and their long-running operations), the one Cloud
Resource Manager call a deployer's permissions are checked with, and the deployed services
themselves, answering HTTP as a private Cloud Run service does.

Every request and answer of the Admin and Resource Manager routes is checked against
Google's own Discovery documents (`specs/cloudrun-v2.subset.discovery.json`,
`specs/cloudresourcemanager-v1.subset.discovery.json`). Keys are access tokens that
`gcp_oauth.GoogleOAuthFake` issued (the shared `GcpState`).

Behaviour, as Google documents it:
- create/patch/delete answer an Operation at once; it is `done` after `polls_to_done`
  reads of it or of its service (no clock: the client's polling moves it on). A create's
  service is `reconciling` until then, then ready with its `uri`.
- Faults, from the state rather than injected statuses: a GPU region this fake does not
  offer (`gpu_regions`) -> 400 FAILED_PRECONDITION; more GPU instances than the region's
  quota (`gpu_quota`) -> 429 RESOURCE_EXHAUSTED; an image in `crashing_images` -> the
  operation ends with an error and the service with CONDITION_FAILED (the container did
  not start); a revoked key fails at the token endpoint.
- A service is private: `POST {uri}/runsync` needs an ID token minted for exactly its
  `uri` by an account holding `run.routes.invoke`; then it echoes the input, RunPod-style.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass, field
from typing import Any, cast

from starlette.responses import Response

from tools.simulator._base import (
    Exchange,
    FakeProvider,
    FakeRequest,
    Refused,
    bearer,
    json_response,
    route,
)
from tools.simulator._discovery import DiscoveryContract, load_discovery
from tools.simulator.gcp_oauth import GcpState, ServiceAccountRecord, json_object

__all__ = ["L4_REGIONS", "CloudRunFake", "FakeService"]

_SERVICES = "/v2/projects/{project}/locations/{location}/services"
_SERVICE = _SERVICES + "/{service}"
_OPERATION = "/v2/projects/{project}/locations/{location}/operations/{operation}"
_TEST_IAM = "/v1/projects/{project}:testIamPermissions"
_SERVICE_TYPE = "type.googleapis.com/google.cloud.run.v2.Service"
_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
           404: "NOT_FOUND", 409: "ALREADY_EXISTS", 429: "RESOURCE_EXHAUSTED",
           500: "INTERNAL", 503: "UNAVAILABLE"}  # fmt: skip
_SERVICE_ID = re.compile(r"[a-z]([-a-z0-9]{0,47}[a-z0-9])?")
# The regions Google lists for L4 GPUs on Cloud Run services (docs: "GPU support for services").
L4_REGIONS = frozenset({"us-central1", "us-east4", "europe-west1", "europe-west4",
                        "asia-southeast1", "asia-south1"})  # fmt: skip
_CRASH_TEXT = (
    "Revision '{rev}' is not ready and cannot serve traffic. The user-provided container "
    "failed to start and listen on the port defined provided by the PORT=8080 environment "
    "variable within the allocated timeout."
)


@dataclass
class FakeService:
    """One service as the fake keeps it."""

    body: dict[str, Any]
    project: str
    location: str
    service_id: str
    uid: str = field(default_factory=lambda: secrets.token_hex(16))
    state: str = "CONDITION_RECONCILING"  # -> CONDITION_SUCCEEDED | CONDITION_FAILED
    uri: str = ""
    message: str = ""

    @property
    def name(self) -> str:
        return f"projects/{self.project}/locations/{self.location}/services/{self.service_id}"

    def gpus(self) -> int:
        """GPU instances it may hold at once (its max instances, if it has a GPU)."""
        template = self.body.get("template", {})
        if not template.get("nodeSelector", {}).get("accelerator"):
            return 0
        return int(template.get("scaling", {}).get("maxInstanceCount", 100))


@dataclass
class FakeOperation:
    name: str
    service: FakeService
    kind: str  # "create" | "update" | "delete"
    polls_left: int
    error: dict[str, Any] | None = None
    done: bool = False


class _GoogleContract:
    """The Admin API and Resource Manager routes, each against its own Discovery document."""

    def __init__(self) -> None:
        run = "run.projects.locations."
        self._parts = [
            DiscoveryContract(load_discovery("cloudrun-v2.subset.discovery.json"), {
                f"POST {_SERVICES}": run + "services.create",
                f"GET {_SERVICE}": run + "services.get",
                f"PATCH {_SERVICE}": run + "services.patch",
                f"DELETE {_SERVICE}": run + "services.delete",
                f"GET {_OPERATION}": run + "operations.get",
            }),
            DiscoveryContract(load_discovery("cloudresourcemanager-v1.subset.discovery.json"), {
                f"POST {_TEST_IAM}": "cloudresourcemanager.projects.testIamPermissions",
            }),
        ]  # fmt: skip

    def _part(self, ex: Exchange) -> DiscoveryContract:
        key = f"{ex.method} {ex.template}"
        return next((p for p in self._parts if key in p.routes), self._parts[0])

    def check_request(self, ex: Exchange) -> list[str]:
        return self._part(ex).check_request(ex)

    def check_response(
        self, ex: Exchange, status: int, headers: dict[str, str], body: bytes
    ) -> list[str]:
        return self._part(ex).check_response(ex, status, headers, body)


class CloudRunFake(FakeProvider):
    """Cloud Run Admin v2 services and operations, over the shared `GcpState`."""

    name = "Google Cloud Run"

    def __init__(self, state: GcpState | None = None) -> None:
        super().__init__(_GoogleContract())
        self.gcp = state or GcpState()
        self.services: dict[tuple[str, str, str], FakeService] = {}
        self.operations: dict[str, FakeOperation] = {}
        self.polls_to_done = 2
        self.gpu_regions: set[str] = set(L4_REGIONS)
        self.gpu_quota: dict[str, int] = {}  # region -> GPU instances; default 3
        self.crashing_images: set[str] = set()

    def reset_state(self) -> None:
        self.services.clear()
        self.operations.clear()
        self.polls_to_done = 2
        self.gpu_regions = set(L4_REGIONS)
        self.gpu_quota.clear()
        self.crashing_images.clear()

    def error(
        self, status: int, message: str, *, headers: dict[str, str] | None = None
    ) -> Response:
        return _google_error(status, _STATUS.get(status, "UNKNOWN"), message, headers)

    # ---- auth -------------------------------------------------------------------
    def _caller(self, req: FakeRequest, project: str, permission: str) -> ServiceAccountRecord:
        account = self.gcp.account_for(bearer(req.raw))
        if account is None:
            raise Refused(self.error(401, "Request had invalid authentication credentials. "
                                     "Expected OAuth 2 access token."))  # fmt: skip
        if account.project_id != project or permission not in account.permissions:
            raise Refused(self.error(403, f"Permission '{permission}' denied on resource "
                                     f"'projects/{project}' (or it may not exist)."))  # fmt: skip
        return account

    # ---- Admin API --------------------------------------------------------------
    @route("POST", _SERVICES)
    async def create(self, req: FakeRequest) -> Response:
        project, location = req.params["project"], req.params["location"]
        self._caller(req, project, "run.services.create")
        service_id = req.query.get("serviceId", "")
        if not _SERVICE_ID.fullmatch(service_id):
            return self.error(400, f"serviceId {service_id!r} must be 1-49 lowercase letters, "
                              "digits or hyphens, starting with a letter.")  # fmt: skip
        if (project, location, service_id) in self.services:
            return self.error(409, f"Resource 'projects/{project}/locations/{location}/services/"
                              f"{service_id}' already exists.")  # fmt: skip
        service = FakeService(req.json(), project, location, service_id)
        if (refusal := self._gpu_refusal(service)) is not None:
            return refusal
        self.services[(project, location, service_id)] = service
        return json_response(self._start(service, "create"))

    def _gpu_refusal(self, service: FakeService) -> Response | None:
        """Google's answer when the GPU cannot be had here, or None."""
        if not (gpus := service.gpus()):
            return None
        region = service.location
        if region not in self.gpu_regions:
            return _google_error(400, "FAILED_PRECONDITION", f"GPU type 'nvidia-l4' is not "
                                 f"supported in region '{region}'.")  # fmt: skip
        limits = service.body["template"]["containers"][0].get("resources", {}).get("limits", {})
        if limits.get("nvidia.com/gpu") != "1" or int(limits.get("cpu", "1")) < 4:
            return self.error(400, "A GPU instance needs nvidia.com/gpu '1' and at least 4 CPU.")
        used = sum(s.gpus() for s in self.services.values() if s.location == region)
        quota = self.gpu_quota.get(region, 3)
        if used + gpus > quota:
            return self.error(429, "Quota exceeded for quota metric 'Total Nvidia L4 GPU "
                              f"allocation, per project per region' in region {region}: "
                              f"limit {quota}, requested {used + gpus}.")  # fmt: skip
        return None

    @route("GET", _SERVICE)
    async def get(self, req: FakeRequest) -> Response:
        service = self._service(req, "run.services.get")
        self._tick(service)
        return json_response(self._view(service, req.base_url))

    @route("PATCH", _SERVICE)
    async def patch(self, req: FakeRequest) -> Response:
        service = self._service(req, "run.services.update")
        service.body = {**service.body, **req.json()}
        service.state = "CONDITION_RECONCILING"
        return json_response(self._start(service, "update"))

    @route("DELETE", _SERVICE)
    async def delete(self, req: FakeRequest) -> Response:
        service = self._service(req, "run.services.delete")
        return json_response(self._start(service, "delete"))

    @route("GET", _OPERATION)
    async def operation(self, req: FakeRequest) -> Response:
        self._caller(req, req.params["project"], "run.operations.get")
        name = "projects/{project}/locations/{location}/operations/{operation}".format(**req.params)
        op = self.found(self.operations, name, f"Operation '{name}' not found.")
        self._advance(op)
        return json_response(self._op_view(op, req.base_url))

    @route("POST", _TEST_IAM)
    async def test_iam_permissions(self, req: FakeRequest) -> Response:
        account = self.gcp.account_for(bearer(req.raw))
        if account is None:
            return self.error(401, "Request had invalid authentication credentials.")
        raw = json_object(req.json()).get("permissions")
        asked = [str(p) for p in cast("list[object]", raw)] if isinstance(raw, list) else []
        same = account.project_id == req.params["project"]
        held = [p for p in asked if same and p in account.permissions]
        return json_response({"permissions": held} if held else {})

    # ---- the deployed service ---------------------------------------------------
    @route("POST", "/_run/{uid}/{rest:path}", checked=False)
    @route("GET", "/_run/{uid}/{rest:path}", checked=False)
    async def invoke(self, req: FakeRequest) -> Response:
        service = next((s for s in self.services.values() if s.uid == req.params["uid"]), None)
        if service is None or service.state != "CONDITION_SUCCEEDED":
            return Response("Service not found", 404, media_type="text/plain")
        issued = self.gcp.id_tokens.get(bearer(req.raw) or "")
        if issued is None or issued.audience != service.uri:
            return Response("Your client does not have permission: 401 Unauthorized", 401,
                            media_type="text/plain")  # fmt: skip
        account = self.gcp.accounts.get(issued.email)
        if account is None or "run.routes.invoke" not in account.permissions:
            return Response("Forbidden: run.routes.invoke is missing", 403, media_type="text/plain")
        payload = json_object(req.json()).get("input")
        return json_response({"id": f"sync-{secrets.token_hex(6)}", "status": "COMPLETED",
                              "output": {"echo": payload, "path": "/" + req.params["rest"]}})  # fmt: skip

    # ---- internals --------------------------------------------------------------
    def _service(self, req: FakeRequest, permission: str) -> FakeService:
        p = req.params
        self._caller(req, p["project"], permission)
        name = f"projects/{p['project']}/locations/{p['location']}/services/{p['service']}"
        return self.found(
            self.services, (p["project"], p["location"], p["service"]),
            f"Resource '{name}' was not found",
        )  # fmt: skip

    def _start(self, service: FakeService, kind: str) -> dict[str, Any]:
        op_id = secrets.token_hex(8)
        name = f"projects/{service.project}/locations/{service.location}/operations/{op_id}"
        op = FakeOperation(name, service, kind, self.polls_to_done)
        self.operations[name] = op
        if op.polls_left <= 0:
            self._finish(op, "")
        return self._op_view(op, "")

    def _tick(self, service: FakeService) -> None:
        """A read of the service moves its pending create or update on, as time would."""
        for op in self.operations.values():
            if op.service is service and not op.done and op.kind != "delete":
                self._advance(op)

    def _advance(self, op: FakeOperation) -> None:
        if op.done:
            return
        op.polls_left -= 1
        if op.polls_left <= 0:
            self._finish(op, "")

    def _finish(self, op: FakeOperation, base_url: str) -> None:
        op.done = True
        service = op.service
        if op.kind == "delete":
            self.services.pop((service.project, service.location, service.service_id), None)
            return
        image = service.body["template"]["containers"][0].get("image", "")
        if image in self.crashing_images:
            service.state = "CONDITION_FAILED"
            service.message = _CRASH_TEXT.format(rev=f"{service.service_id}-00001-abc")
            op.error = {"code": 9, "message": service.message}
            return
        service.state = "CONDITION_SUCCEEDED"

    def _view(self, service: FakeService, base_url: str) -> dict[str, Any]:
        """The service as `services.get` returns it (output-only fields filled in)."""
        if service.state == "CONDITION_SUCCEEDED" and not service.uri and base_url:
            service.uri = f"{base_url}/_run/{service.uid}"
        condition: dict[str, Any] = {"type": "Ready", "state": service.state}
        if service.message:
            condition |= {"message": service.message, "reason": "REVISION_FAILED"}
        view = {
            **service.body, "name": service.name, "uid": service.uid, "generation": "1",
            "reconciling": service.state == "CONDITION_RECONCILING",
            "terminalCondition": condition, "conditions": [condition],
            "etag": f'"{service.uid[:8]}"', "launchStage": "GA",
        }  # fmt: skip
        if service.uri:
            view |= {"uri": service.uri, "urls": [service.uri],
                     "latestReadyRevision": f"{service.name}/revisions/{service.service_id}-00001-abc"}  # fmt: skip
        return view

    def _op_view(self, op: FakeOperation, base_url: str) -> dict[str, Any]:
        view: dict[str, Any] = {"name": op.name, "done": op.done,
                                "metadata": {"@type": _SERVICE_TYPE, "name": op.service.name}}  # fmt: skip
        if op.done and op.error:
            view["error"] = op.error
        elif op.done:
            view["response"] = {"@type": _SERVICE_TYPE, **self._view(op.service, base_url)}
        return view


def _google_error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> Response:
    body = {"error": {"code": status, "message": message, "status": code}}
    return Response(json.dumps(body), status, headers=headers, media_type="application/json")
