"""Google Cloud Run Admin API v2 over httpx: GPU services and their long-running
operations, the project permission check, and Artifact Registry's Docker token handshake.

```
CloudRunClient(token=<access token>)
  create_service(project, region, id, GpuServiceSpec) -> Operation   (409: Conflict)
  get_service(name) -> Service | None                                 (404: None)
  update_service(name, spec) -> Operation
  delete_service(name) -> Operation | None                            (404: None: gone)
  wait_operation(op, poll_s, timeout_s) -> Operation                  polled to done
  missing_permissions(project, [perm]) -> [perm]                      Resource Manager
ArtifactRegistry.check_access(access token)                           GET /v2/ handshake
```

A GPU service (Google's "GPU support for services"): `nodeSelector.accelerator:
nvidia-l4`, `resources.limits` with `nvidia.com/gpu: "1"` and at least 4 CPU and 16 GiB,
CPU always allocated (`cpuIdle: false`, which GPUs require), no zonal redundancy (cheaper,
and quota-friendlier), min/max instances and per-instance concurrency. The service is
private: nothing grants `allUsers` the invoker role, so each call needs an ID token.

Google's errors (`{"error": {code, message, status}}`) are mapped by their `status`:
RESOURCE_EXHAUSTED for a quota -> `GpuQuotaExceeded` (not retried: waiting does not raise
a quota); FAILED_PRECONDITION about a GPU -> `GpuUnavailable`; an operation that ends with
an error -> `ServiceFailed`.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from pydantic import SecretStr

from tools.clients import _messages
from tools.clients._http import HttpApi, Retry, as_dict, path_segment
from tools.clients._messages import ProviderInfo
from tools.clients.errors import (
    AuthError,
    InvalidRequest,
    NotFound,
    ProviderError,
    RateLimited,
    Timeout,
)
from tools.clients.gcp_auth import GOOGLE_INFO

__all__ = [
    "CLOUDRUN_INFO", "ArtifactRegistry", "CloudRunClient", "GpuQuotaExceeded",
    "GpuServiceSpec", "GpuUnavailable", "ServiceFailed", "gpu_service_body",
]  # fmt: skip

CLOUDRUN_INFO = ProviderInfo(
    name="Google Cloud Run",
    keys_url=GOOGLE_INFO.keys_url,
    status_url=GOOGLE_INFO.status_url,
    permission_hint=GOOGLE_INFO.permission_hint,
)
_QUOTAS_URL = "https://console.cloud.google.com/iam-admin/quotas"


class GpuQuotaExceeded(RateLimited):
    """The project's GPU quota in the region is used up; retrying soon does not help."""

    retryable = False


class GpuUnavailable(InvalidRequest):
    """Cloud Run cannot place this GPU in this region."""


class ServiceFailed(ProviderError):
    """The service's revision did not become ready (its container did not start)."""


@dataclass(frozen=True)
class GpuServiceSpec:
    """What one GPU service runs and how it scales."""

    image: str
    accelerator: str = "nvidia-l4"
    cpu: str = "4"  # L4 needs at least 4 CPU and 16 GiB
    memory: str = "16Gi"
    min_instances: int = 0
    max_instances: int = 1
    concurrency: int = 1
    port: int = 8080
    timeout_s: int = 600
    labels: Mapping[str, str] = field(default_factory=dict[str, str])
    env: Mapping[str, str] = field(default_factory=dict[str, str])


def gpu_service_body(spec: GpuServiceSpec) -> dict[str, Any]:
    """The `Service` resource (Cloud Run Admin v2) for `spec`."""
    container: dict[str, Any] = {
        "image": spec.image,
        "ports": [{"containerPort": spec.port}],
        "resources": {
            "limits": {"cpu": spec.cpu, "memory": spec.memory, "nvidia.com/gpu": "1"},
            "cpuIdle": False,
            "startupCpuBoost": True,
        },
        # The worker loads the model before it listens on the port, which on a GPU can take
        # far longer than the default TCP probe's 240 s. Cloud Run allows a GPU service's
        # startup probe up to 1800 s in all (failureThreshold x periodSeconds; 240 s at most
        # per period): 7 x 240 s = 28 min.
        "startupProbe": {
            "tcpSocket": {"port": spec.port},
            "periodSeconds": 240,
            "timeoutSeconds": 240,
            "failureThreshold": 7,
        },
    }
    if spec.env:
        container["env"] = [{"name": k, "value": v} for k, v in spec.env.items()]
    return {
        "labels": dict(spec.labels),
        "ingress": "INGRESS_TRAFFIC_ALL",  # reachable, but only with an ID token: private
        "invokerIamDisabled": False,
        "template": {
            "containers": [container],
            "nodeSelector": {"accelerator": spec.accelerator},
            "gpuZonalRedundancyDisabled": True,
            "scaling": {
                "minInstanceCount": spec.min_instances,
                "maxInstanceCount": spec.max_instances,
            },
            "maxInstanceRequestConcurrency": spec.concurrency,
            "timeout": f"{spec.timeout_s}s",
        },
    }


class _GoogleApi(HttpApi):
    """`HttpApi` that reads Google's error envelope for the errors worth naming."""

    def error_from(self, resp: httpx.Response, what: str) -> ProviderError:
        error = as_dict(as_dict(_json_or_none(resp)).get("error"))
        status, said = str(error.get("status", "")), str(error.get("message", ""))
        said = _messages.scrub(said, self.secrets())[:300].rstrip(".")
        rid = _messages.request_id(resp.headers)
        name = self.info.name
        if resp.status_code == 429 and status == "RESOURCE_EXHAUSTED" and "quota" in said.lower():
            return GpuQuotaExceeded(
                f"{name}: the project's GPU quota is used up (429 RESOURCE_EXHAUSTED: {said}). "
                f"Request more \"Total Nvidia L4 GPU allocation\" quota at {_QUOTAS_URL}, lower "
                "the maximum instances, or pick another region.",
                provider=name, status=429, request_id=rid,
            )  # fmt: skip
        if status == "FAILED_PRECONDITION" and "gpu" in said.lower():
            return GpuUnavailable(
                f"{name} cannot run this GPU there (400 FAILED_PRECONDITION: {said}). Pick "
                "another region from the Cloud Run GPU catalog.",
                provider=name, status=resp.status_code, request_id=rid,
            )  # fmt: skip
        return super().error_from(resp, what)


def _json_or_none(resp: httpx.Response) -> object:
    try:
        return resp.json() if resp.content else None
    except ValueError:
        return None


class CloudRunClient:
    """Cloud Run Admin v2 (and Resource Manager's permission check) for one access token."""

    def __init__(
        self, *, http: httpx.AsyncClient, base_url: str, resource_manager_url: str,
        token: SecretStr, retry: Retry | None = None, timeout_s: float = 30.0,
    ) -> None:  # fmt: skip
        self.retry = retry or Retry()
        kw: dict[str, Any] = {
            "http": http,
            "token": token,
            "retry": self.retry,
            "timeout_s": timeout_s,
        }
        self._run = _GoogleApi(base_url=base_url, info=CLOUDRUN_INFO, **kw)
        self._crm = _GoogleApi(base_url=resource_manager_url, info=GOOGLE_INFO, **kw)

    def __repr__(self) -> str:
        return f"CloudRunClient(base_url={self._run.base_url!r})"

    async def create_service(
        self, project: str, region: str, service_id: str, spec: GpuServiceSpec
    ) -> dict[str, Any]:
        """Start creating the service; its Operation. A name in use raises `Conflict`."""
        parent = f"/v2/projects/{path_segment(project)}/locations/{path_segment(region)}"
        return as_dict(await self._run.call(
            "POST", f"{parent}/services", params={"serviceId": service_id},
            json=gpu_service_body(spec), what=f"the service {service_id}",
        ))  # fmt: skip

    async def get_service(self, name: str) -> dict[str, Any] | None:
        """The service (`projects/P/locations/L/services/S`), or None when there is none."""
        try:
            return as_dict(await self._run.call("GET", _path(name), what=f"the service {name}"))
        except NotFound:
            return None

    async def update_service(self, name: str, spec: GpuServiceSpec) -> dict[str, Any]:
        """Replace the service's template and scaling; its Operation."""
        body = gpu_service_body(spec)
        return as_dict(
            await self._run.call("PATCH", _path(name), json=body, what=f"the service {name}")
        )

    async def delete_service(self, name: str) -> dict[str, Any] | None:
        """Start deleting the service; its Operation, or None when it is already gone."""
        try:
            return as_dict(await self._run.call("DELETE", _path(name), what=f"the service {name}"))
        except NotFound:
            return None

    async def get_operation(self, name: str) -> dict[str, Any]:
        return as_dict(await self._run.call("GET", _path(name), what=f"the operation {name}"))

    async def wait_operation(
        self, op: Mapping[str, Any], *, poll_s: float = 2.0, timeout_s: float = 900.0
    ) -> dict[str, Any]:
        """Poll `op` until done (on the retry policy's sleep and clock).

        Raises:
            ServiceFailed: It ended with an error (Google's words in the message).
            Timeout: Still running after `timeout_s`.
        """
        current, clock = dict(op), self.retry.clock
        deadline = clock().timestamp() + timeout_s
        while not current.get("done"):
            if clock().timestamp() >= deadline:
                raise Timeout(f"{CLOUDRUN_INFO.name} was still working on {current.get('name')} "
                              f"after {timeout_s:g} s. Look again in a few minutes.",
                              provider=CLOUDRUN_INFO.name)  # fmt: skip
            await self.retry.sleep(poll_s)
            current = await self.get_operation(str(current.get("name", "")))
        if error := as_dict(current.get("error")):
            said = _messages.scrub(str(error.get("message", "")), self._run.secrets())[:400]
            raise ServiceFailed(f"{CLOUDRUN_INFO.name} could not finish: {said}",
                                provider=CLOUDRUN_INFO.name)  # fmt: skip
        return current

    async def missing_permissions(self, project: str, permissions: list[str]) -> list[str]:
        """Which of `permissions` the caller lacks on the project (testIamPermissions)."""
        body = await self._crm.call(
            "POST", f"/v1/projects/{path_segment(project)}:testIamPermissions",
            json={"permissions": permissions}, idempotent=True, what=f"the project {project}",
        )  # fmt: skip
        held = {str(p) for p in as_dict(body).get("permissions", [])}
        return [p for p in permissions if p not in held]


def _path(name: str) -> str:
    """`projects/P/locations/L/...` as a URL path; each segment quoted."""
    return "/v2/" + "/".join(path_segment(part) for part in name.strip("/").split("/"))


class ArtifactRegistry:
    """Artifact Registry's Docker endpoint: does an access token open it for a push?"""

    def __init__(self, *, http: httpx.AsyncClient, base_url: str, retry: Retry | None = None,
                 timeout_s: float = 30.0) -> None:  # fmt: skip
        self._http, self._retry, self._timeout = http, retry or Retry(), timeout_s
        self.base_url = base_url.rstrip("/")

    async def check_access(self, access_token: SecretStr) -> None:
        """The distribution spec's handshake: `GET /v2/` -> its token realm, with Basic
        `oauth2accesstoken:<token>` -> a registry token -> `GET /v2/` answers 200.

        Raises:
            AuthError: The registry refused the access token.
        """
        info = ProviderInfo("Artifact Registry", GOOGLE_INFO.keys_url, GOOGLE_INFO.status_url,
                            "The service account needs roles/artifactregistry.writer.")  # fmt: skip
        anon = HttpApi(http=self._http, base_url=self.base_url, info=info, token=None,
                       retry=self._retry, timeout_s=self._timeout)  # fmt: skip
        resp, _ = await anon.exchange("GET", "/v2/", ok={200, 401}, parse=False)
        realm = _realm(resp.headers.get("www-authenticate", ""))
        if not realm.startswith(self.base_url + "/"):
            raise _messages.malformed(info, resp.status_code, request_id=None)
        basic = base64.b64encode(f"oauth2accesstoken:{access_token.get_secret_value()}".encode())
        login = HttpApi(http=self._http, base_url=realm, info=info, token=SecretStr(basic.decode()),
                        scheme="Basic", retry=self._retry, timeout_s=self._timeout)  # fmt: skip
        token = str(
            as_dict(await login.call("GET", "", what="the registry token")).get("token", "")
        )
        if not token:
            raise AuthError(f"Artifact Registry gave no token. Create a new key at "
                            f"{info.keys_url}.", provider=info.name)  # fmt: skip
        api = HttpApi(http=self._http, base_url=self.base_url, info=info, token=SecretStr(token),
                      retry=self._retry, timeout_s=self._timeout)  # fmt: skip
        await api.call("GET", "/v2/", what="the registry")


def _realm(challenge: str) -> str:
    for part in challenge.removeprefix("Bearer ").split(","):
        key, _, value = part.strip().partition("=")
        if key == "realm":
            return value.strip('"')
    return ""
