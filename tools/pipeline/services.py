"""What the deployment workflow needs from the process: settings, the vault, one HTTP
client, the Docker engine, a registry, the web half of teardown, timings and a clock.

Workflow inputs are stored in the DBOS system database, so they carry only ids. Everything
else, keys above all, comes from the `PipelineServices` that the composition root built
and handed to its `DeploymentPipeline` (`tools.pipeline.durable`); a workflow recovered
after a crash reaches them through that instance too. Keys come per call through
`tools.connect.Connections.token` (a connected account's refreshed before it expires) and
are never passed to, or returned from, a step. GHCR's push credentials are checked for
`write:packages` before the image is built (`GhcrRegistry.login`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol, TypeVar

import httpx
from pydantic import SecretStr

from tools.clients._base import ProviderClient
from tools.clients._http import Retry
from tools.clients.huggingface import HuggingFaceClient
from tools.clients.registry import RegistryLogin
from tools.clients.runpod import RunPodClient
from tools.clients.runpod_jobs import RunPodJobsClient
from tools.connect import Connections
from tools.metrics import Metrics
from tools.targets.base import DeployTarget
from tools.tracing import Tracing
from vault import CredentialNotFound, Settings, Vault
from vault.deployments import DeploymentStore, DeploymentView
from vault.limits import EffectiveLimits

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
    "WebTeardown",
]

_Client = TypeVar("_Client", bound=ProviderClient)


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
        activity_poll_s: Longest wait between two looks at a ready endpoint's job counters
            (its idle limit is measured from the last change seen).
    """

    poll_s: float = 5.0
    ready_timeout_s: float = 1800.0
    throttle_grace_s: float = 600.0
    unhealthy_grace_s: float = 180.0
    key_wait_s: float = 3600.0
    smoke_wait_ms: int = 120_000
    log_budget_s: float = 3.0
    activity_poll_s: float = 300.0


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


class WebTeardown(Protocol):
    """The web half of a teardown (the deployment's Vercel project or Netlify site), which
    the composition root supplies (`tools.publish.teardown.WebAppTeardown`): the GPU
    pipeline never imports the web publishers."""

    async def remove(self, view: DeploymentView) -> tuple[list[str], list[str]]:
        """Delete what the deployment published; returns (removed, notes for the user).
        Raises `ProviderError` when a host refuses (teardown reports it)."""
        ...


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
    the write:packages scope); images go under ghcr.io/<their login>.

    `login` first checks, live and for free, that the key works and has write:packages
    (`Connections.require_scopes`), so a key without it stops the deployment before its
    image is built or pushed, with one message that names the scope and offers to
    reconnect (`MissingScopes` / `ReconnectNeeded`, both `AuthError`s: the deployment then
    waits for a new key)."""

    vault: Vault
    connections: Connections  # the root's: token use and the scope check
    host: str = "ghcr.io"

    async def check(self, user_id: str) -> None:
        """Raise `MissingScopes` / `ReconnectNeeded` unless the user's GitHub key can push
        images (before an approval card, and before a build)."""
        await self.connections.require_scopes(user_id, "github", {"ghcr"})

    async def namespace(self, user_id: str) -> str:
        view = await self.vault.credentials.describe(user_id, "github")
        if not view.identity:
            raise CredentialNotFound(
                "your GitHub key has not been checked yet; run `kriptik keys check github`"
            )
        return view.identity.lower()

    async def login(self, user_id: str) -> RegistryLogin:
        await self.check(user_id)
        token = await self.connections.token(user_id, "github")
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
    # Where Cloud Run deployments' images go (`tools.pipeline.artifact_registry`: Artifact
    # Registry with the user's `gcp` key); None: the default `registry` above.
    cloudrun_registry: RegistryAccess | None = None
    timings: Timings = field(default_factory=Timings)
    retry: Retry | None = None
    # None: this process publishes no web apps, so teardown has none to remove.
    web: WebTeardown | None = None
    clock: Callable[[], datetime] = _now
    # The RunPod secret (a name, not a value) that holds the user's Hugging Face token.
    hf_secret_name: str = "hf_token"  # noqa: S105
    # Token use (refreshed before expiry): the root's, else one of its own.
    connections: Connections | None = None
    # The deploy targets beside RunPod (`tools.targets`), by name, as the composition root
    # built them; RunPod itself runs through the steps of `tools.pipeline` directly.
    targets: Mapping[str, DeployTarget] = field(default_factory=dict[str, DeployTarget])
    # The process's metrics (the composition root's); by default a registry of its own.
    metrics: Metrics = field(default_factory=Metrics)
    # The process's traces (the composition root's): DBOS's workflow and step spans go to
    # its provider; by default off.
    tracing: Tracing = field(default_factory=Tracing.off)
    _tokens: Connections = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._tokens = self.connections or Connections(
            self.vault, self.settings, self.http, retry=self.retry
        )

    async def token(self, user_id: str, provider: str) -> SecretStr:
        """The user's token for one call (`Connections.token`)."""
        return await self._tokens.token(user_id, provider)

    @property
    def deployments(self) -> DeploymentStore:
        return DeploymentStore(self.vault.sessions)

    async def limits(self, user_id: str) -> EffectiveLimits:
        """The user's caps and budget: what an admin set for them, else the settings'
        defaults, lowered by their own (`vault.limits`)."""
        return await self.vault.limits.effective(user_id)

    async def runpod(self, user_id: str) -> RunPodClient:
        """RunPod's control plane with this user's key."""
        return await self._runpod_api(RunPodClient, self.settings.runpod_rest_base_url, user_id)

    async def jobs(self, user_id: str) -> RunPodJobsClient:
        """RunPod's job API with this user's key."""
        return await self._runpod_api(RunPodJobsClient, self.settings.runpod_jobs_base_url, user_id)

    async def _runpod_api(self, kind: type[_Client], base_url: str, user_id: str) -> _Client:
        """One of RunPod's two APIs (they share the key) for this user."""
        token = await self.token(user_id, "runpod")
        return kind(
            http=self.http,
            base_url=base_url,
            token=token,
            timeout_s=self.settings.http_timeout_s,
            retry=self.retry,
        )

    async def hf_token(self, user_id: str) -> SecretStr | None:
        """The user's Hugging Face token, or None (public models need none)."""
        try:
            return await self.token(user_id, "huggingface")
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
