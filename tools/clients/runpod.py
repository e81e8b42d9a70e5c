"""RunPod control plane, REST API v2 (`https://api.runpod.io/v2`): templates, serverless
endpoints, their workers, the GPU catalogue and registry credentials.

The SDK's control-plane calls use one process-wide key and inline unescaped strings into
GraphQL, so KripTik speaks REST v2 itself with the key per client. `ensure_template`,
`ensure_endpoint` and `ensure_registry` find by name before creating, so a re-run never
creates twice; and when a create's answer is lost (a timeout, a dropped connection, a 5xx
or an unreadable body: RunPod may have acted) or RunPod answers 409 (the name exists),
they look the name up again before giving up, so the caller learns the id of what RunPod
made instead of leaving it unrecorded.

Errors: `AuthError` (401), `ProviderPermissionError` (403: a read-only or restricted
key), `NotFound`, `InvalidRequest` (400/422, with RunPod's `ErrorResponse.detail`),
`RateLimited` (429, `Retry-After`), `Upstream` / `Timeout` / `Unreachable`.

Worker logs are a Server-Sent Events stream that stays open once the backfill is sent, so
`worker_logs` reads for a short time budget and returns what arrived: enough to see why a
worker failed to start.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar
from urllib.parse import quote

import httpx
from pydantic import SecretStr

from tools.clients._base import ProviderClient
from tools.clients._http import as_dict
from tools.clients._messages import ProviderInfo
from tools.clients.errors import Conflict, NotFound, Upstream
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

__all__ = ["RUNPOD", "RunPodClient", "sse_log_line"]

RUNPOD = ProviderInfo(
    name="RunPod",
    keys_url="https://www.runpod.io/console/user/settings",
    status_url="https://uptime.runpod.io",
    permission_hint="Deploying needs a RunPod key with read/write access, not a read-only one.",
)


class _Named(Protocol):
    @property
    def name(self) -> str: ...


_N = TypeVar("_N", bound=_Named)


def _id(value: str) -> str:
    return quote(value, safe="")


async def _create_once(
    create: Callable[[], Awaitable[_N]], find: Callable[[], Awaitable[list[_N]]], name: str
) -> _N:
    """`create()`, and when its answer is lost (`Upstream`: RunPod may have acted) or RunPod
    says the name is taken (`Conflict`), the resource named `name` if a fresh listing
    shows it; else the original error."""
    try:
        return await create()
    except (Upstream, Conflict) as lost:
        try:
            found = next((r for r in await find() if r.name == name), None)
        except Upstream:
            found = None
        if found is None:
            raise lost from None
        return found


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
            found = await _create_once(
                lambda: self.create_template(spec), self.list_templates, spec.name
            )
        if found.matches(spec):
            return found
        patch = {k: v for k, v in spec.body().items() if k != "name"}
        path = f"/templates/{_id(found.id)}"
        return await self._one(
            Template, "PATCH", path, f"the template {spec.name}", json=patch, idempotent=True
        )

    async def delete_template(self, template_id: str) -> bool:
        """Delete; False when it was already gone (a 404 is read back first)."""
        return await self._delete_confirmed(
            f"/templates/{_id(template_id)}",
            f"the template {template_id}",
            lambda: self.get_template(template_id),
        )

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
        return found or await _create_once(
            lambda: self.create_endpoint(spec), self.list_endpoints, spec.name
        )

    async def scale_to_zero(self, endpoint_id: str) -> bool:
        """workersMin = workersMax = 0, so nothing runs or bills; False if already gone.

        A 404 from the update is read back before it is believed: an endpoint that a GET
        still finds gets the update once more (a second 404 then raises `NotFound`).
        """
        update = EndpointUpdate(workers_min=0, workers_max=0)
        try:
            await self.update_endpoint(endpoint_id, update)
        except NotFound:
            try:
                await self.get_endpoint(endpoint_id)
            except NotFound:
                return False
            await self.update_endpoint(endpoint_id, update)
        return True

    async def update_endpoint(self, endpoint_id: str, update: EndpointUpdate) -> Endpoint:
        path = f"/serverless/{_id(endpoint_id)}"
        what = f"the endpoint {endpoint_id}"
        return await self._one(Endpoint, "PATCH", path, what, json=update.body(), idempotent=True)

    async def delete_endpoint(self, endpoint_id: str) -> bool:
        """Delete; False when it was already gone (a 404 is read back first)."""
        return await self._delete_confirmed(
            f"/serverless/{_id(endpoint_id)}",
            f"the endpoint {endpoint_id}",
            lambda: self.get_endpoint(endpoint_id),
        )

    async def _delete_confirmed(
        self, path: str, what: str, get: Callable[[], Awaitable[object]]
    ) -> bool:
        """DELETE; a 404 is believed only when a GET agrees. A resource the GET still finds
        is deleted once more, and a second 404 for it raises `NotFound`: a teardown that
        took one wrong 404 for "gone" would leave it behind (and billing)."""
        if await self._delete(path, what):
            return True
        try:
            await get()
        except NotFound:
            return False
        await self._api.call("DELETE", path, what=what)
        return True

    async def workers(self, endpoint_id: str) -> Workers:
        """The endpoint's workers and their summary (initializing, idle, running...)."""
        path = f"/serverless/{_id(endpoint_id)}/workers"
        return await self._one(Workers, "GET", path, f"the endpoint {endpoint_id}")

    async def worker_logs(
        self, endpoint_id: str, worker_id: str, *, tail: int = 200, budget_s: float = 3.0
    ) -> list[str]:
        """The last `tail` log lines of one worker (container and system), read for at most
        `budget_s` seconds."""
        path = f"/serverless/{_id(endpoint_id)}/workers/{_id(worker_id)}/logs"
        # The stream bypasses the JSON call helper; the key goes only into this header.
        key = self._api.secrets()
        headers = {"Accept": "text/event-stream"} | (
            {"Authorization": f"Bearer {key[0]}"} if key else {}
        )
        lines: list[str] = []
        try:
            async with asyncio.timeout(budget_s):
                async with self._api.http.stream(
                    "GET", f"{self._api.base_url}{path}", params={"tail": tail},
                    headers=headers, timeout=budget_s + 5,
                ) as resp:  # fmt: skip
                    if resp.status_code != 200:
                        await resp.aread()
                        raise self._api.error_from(resp, f"worker {worker_id}'s logs")
                    async for raw in resp.aiter_lines():
                        if line := sse_log_line(raw):
                            lines.append(line)
        except (TimeoutError, httpx.TransportError):
            pass  # the stream stays open after the backfill: keep what arrived
        return lines[-tail:]

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

        found = next((r for r in await self.list_registries() if r.name == name), None)
        return found or await _create_once(
            lambda: self.create_registry(name, username=username, password=password),
            self.list_registries,
            name,
        )

    async def list_registries(self) -> list[Registry]:
        return await self._many(Registry, "/registries", "registries")

    async def delete_registry(self, registry_id: str) -> bool:
        """Delete stored registry credentials; False when they were already gone."""
        return await self._delete(f"/registries/{_id(registry_id)}", "registry")


def sse_log_line(raw: str) -> str | None:
    """The log line of one `data: {...}` SSE field of a worker's logs, or None for other
    fields."""
    if not raw.startswith("data:"):
        return None
    try:
        data = as_dict(json.loads(raw[5:].strip()))
    except ValueError:
        return raw[5:].strip() or None
    return str(data.get("line", "")) or None
