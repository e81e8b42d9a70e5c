"""RunPod control plane, REST API v2 (`https://api.runpod.io/v2`): templates, serverless
endpoints, their workers, the GPU catalogue, registry credentials and serverless billing.

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
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, Protocol, TypeVar

import httpx
from pydantic import SecretStr

from tools.clients._base import ProviderClient
from tools.clients._http import as_dict, path_segment
from tools.clients._messages import ProviderInfo
from tools.clients.errors import Conflict, NotFound, Upstream
from tools.clients.runpod_models import (
    BillingBucket,
    Endpoint,
    EndpointSpec,
    EndpointUpdate,
    GpuType,
    Registry,
    ServerlessBilling,
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


# The named resources RunPod lists, finds by name and creates.
_N = TypeVar("_N", Template, Endpoint, Registry)


class _Spec(Protocol):
    @property
    def name(self) -> str: ...

    def body(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class _Collection(Generic[_N]):
    """One REST collection of named resources: the model its answers parse into, where it
    lives, and the words its errors use ("the template kriptik-x")."""

    model: type[_N]
    path: str
    noun: str
    key: str  # where a listing's answer holds the items

    def item(self, resource_id: str) -> str:
        return f"{self.path}/{path_segment(resource_id)}"

    def what(self, label: str) -> str:
        return f"the {self.noun} {label}"


_TEMPLATES = _Collection(Template, "/templates", "template", "templates")
_ENDPOINTS = _Collection(Endpoint, "/serverless", "endpoint", "endpoints")
_REGISTRIES = _Collection(Registry, "/registries", "registry", "registries")


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
        return await self._create(_TEMPLATES, spec)

    async def get_template(self, template_id: str) -> Template:
        return await self._get(_TEMPLATES, template_id)

    async def list_templates(self) -> list[Template]:
        return await self._list(_TEMPLATES)

    async def ensure_template(self, spec: TemplateSpec) -> Template:
        """The template named `spec.name`, created or brought up to date (never twice)."""
        found = await self._find_or_create(
            _TEMPLATES, spec.name, lambda: self.create_template(spec)
        )
        if found.matches(spec):
            return found
        patch = {k: v for k, v in spec.body().items() if k != "name"}
        path, what = _TEMPLATES.item(found.id), _TEMPLATES.what(spec.name)
        return await self._one(Template, "PATCH", path, what, json=patch, idempotent=True)

    async def delete_template(self, template_id: str) -> bool:
        """Delete; False when it was already gone (a 404 is read back first)."""
        return await self._delete_confirmed(_TEMPLATES, template_id)

    # ---- serverless endpoints -------------------------------------------------------------
    async def create_endpoint(self, spec: EndpointSpec) -> Endpoint:
        return await self._create(_ENDPOINTS, spec)

    async def get_endpoint(self, endpoint_id: str) -> Endpoint:
        return await self._get(_ENDPOINTS, endpoint_id)

    async def list_endpoints(self) -> list[Endpoint]:
        return await self._list(_ENDPOINTS)

    async def ensure_endpoint(self, spec: EndpointSpec) -> Endpoint:
        """The endpoint named `spec.name`, created only if it does not exist yet."""
        return await self._find_or_create(_ENDPOINTS, spec.name, lambda: self.create_endpoint(spec))

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
        path, what = _ENDPOINTS.item(endpoint_id), _ENDPOINTS.what(endpoint_id)
        return await self._one(Endpoint, "PATCH", path, what, json=update.body(), idempotent=True)

    async def delete_endpoint(self, endpoint_id: str) -> bool:
        """Delete; False when it was already gone (a 404 is read back first)."""
        return await self._delete_confirmed(_ENDPOINTS, endpoint_id)

    # ---- one collection of named resources, whichever it is -------------------------------
    async def _create(self, of: _Collection[_N], spec: _Spec) -> _N:
        return await self._one(of.model, "POST", of.path, of.what(spec.name), json=spec.body())

    async def _get(self, of: _Collection[_N], resource_id: str) -> _N:
        return await self._one(of.model, "GET", of.item(resource_id), of.what(resource_id))

    async def _list(self, of: _Collection[_N]) -> list[_N]:
        return await self._many(of.model, of.path, of.key)

    async def _find_or_create(
        self, of: _Collection[_N], name: str, create: Callable[[], Awaitable[_N]]
    ) -> _N:
        """The resource named `name` if a listing shows it, else `create()` (once)."""
        found = next((r for r in await self._list(of) if r.name == name), None)
        return found or await _create_once(create, lambda: self._list(of), name)

    async def _delete_confirmed(self, of: _Collection[_N], resource_id: str) -> bool:
        """DELETE; a 404 is believed only when a GET agrees. A resource the GET still finds
        is deleted once more, and a second 404 for it raises `NotFound`: a teardown that
        took one wrong 404 for "gone" would leave it behind (and billing)."""
        path, what = of.item(resource_id), of.what(resource_id)
        if await self._delete(path, what):
            return True
        try:
            await self._get(of, resource_id)
        except NotFound:
            return False
        await self._api.call("DELETE", path, what=what)
        return True

    async def workers(self, endpoint_id: str) -> Workers:
        """The endpoint's workers and their summary (initializing, idle, running...)."""
        path = f"{_ENDPOINTS.item(endpoint_id)}/workers"
        return await self._one(Workers, "GET", path, _ENDPOINTS.what(endpoint_id))

    async def worker_logs(
        self, endpoint_id: str, worker_id: str, *, tail: int = 200, budget_s: float = 3.0
    ) -> list[str]:
        """The last `tail` log lines of one worker (container and system), read for at most
        `budget_s` seconds."""
        path = f"/serverless/{path_segment(endpoint_id)}/workers/{path_segment(worker_id)}/logs"
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

    # ---- billing ------------------------------------------------------------------------------
    async def serverless_billing(
        self, endpoint_id: str, *, since: datetime, bucket: BillingBucket = "day"
    ) -> ServerlessBilling:
        """What RunPod billed for one serverless endpoint from `since` (snapped down to its
        bucket) until now, per `bucket`. A key without billing access raises
        `ProviderPermissionError`."""
        params = {
            "serverlessId": endpoint_id,
            "bucketSize": bucket,
            "startTime": since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        return await self._one(
            ServerlessBilling, "GET", "/billing/serverless", f"the billing of {endpoint_id}",
            params=params,
        )  # fmt: skip

    # ---- catalogue and registries -----------------------------------------------------------
    async def gpu_types(self, *, availability: bool = False) -> list[GpuType]:
        """The GPU catalogue with pools, VRAM and serverless $/GPU-hour."""
        params = {"include": "AVAILABILITY", "product": "SERVERLESS"} if availability else None
        return await self._many(GpuType, "/catalog/gpus", "gpus", params=params)

    async def create_registry(self, name: str, *, username: str, password: SecretStr) -> Registry:
        """Store container registry credentials, so endpoints can pull a private image."""
        body = {"name": name, "username": username, "password": password.get_secret_value()}
        return await self._one(
            Registry, "POST", _REGISTRIES.path, _REGISTRIES.what(name), json=body
        )

    async def ensure_registry(self, name: str, *, username: str, password: SecretStr) -> Registry:
        """The registry credential named `name`, created only if absent."""
        return await self._find_or_create(
            _REGISTRIES,
            name,
            lambda: self.create_registry(name, username=username, password=password),
        )

    async def list_registries(self) -> list[Registry]:
        return await self._list(_REGISTRIES)

    async def delete_registry(self, registry_id: str) -> bool:
        """Delete stored registry credentials; False when they were already gone."""
        return await self._delete(_REGISTRIES.item(registry_id), "registry")


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
