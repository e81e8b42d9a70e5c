"""What the chat app shares across sessions: the vault, the settings, one HTTP client,
the stores built on them, and the deployment pipeline's handle. The composition root of
`kriptik serve`: created at app start-up, closed at shutdown."""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
import logging
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx

from tools.pipeline.handle import PipelineHandle
from ui import runtime
from vault import Settings, Vault
from vault.audit import AuditLog
from vault.deployments import DeploymentStore

if TYPE_CHECKING:  # imported on first use: the provider clients take ~1 s to import
    from tools.pipeline import DeploymentPipeline
    from tools.publish.service import LivePublishing
    from tools.services import LiveServices
    from vault.chat import ChatStore


@dataclass(frozen=True)
class AppServices:
    settings: Settings
    vault: Vault
    http: httpx.AsyncClient
    # The deployment pipeline, launched in the background (tools wait for it).
    pipeline: PipelineHandle = field(default_factory=PipelineHandle)

    @property
    def live(self) -> LiveServices:
        from tools.services import LiveServices

        return LiveServices(self.vault, self.settings, self.http)

    @property
    def publishing(self) -> LivePublishing:
        from tools.publish.service import LivePublishing

        return LivePublishing(self.vault, self.settings, self.http)

    @property
    def audit(self) -> AuditLog:
        return AuditLog(self.vault.sessions)

    @property
    def chat(self) -> ChatStore:
        from vault.chat import ChatStore

        return ChatStore(self.vault.sessions)

    @property
    def deployments(self) -> DeploymentStore:
        return DeploymentStore(self.vault.sessions)


_log = logging.getLogger(__name__)
_services: AppServices | None = None


async def start() -> AppServices:
    """Open the vault and the HTTP client, and start the deployment pipeline (once per
    process)."""
    global _services
    if _services is None:
        settings = runtime.settings()
        vault = await runtime.start_app_vault()
        stand_in = runtime.substitutes()
        http = httpx.AsyncClient(
            timeout=settings.http_timeout_s, follow_redirects=False,
            transport=stand_in.transport if stand_in else None,
        )  # fmt: skip
        app = AppServices(settings, vault, http)
        # In the background: the pipeline's imports are a second of start-up that /health
        # and the login page need not wait for. Deployment tools wait for it instead.
        launch = asyncio.create_task(_start_pipeline(app))
        _services = dataclasses.replace(app, pipeline=PipelineHandle.launching(launch))
    return _services


async def _start_pipeline(app: AppServices) -> DeploymentPipeline | None:
    """DBOS, started here so recovered deployments run on the app's event loop. A pipeline
    that cannot start leaves the chat working; deployments then say they are unavailable."""
    # Imported in a thread so the event loop keeps answering while they load.
    await asyncio.to_thread(importlib.import_module, "tools.pipeline.images")
    from tools.pipeline import GhcrRegistry, PipelineServices, launch
    from tools.pipeline.images import ImageService
    from tools.publish.teardown import WebAppTeardown

    try:
        # Each instance sharing a database recovers only its own workflows.
        executor = app.settings.instance_id
        # Generated workers are built on the Docker engine at DOCKER_HOST (the docker CLI's
        # own variable) and pushed to the user's GHCR with their GitHub key.
        stand_in = runtime.substitutes()  # `kriptik demo`: the simulator's builder
        engine = None if stand_in else ImageService(docker_cli=app.settings.docker_cli)
        services = PipelineServices(
            settings=app.settings, vault=app.vault, http=app.http,
            images=stand_in.images if stand_in else engine,
            registry=stand_in.registry if stand_in else GhcrRegistry(app.vault),
            web=WebAppTeardown(vault=app.vault, settings=app.settings, http=app.http),
        )  # fmt: skip
        if stand_in and stand_in.timings:
            services.timings = stand_in.timings
        return await launch(services, executor_id=executor)
    except Exception:
        _log.exception("the deployment pipeline did not start; the chat works without it")
        return None


def current() -> AppServices:
    if _services is None:
        raise RuntimeError("the app's services are opened at start-up")
    return _services


async def stop() -> None:
    global _services
    if _services is not None:
        pipeline = await _services.pipeline.settled()  # never stop it mid-launch
        if pipeline is not None:
            from tools.pipeline import shutdown

            try:
                await shutdown(pipeline)
            except Exception:  # already down
                _log.debug("pipeline shutdown", exc_info=True)
        await _services.http.aclose()
        if "agent.llm" in sys.modules:  # a turn ran: close the chat models' clients
            from agent.llm import close_models

            await close_models()
        _services = None
    await runtime.stop_app_vault()


def ask_timeout_s() -> int:
    """How long a key question or an approval waits for the person (`ask_timeout_s`)."""
    return runtime.settings().ask_timeout_s
