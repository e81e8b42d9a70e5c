"""What the deployment workflow needs from the process: settings, the vault, one HTTP
client, the Docker engine, a registry, timings, caps and a clock.

Workflow inputs are stored in the DBOS system database, so they carry only ids. Everything
else, keys above all, is looked up at run time through the `PipelineServices` that the
process registered with `configure` before `DBOS.launch()`: a workflow recovered after a
crash finds them there too. Keys come from the vault per call and are never passed to,
or returned from, a step.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final, Protocol

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr

from tools.clients._http import Retry
from tools.clients.huggingface import HuggingFaceClient
from tools.clients.runpod_jobs import RunPodJobsClient
from tools.pipeline.runpod_ops import DeployRunPodClient
from vault import CredentialNotFound, Settings, Vault
from vault.deployments import DeploymentCaps, DeploymentStore

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "GhcrRegistry",
    "ImageBuilder",
    "PipelineServices",
    "RegistryAccess",
    "RegistryLogin",
    "StaticRegistry",
    "Timings",
    "available",
    "configure",
    "current",
    "launching",
    "ready",
]


@dataclass(frozen=True, kw_only=True)
class Timings:
    """How often and how long the workflow waits (seconds).

    Attributes:
        poll_s: Between two looks at the endpoint's workers.
        ready_timeout_s: Longest wait for a first ready worker (large images pull slowly).
        throttle_grace_s: Longest wait while every worker is throttled (no capacity).
        unhealthy_grace_s: Longest wait for unhealthy workers whose logs explain nothing.
        key_wait_s: Longest wait for a new key after a 401 part-way.
        smoke_wait_ms: How long the smoke test's runsync may take.
        log_budget_s: Time spent reading one worker's logs.
    """

    poll_s: float = 5.0
    ready_timeout_s: float = 1800.0
    throttle_grace_s: float = 600.0
    unhealthy_grace_s: float = 180.0
    key_wait_s: float = 3600.0
    smoke_wait_ms: int = 120_000
    log_budget_s: float = 3.0


class RegistryLogin(BaseModel):
    """Credentials for one container registry; the password lives only in memory."""

    model_config = ConfigDict(frozen=True)

    server: str
    username: str
    password: SecretStr


class RegistryAccess(Protocol):
    """Where a user's worker images go, and the credentials to push and pull them."""

    @property
    def host(self) -> str:
        """The registry's address (read-only, so frozen dataclasses qualify)."""
        ...

    async def namespace(self, user_id: str) -> str:
        """The path under `host` for this user's images (e.g. their GitHub login)."""
        ...

    async def login(self, user_id: str) -> RegistryLogin | None:
        """Push credentials for this user, or None for an open registry."""
        ...


class ImageBuilder(Protocol):
    """Builds and pushes worker images: a Docker engine (`images.ImageService`), or the
    simulator's stand-in in `kriptik demo` (which takes any `login`, so it needs nothing
    of ours)."""

    async def unavailable(self) -> str | None: ...

    async def build(
        self,
        context: Path,
        tag: str,
        *,
        hf_token: SecretStr | None,
        build_args: Mapping[str, str],
        on_line: Callable[[str], None],
    ) -> None: ...

    async def push(
        self, ref: str, login: RegistryLogin | None, *, on_line: Callable[[str], None]
    ) -> str: ...

    async def remote_digest(self, ref: str, login: RegistryLogin | None) -> str | None: ...

    async def pull(self, ref: str, login: RegistryLogin | None) -> str: ...

    async def remove_local(self, ref: str) -> bool: ...


@dataclass(frozen=True)
class StaticRegistry:
    """One registry and one account for every user (a team registry, or tests)."""

    host: str
    space: str
    username: str | None = None
    password: SecretStr | None = None

    async def namespace(self, user_id: str) -> str:
        return self.space

    async def login(self, user_id: str) -> RegistryLogin | None:
        if self.username is None or self.password is None:
            return None
        return RegistryLogin(server=self.host, username=self.username, password=self.password)


@dataclass(frozen=True)
class GhcrRegistry:
    """GitHub Container Registry with the user's own GitHub key from the vault (it needs
    the write:packages scope); images go under ghcr.io/<their login>."""

    vault: Vault
    host: str = "ghcr.io"

    async def namespace(self, user_id: str) -> str:
        view = await self.vault.credentials.describe(user_id, "github")
        if not view.identity:
            raise CredentialNotFound(
                "your GitHub key has not been checked yet; run `kriptik keys check github`"
            )
        return view.identity.lower()

    async def login(self, user_id: str) -> RegistryLogin:
        token = await self.vault.credentials.get(user_id, "github")
        return RegistryLogin(
            server=self.host, username=await self.namespace(user_id), password=token
        )


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(kw_only=True)
class PipelineServices:
    """Everything a deployment step may use. Build one per process (tests: per test)."""

    settings: Settings
    vault: Vault
    http: httpx.AsyncClient
    images: ImageBuilder | None = None
    registry: RegistryAccess | None = None
    caps: DeploymentCaps = field(default_factory=DeploymentCaps)
    timings: Timings = field(default_factory=Timings)
    retry: Retry | None = None
    clock: Callable[[], datetime] = _now
    # The RunPod secret (a name, not a value) that holds the user's Hugging Face token.
    hf_secret_name: str = "hf_token"  # noqa: S105

    @property
    def deployments(self) -> DeploymentStore:
        return DeploymentStore(self.vault.sessions)

    async def runpod(self, user_id: str) -> DeployRunPodClient:
        """RunPod's control plane with this user's key."""
        token = await self.vault.credentials.get(user_id, "runpod")
        return DeployRunPodClient(
            http=self.http,
            base_url=self.settings.runpod_rest_base_url,
            token=token,
            timeout_s=self.settings.http_timeout_s,
            retry=self.retry,
        )

    async def jobs(self, user_id: str) -> RunPodJobsClient:
        """RunPod's job API with this user's key."""
        token = await self.vault.credentials.get(user_id, "runpod")
        return RunPodJobsClient(
            http=self.http,
            base_url=self.settings.runpod_jobs_base_url,
            token=token,
            timeout_s=self.settings.http_timeout_s,
            retry=self.retry,
        )

    async def hf_token(self, user_id: str) -> SecretStr | None:
        """The user's Hugging Face token, or None (public models need none)."""
        try:
            return await self.vault.credentials.get(user_id, "huggingface")
        except CredentialNotFound:
            return None

    async def hub(self, user_id: str) -> HuggingFaceClient:
        return HuggingFaceClient(
            http=self.http,
            base_url=self.settings.huggingface_base_url,
            token=await self.hf_token(user_id),
            timeout_s=self.settings.http_timeout_s,
            retry=self.retry,
        )


_current: PipelineServices | None = None
# The app's launch of the pipeline, while it runs in the background: `kriptik serve`
# answers /health without waiting for it, and the tools wait for it instead (`ready`).
_launching: asyncio.Future[None] | None = None

# Long enough for a slow database; a tool that waits longer says the pipeline is down.
_READY_TIMEOUT_S: Final = 60.0


def configure(services: PipelineServices | None) -> None:
    """Register the process's services; call before `DBOS.launch()` (None to clear)."""
    global _current
    _current = services


def launching(launch: asyncio.Future[None] | None) -> None:
    """Tell the tools that the pipeline is being launched by `launch` (None: no longer)."""
    global _launching
    _launching = launch


def current() -> PipelineServices:
    if _current is None:
        raise RuntimeError("tools.pipeline.configure(...) must run before deployments do")
    return _current


def available() -> bool:
    """Whether the pipeline runs here, or is being launched."""
    return _current is not None or (_launching is not None and not _launching.done())


async def ready(timeout_s: float = _READY_TIMEOUT_S) -> PipelineServices:
    """The process's services once a launch in progress has finished; `RuntimeError`
    where none runs (or it did not start in `timeout_s`)."""
    launch = _launching
    if launch is not None and not launch.done():
        # Shielded: a tool that gives up waiting must not cancel the app's launch.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(launch), timeout_s)
    return current()
