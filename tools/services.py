"""The real services behind `tools.deps`: the vault, the key checks and provider clients.

Keys are read through `tools.connect.Connections.token` here, per call (a connected
account's token refreshed before it expires), and handed straight to a client; nothing
here returns one. A provider that rejects a stored key raises `AuthError` (a connection
that needs reconnecting raises `ReconnectNeeded`, one too), which the agent turns into
"ask the user for a new key".
"""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from pydantic import SecretStr

from tools.clients.hub_reader import SizingHubReader
from tools.clients.huggingface import HuggingFaceClient
from tools.clients.runpod import RunPodClient
from tools.connect import Connections
from tools.credentials import LIMITER, Limiter, SaveResult, check_stored_key, save_key
from tools.metrics import Metrics
from tools.sizing import GpuCatalog, HubReader, catalog_from_runpod, load_catalog
from vault import CredentialView, Settings, Validation, Vault

__all__ = ["LiveServices"]


class LiveServices:
    """`KeyStore`, `KeyService` and `Providers` over one vault and one HTTP client."""

    def __init__(
        self,
        vault: Vault,
        settings: Settings,
        http: httpx.AsyncClient,
        *,
        limiter: Limiter = LIMITER,
        connections: Connections | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self._vault = vault
        self._settings = settings
        self._http = http
        self._limiter = limiter  # key checks per user and provider (tools.credentials)
        # The root's (one per process, so refreshes are serialised); else one of our own.
        self._connections = connections or Connections(vault, settings, http)
        self._metrics = metrics  # the root's: key checks are counted (None: not counted)

    # ---- KeyStore ----------------------------------------------------------------------
    async def has(self, user_id: str, provider: str) -> bool:
        return await self._vault.credentials.has(user_id, provider)

    async def describe(self, user_id: str, provider: str) -> CredentialView:
        return await self._vault.credentials.describe(user_id, provider)

    # ---- KeyService --------------------------------------------------------------------
    async def save(self, user_id: str, provider: str, secret: SecretStr) -> SaveResult:
        return await save_key(
            self._vault, self._settings, self._http,
            user_id=user_id, provider=provider, secret=secret, limiter=self._limiter,
            metrics=self._metrics,
        )  # fmt: skip

    async def recheck(self, user_id: str, provider: str) -> SaveResult:
        if await self._vault.credentials.has(user_id, provider):
            # A connected account's token is refreshed first, so the check sees the live one.
            await self._connections.token(user_id, provider)
        return await check_stored_key(
            self._vault, self._settings, self._http,
            user_id=user_id, provider=provider, limiter=self._limiter,
            metrics=self._metrics,
        )  # fmt: skip

    async def mark_rejected(self, user_id: str, provider: str, message: str) -> None:
        if await self._vault.credentials.has(user_id, provider):
            verdict = Validation(ok=False, message=message)
            await self._vault.credentials.record_validation(user_id, provider, verdict)

    # ---- Providers ---------------------------------------------------------------------
    async def _key(self, user_id: str, provider: str) -> SecretStr | None:
        if not await self._vault.credentials.has(user_id, provider):
            return None
        return await self._connections.token(user_id, provider)

    async def hub(self, user_id: str) -> HubReader:
        client = HuggingFaceClient(
            http=self._http,
            base_url=self._settings.huggingface_base_url,
            token=await self._key(user_id, "huggingface"),
            timeout_s=self._settings.http_timeout_s,
        )
        return SizingHubReader(client)

    async def gpu_catalog(self, user_id: str) -> GpuCatalog:
        key = await self._key(user_id, "runpod")
        if key is None:
            return load_catalog()
        client = RunPodClient(
            http=self._http,
            base_url=self._settings.runpod_rest_base_url,
            token=key,
            timeout_s=self._settings.http_timeout_s,
        )
        # With availability, as the deployment plan asks (tools.pipeline.plan): the chart
        # then passes over the same pools without capacity that the card does.
        gpus = await client.gpu_types(availability=True)
        return catalog_from_runpod(gpus, as_of=datetime.now(UTC).date())
