"""The deployment pipeline launched on a test's own vault and HTTP client, as the chat app's
composition root (`ui/root.py`) launches it: the web half of teardown injected, and
provider retries reduced to one attempt so a test sees each fault once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from tools.clients._http import Retry
from tools.pipeline import DeploymentPipeline, api
from tools.pipeline.services import PipelineServices, Timings
from tools.publish.teardown import WebAppTeardown
from tools.tracing import Tracing
from vault import Settings, Vault


@asynccontextmanager
async def launched_pipeline(
    settings: Settings, vault: Vault, http: httpx.AsyncClient, *, timings: Timings,
    tracing: Tracing | None = None,
) -> AsyncIterator[DeploymentPipeline]:  # fmt: skip
    """DBOS started on `vault`'s database and shut down on exit (one per process);
    `tracing`: where DBOS's workflow and step spans go (default: off)."""
    retry = Retry(max_attempts=1)
    web = WebAppTeardown(vault=vault, settings=settings, http=http, retry=retry)
    services = PipelineServices(
        settings=settings, vault=vault, http=http, timings=timings, retry=retry, web=web,
        tracing=tracing or Tracing.off(),
    )  # fmt: skip
    pipe = await api.launch(services)
    try:
        yield pipe
    finally:
        await api.shutdown(pipe)
