"""RunPod calls the pipeline needs beyond `RunPodClient`: worker logs (a Server-Sent
Events stream), deleting registry credentials, and scaling an endpoint to zero.

Worker logs stream forever once the backfill is sent, so `worker_logs` reads for a short
time budget and returns what arrived: enough to see why a worker failed to start.
"""

from __future__ import annotations

import asyncio
import json
from urllib.parse import quote

import httpx
from pydantic import SecretStr

from tools.clients._http import Retry, as_dict
from tools.clients.errors import NotFound
from tools.clients.runpod import RunPodClient
from tools.clients.runpod_models import Endpoint, EndpointUpdate, Registry, Template

__all__ = ["DeployRunPodClient"]


class DeployRunPodClient(RunPodClient):
    """`RunPodClient` plus logs, registry deletion and lookups by name.

    Args: see `RunPodClient`.
    """

    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        base_url: str,
        token: SecretStr,
        timeout_s: float = 30.0,
        retry: Retry | None = None,
    ) -> None:
        super().__init__(
            http=http, base_url=base_url, token=token, timeout_s=timeout_s, retry=retry
        )
        # Kept for the log stream, which bypasses the JSON call helper; never logged.
        self._token = token

    async def find_template(self, name: str) -> Template | None:
        return next((t for t in await self.list_templates() if t.name == name), None)

    async def find_endpoint(self, name: str) -> Endpoint | None:
        return next((e for e in await self.list_endpoints() if e.name == name), None)

    async def list_registries(self) -> list[Registry]:
        return await self._many(Registry, "/registries", "registries")

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

    async def delete_registry(self, registry_id: str) -> bool:
        """Delete stored registry credentials; False when they were already gone."""
        return await self._delete(f"/registries/{quote(registry_id, safe='')}", "registry")

    async def worker_logs(
        self, endpoint_id: str, worker_id: str, *, tail: int = 200, budget_s: float = 3.0
    ) -> list[str]:
        """The last `tail` log lines of one worker (container and system), read for at most
        `budget_s` seconds."""
        path = f"/serverless/{quote(endpoint_id, safe='')}/workers/{quote(worker_id, safe='')}/logs"
        url = f"{self._api.base_url}{path}"
        headers = {
            "Accept": "text/event-stream",
            "Authorization": f"Bearer {self._token.get_secret_value()}",
        }
        lines: list[str] = []
        try:
            async with asyncio.timeout(budget_s):
                async with self._api.http.stream(
                    "GET", url, params={"tail": tail}, headers=headers, timeout=budget_s + 5
                ) as resp:
                    if resp.status_code != 200:
                        await resp.aread()
                        raise self._api.error_from(resp, f"worker {worker_id}'s logs")
                    async for raw in resp.aiter_lines():
                        if line := _sse_line(raw):
                            lines.append(line)
        except (TimeoutError, httpx.TransportError):
            pass  # the stream stays open after the backfill: keep what arrived
        return lines[-tail:]


def _sse_line(raw: str) -> str | None:
    """The log line of one `data: {...}` SSE field, or None for other fields."""
    if not raw.startswith("data:"):
        return None
    try:
        data = as_dict(json.loads(raw[5:].strip()))
    except ValueError:
        return raw[5:].strip() or None
    return str(data.get("line", "")) or None
