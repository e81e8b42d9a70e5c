"""RunPod control plane, REST API v2 (`https://api.runpod.io/v2`): templates, serverless
endpoints, their workers, the GPU catalogue and registry credentials.

The SDK's control-plane calls use one process-wide key and inline unescaped strings into
GraphQL, so KripTik speaks REST v2 itself with the key per client. `ensure_template` and
`ensure_endpoint` find by name before creating, so a re-run never creates twice.

Errors: `AuthError` (401), `ProviderPermissionError` (403: a read-only or restricted
key), `NotFound`, `InvalidRequest` (400/422, with RunPod's `ErrorResponse.detail`),
`RateLimited` (429, `Retry-After`), `Upstream` / `Timeout` / `Unreachable`.
"""

from __future__ import annotations

from urllib.parse import quote

from pydantic import SecretStr

from tools.clients._base import ProviderClient
from tools.clients._messages import ProviderInfo
from tools.clients.runpod_models import (
    Endpoint,
    EndpointSpec,
    EndpointUpdate,
    GpuType,
    Registry,
    Template,
    TemplateSpec,
    Workers,
)

__all__ = ["RUNPOD", "RunPodClient"]

RUNPOD = ProviderInfo(
    name="RunPod",
    keys_url="https://www.runpod.io/console/user/settings",
    status_url="https://uptime.runpod.io",
    permission_hint="Deploying needs a RunPod key with read/write access, not a read-only one.",
)


def _id(value: str) -> str:
    return quote(value, safe="")


class RunPodClient(ProviderClient):
    """RunPod REST v2 for one key; `base_url` ends in `/v2` (settings: runpod_rest_base_url).

    Args: see `ProviderClient`.
    """

    info = RUNPOD

    # ---- templates ----------------------------------------------------------------------
    async def create_template(self, spec: TemplateSpec) -> Template:
        return await self._one(
            Template, "POST", "/templates", f"the template {spec.name}", json=spec.body()
        )

    async def get_template(self, template_id: str) -> Template:
        return await self._one(
            Template, "GET", f"/templates/{_id(template_id)}", f"the template {template_id}"
        )

    async def list_templates(self) -> list[Template]:
        return await self._many(Template, "/templates", "templates")

    async def ensure_template(self, spec: TemplateSpec) -> Template:
        """The template named `spec.name`, created or brought up to date (never twice)."""
        found = next((t for t in await self.list_templates() if t.name == spec.name), None)
        if found is None:
            return await self.create_template(spec)
        if found.matches(spec):
            return found
        patch = {k: v for k, v in spec.body().items() if k != "name"}
        path = f"/templates/{_id(found.id)}"
        return await self._one(
            Template, "PATCH", path, f"the template {spec.name}", json=patch, idempotent=True
        )

    async def delete_template(self, template_id: str) -> bool:
        """Delete; False when it was already gone."""
        return await self._delete(f"/templates/{_id(template_id)}", f"the template {template_id}")

    # ---- serverless endpoints -------------------------------------------------------------
    async def create_endpoint(self, spec: EndpointSpec) -> Endpoint:
        return await self._one(
            Endpoint, "POST", "/serverless", f"the endpoint {spec.name}", json=spec.body()
        )

    async def get_endpoint(self, endpoint_id: str) -> Endpoint:
        return await self._one(
            Endpoint, "GET", f"/serverless/{_id(endpoint_id)}", f"the endpoint {endpoint_id}"
        )

    async def list_endpoints(self) -> list[Endpoint]:
        return await self._many(Endpoint, "/serverless", "endpoints")

    async def ensure_endpoint(self, spec: EndpointSpec) -> Endpoint:
        """The endpoint named `spec.name`, created only if it does not exist yet."""
        found = next((e for e in await self.list_endpoints() if e.name == spec.name), None)
        return found or await self.create_endpoint(spec)

    async def update_endpoint(self, endpoint_id: str, update: EndpointUpdate) -> Endpoint:
        path = f"/serverless/{_id(endpoint_id)}"
        what = f"the endpoint {endpoint_id}"
        return await self._one(Endpoint, "PATCH", path, what, json=update.body(), idempotent=True)

    async def delete_endpoint(self, endpoint_id: str) -> bool:
        """Delete; False when it was already gone."""
        return await self._delete(f"/serverless/{_id(endpoint_id)}", f"the endpoint {endpoint_id}")

    async def workers(self, endpoint_id: str) -> Workers:
        """The endpoint's workers and their summary (initializing, idle, running...)."""
        path = f"/serverless/{_id(endpoint_id)}/workers"
        return await self._one(Workers, "GET", path, f"the endpoint {endpoint_id}")

    # ---- catalogue and registries -----------------------------------------------------------
    async def gpu_types(self, *, availability: bool = False) -> list[GpuType]:
        """The GPU catalogue with pools, VRAM and serverless $/GPU-hour."""
        params = {"include": "AVAILABILITY", "product": "SERVERLESS"} if availability else None
        return await self._many(GpuType, "/catalog/gpus", "gpus", params=params)

    async def create_registry(self, name: str, *, username: str, password: SecretStr) -> Registry:
        """Store container registry credentials, so endpoints can pull a private image."""
        body = {"name": name, "username": username, "password": password.get_secret_value()}
        return await self._one(Registry, "POST", "/registries", f"the registry {name}", json=body)

    async def ensure_registry(self, name: str, *, username: str, password: SecretStr) -> Registry:
        """The registry credential named `name`, created only if absent."""
        found = [
            r for r in await self._many(Registry, "/registries", "registries") if r.name == name
        ]
        return (
            found[0]
            if found
            else await self.create_registry(name, username=username, password=password)
        )
