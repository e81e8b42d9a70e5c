"""The composition root of both front ends: from the settings (and, for `kriptik demo` and
`kriptik chat`, the simulator's substitutes) it builds the live services (the vault, one HTTP
client, the connected accounts, the tools' services, publishing, the deployment pipeline, the
stores and the clock) and hands them down; closing it closes what it opened."""

from __future__ import annotations

import asyncio
import ctypes
import gc
import importlib
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import httpx

from tools.metrics import Metrics
from tools.pipeline.handle import PipelineHandle
from tools.tracing import Tracing
from vault import Settings, UserView, Vault, VaultError, get_settings
from vault.audit import AuditLog
from vault.deployments import DeploymentStore

if TYPE_CHECKING:  # imported on first use: the provider clients take ~1 s to import
    from pydantic import SecretStr

    from agent import TurnContext
    from agent.history import SqlConversationStore
    from agent.interaction import Interaction
    from agent.llm import ChatModels
    from agent.scripted import ScriptedModel
    from tools.connect import Connections
    from tools.credentials import Limiter
    from tools.pipeline import DeploymentPipeline, PipelineServices
    from tools.pipeline.services import ImageBuilder, RegistryAccess, Timings
    from tools.publish.service import LivePublishing
    from tools.services import LiveServices
    from tools.targets.base import DeployTarget
    from vault.chat import ChatStore

__all__ = ["Root", "Substitutes", "opened_root", "opened_vault", "resolve_user"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Substitutes:
    """What the simulator puts in place of the real world at the root: an HTTP transport
    that answers the simulated web hosts and refuses everything beyond loopback, the image
    builder and registry (None: none in this process), and faster polling."""

    transport: httpx.AsyncBaseTransport
    images: ImageBuilder | None = None
    registry: RegistryAccess | None = None
    timings: Timings | None = None  # the simulator answers at once: poll it faster


def utcnow() -> datetime:
    return datetime.now(UTC)


class Root:
    """The live services of one process. Build it with `Root.open`, close it with `close`.

    Args:
        settings: The process's settings.
        vault: The open vault.
        http: The one HTTP client every provider call goes through.
        substitutes: The simulator's stand-ins (`kriptik demo`, `kriptik chat`), or None.
        clock: What the pipeline and the panels take as "now".
    """

    def __init__(
        self,
        settings: Settings,
        vault: Vault,
        http: httpx.AsyncClient,
        *,
        substitutes: Substitutes | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.vault = vault
        self.http = http
        self.substitutes = substitutes
        self.clock = clock
        # The process's metrics (GET /metrics), one registry handed to every counter; the
        # configured model ids are its only model labels.
        self.metrics = Metrics(models=[settings.model, *settings.fallback_models])
        # The process's traces (OTLP to `otlp_endpoint`; off without one), one provider
        # handed to the turns and the pipeline, flushed by `close`.
        self.tracing = Tracing.from_settings(settings)
        # The deployment pipeline: none until `launch_pipeline` or `launch_in_background`.
        self.pipeline = PipelineHandle()
        # The chat models and their clients: built with the first turn (the LLM SDKs take a
        # while to import, and `kriptik serve` answers /health without them).
        self._models: ChatModels | None = None
        # The threads' history store, also built with the first turn: one per root, so its
        # cache of parsed threads outlives a turn and is never shared with another root.
        self._history: SqlConversationStore | None = None
        # Connected accounts: built on first use (it imports the provider clients).
        self._connections: Connections | None = None
        self.stop_listening = vault.credentials.on_stored(self._wake_waiting_deployments)

    @classmethod
    async def open(cls, settings: Settings, *, substitutes: Substitutes | None = None) -> Root:
        """Open the vault (migrated) and the HTTP client."""
        vault = await Vault.open(settings)
        http = httpx.AsyncClient(
            timeout=settings.http_timeout_s, follow_redirects=False,
            transport=substitutes.transport if substitutes else None,
        )  # fmt: skip
        return cls(settings, vault, http, substitutes=substitutes)

    # ---- the services handed down ------------------------------------------------------
    @property
    def connections(self) -> Connections:
        """The process's one `Connections` (Connect flows, token use and refresh, scope
        checks): one per root, so a token is refreshed once however many calls need it.
        GitHub is asked for `write:packages` only where images go to GHCR (not in the
        simulator, whose registry is its own)."""
        if self._connections is None:
            from tools.connect import DEFAULT_FEATURES, Connections

            features = DEFAULT_FEATURES
            if self.substitutes is not None:
                features = features - {"ghcr"}
            self._connections = Connections(
                self.vault, self.settings, self.http, clock=self.clock, features=features
            )
        return self._connections

    def live(self, *, limiter: Limiter | None = None) -> LiveServices:
        """The tools' services; `limiter`: a key-check limiter of the caller's own (a
        headless turn answers faster than a person), else the process-wide one."""
        from tools.services import LiveServices

        connections, metrics = self.connections, self.metrics
        if limiter is None:
            return LiveServices(
                self.vault, self.settings, self.http, connections=connections, metrics=metrics
            )
        return LiveServices(
            self.vault, self.settings, self.http, limiter=limiter, connections=connections,
            metrics=metrics,
        )  # fmt: skip

    @property
    def publishing(self) -> LivePublishing:
        from tools.publish.service import LivePublishing

        return LivePublishing(self.vault, self.settings, self.http, connections=self.connections)

    @property
    def audit(self) -> AuditLog:
        return self.vault.audit

    @property
    def chat(self) -> ChatStore:
        from vault.chat import ChatStore

        return ChatStore(self.vault.sessions)

    @property
    def deployments(self) -> DeploymentStore:
        return DeploymentStore(self.vault.sessions)

    def turn(
        self, *, user_id: str, user_name: str, thread_id: str, interaction: Interaction,
        scripted: ScriptedModel | None = None, limiter: Limiter | None = None,
    ) -> TurnContext:  # fmt: skip
        """What one chat turn of a user in a thread is given: `scripted` plays the model's
        replies (`kriptik chat --fake-llm`; no key is needed), `limiter` see `live`."""
        from agent import TurnContext
        from agent.history import SqlConversationStore
        from agent.llm import ChatModels

        if self._models is None:
            self._models = ChatModels()
        if self._history is None:
            self._history = SqlConversationStore(self.vault.sessions)
        return TurnContext(
            settings=self.settings, vault=self.vault, user_id=user_id, user_name=user_name,
            thread_id=thread_id, interaction=interaction,
            model=scripted.model if scripted is not None else None,
            services=self.live(limiter=limiter), publishing=self.publishing, models=self._models,
            history=self._history, pipeline=self.pipeline, connections=self.connections,
            metrics=self.metrics, tracing=self.tracing,
        )  # fmt: skip

    # ---- the deployment pipeline -------------------------------------------------------
    def pipeline_services(
        self, *, images: ImageBuilder | None = None, registry: RegistryAccess | None = None
    ) -> PipelineServices:
        """The pipeline's services. The image builder and registry are the caller's
        (`kriptik deploy`'s flags), else the substitutes' (the simulator's, or none), else
        the Docker engine at DOCKER_HOST and the user's GHCR, pushed to with their GitHub key."""
        from tools.pipeline import GhcrRegistry, PipelineServices
        from tools.publish.teardown import WebAppTeardown

        stand_in = self.substitutes
        # A registry the caller named (`kriptik deploy --registry`) holds for Cloud Run too:
        # the user chose where the image goes. Otherwise Cloud Run's image goes to Artifact
        # Registry in the key's project (Cloud Run pulls from Google's registries only).
        named = registry
        if stand_in is not None:
            images = images if images is not None else stand_in.images
            registry = registry if registry is not None else stand_in.registry
        else:
            from tools.pipeline.images import ImageService

            images = images or ImageService(docker_cli=self.settings.docker_cli)
            registry = registry or GhcrRegistry(self.vault, self.connections)
        connections = self.connections
        # The simulator's registry is its own (None there: the default registry).
        cloudrun = self._cloudrun_registry(connections) if stand_in is None else None
        services = PipelineServices(
            settings=self.settings, vault=self.vault, http=self.http, images=images,
            registry=registry, clock=self.clock, connections=connections,
            web=WebAppTeardown(vault=self.vault, settings=self.settings, http=self.http,
                               connections=connections),
            targets=self._deploy_targets(connections),
            cloudrun_registry=named or cloudrun, metrics=self.metrics, tracing=self.tracing,
        )  # fmt: skip
        if stand_in is not None and stand_in.timings is not None:
            services.timings = stand_in.timings
        return services

    def _deploy_targets(self, connections: Connections) -> dict[str, DeployTarget]:
        """Hugging Face Inference Endpoints, Google Cloud Run and Amazon SageMaker, each
        taking the user's own key per call (refreshed where it expires; AWS: the role KripTik
        assumes, or a key pair) and the base URLs of the settings."""
        from tools.targets.cloudrun import CloudRunTarget
        from tools.targets.huggingface import HuggingFaceTarget
        from tools.targets.sagemaker import SageMakerTarget

        def hf_token(user_id: str) -> Awaitable[SecretStr]:
            return connections.token(user_id, "huggingface")

        def gcp_key(user_id: str) -> Awaitable[SecretStr]:
            return connections.token(user_id, "gcp")

        def aws_credential(user_id: str) -> Awaitable[SecretStr]:
            return connections.token(user_id, "aws")

        settings, stand_in = self.settings, self.substitutes
        # The simulator answers at once: its targets poll (an operation, a status) as fast.
        fast_s = stand_in.timings.poll_s if stand_in and stand_in.timings else None
        huggingface = HuggingFaceTarget(
            http=self.http, tokens=hf_token, hub_base_url=settings.huggingface_base_url,
            endpoints_base_url=settings.hf_endpoints_base_url, timeout_s=settings.http_timeout_s,
            poll_s=fast_s or 10.0,
        )  # fmt: skip
        cloudrun = CloudRunTarget(
            http=self.http, settings=settings, tokens=gcp_key, poll_s=fast_s or 5.0
        )
        sagemaker = SageMakerTarget(settings=settings, tokens=aws_credential, poll_s=fast_s or 15.0)
        return {"huggingface": huggingface, "cloudrun": cloudrun, "sagemaker": sagemaker}

    def _cloudrun_registry(self, connections: Connections) -> RegistryAccess:
        """Artifact Registry in the user's own project, pushed to with their `gcp` key."""
        from tools.pipeline.artifact_registry import ArtifactRegistryAccess

        def gcp_key(user_id: str) -> Awaitable[SecretStr]:
            return connections.token(user_id, "gcp")

        return ArtifactRegistryAccess(
            http=self.http, tokens=gcp_key, base_url=self.settings.artifact_registry_base_url,
            token_url=self.settings.google_oauth_token_url, timeout_s=self.settings.http_timeout_s,
        )  # fmt: skip

    async def launch_pipeline(
        self, services: PipelineServices | None = None, *, executor_id: str | None = None
    ) -> DeploymentPipeline:
        """Start DBOS here and now (the CLI's commands), under `executor_id` (default: this
        instance's id, so it recovers only its own workflows)."""
        from tools.pipeline import launch

        running = await launch(
            services or self.pipeline_services(),
            executor_id=executor_id or self.settings.instance_id,
        )
        self.pipeline = PipelineHandle.of(running)
        return running

    async def _wake_waiting_deployments(self, user_id: str, provider: str) -> None:
        """A key was stored or an account connected (pasted, Connect, the keys panel):
        deployments of the user parked on a rejected key try again with it."""
        from tools.pipeline.api import resume_after_new_key

        if (running := self.pipeline.now()) is not None:
            await resume_after_new_key(running.services, user_id)

    def launch_in_background(self) -> None:
        """Start the pipeline without waiting for it (the web app: /health and the login
        page need not wait for a second of imports; deployment tools wait instead)."""
        self.pipeline = PipelineHandle.launching(asyncio.create_task(self._launch_or_none()))

    async def _launch_or_none(self) -> DeploymentPipeline | None:
        """A pipeline that cannot start leaves the chat working; deployments then say
        they are unavailable."""
        # Imported in a thread so the event loop keeps answering while they load.
        await asyncio.to_thread(importlib.import_module, "tools.pipeline.api")  # DBOS
        try:
            running = await self.launch_pipeline()
        except Exception:
            _log.exception("the deployment pipeline did not start; the chat works without it")
            return None
        _return_freed_memory()
        return running

    async def close(self) -> None:
        """Stop the pipeline (never mid-launch), then close the HTTP client, the chat
        models' clients and the vault, and export the spans not yet exported."""
        pipeline = await self.pipeline.settled()
        if pipeline is not None:
            from tools.pipeline import shutdown

            try:
                await shutdown(pipeline)
            except Exception:  # already down
                _log.debug("pipeline shutdown", exc_info=True)
        self.pipeline = PipelineHandle()
        await self.http.aclose()
        if self._models is not None:  # a turn ran: close the chat models' clients
            await self._models.close()
        await self.vault.close()
        # Blocking (one POST, up to the exporter's timeout): off the event loop.
        await asyncio.to_thread(self.tracing.shutdown)


def _return_freed_memory() -> None:
    """Hand the heap that start-up freed back to the OS, once, when the app has finished
    starting. Imports, migrations and the workflow engine's launch allocate and free a
    great deal; glibc keeps freed pages for reuse, so they would count in the resident
    memory of an idle process for good. Elsewhere than glibc this does nothing."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        _log.debug("malloc_trim is not available here", exc_info=True)


@asynccontextmanager
async def opened_root(
    settings: Settings | None = None, *, substitutes: Substitutes | None = None
) -> AsyncGenerator[Root]:
    """The root for one command (the process's settings unless given), closed after it."""
    root = await Root.open(settings or get_settings(), substitutes=substitutes)
    try:
        yield root
    finally:
        await root.close()


@asynccontextmanager
async def opened_vault(settings: Settings | None = None) -> AsyncGenerator[Vault]:
    """Only the vault, for a command that needs nothing else; closed after it."""
    vault = await Vault.open(settings or get_settings())
    try:
        yield vault
    finally:
        await vault.close()


async def resolve_user(vault: Vault, name: str) -> UserView:
    user = await vault.users.get(name)
    if user is None:
        raise VaultError(f"no user {name!r}; create one with `kriptik users add {name}`")
    return user
