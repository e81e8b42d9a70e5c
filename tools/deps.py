"""What the agent's tools depend on: small protocols, so tests pass in-memory fakes.

```
Deps
├── keys          KeyStore      does a stored key exist, and what may be shown about it
├── key_service   KeyService    validate-then-store a pasted key; re-check a stored one
├── providers     Providers     provider access with the user's stored keys (Hub, GPU catalog)
├── progress      ProgressSink  a line of progress for the chat while a tool works
├── deployment_started          a deployment the tool just created, for the chat to
│                 StartedSink   follow (before its progress streams)
├── approvals     Approvals     the approval cards the user approved this turn, by tool
│                               call id: a gated tool runs exactly its card's plan
└── pipeline      PipelineHandle  the process's deployment pipeline (None where none runs)
```

No protocol returns a key: tools never hold one. `tools.services.LiveServices` is the real
implementation of the first three, over the vault and the provider clients.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from pydantic import SecretStr

from tools.approval import Approvals
from tools.credentials import SaveResult
from tools.pipeline.handle import PipelineHandle
from tools.publish.models import AppPublishing
from tools.sizing import GpuCatalog, HubReader, ModelRequirements
from vault import CredentialView

__all__ = [
    "Deps", "KeyService", "KeyStore", "ProgressSink", "Providers", "Services", "StartedSink",
]  # fmt: skip


class KeyStore(Protocol):
    async def has(self, user_id: str, provider: str) -> bool:
        """Whether the user has a key for `provider`."""
        ...

    async def describe(self, user_id: str, provider: str) -> CredentialView:
        """The displayable facts about a stored key (raises `CredentialNotFound`)."""
        ...


class KeyService(Protocol):
    async def save(self, user_id: str, provider: str, secret: SecretStr) -> SaveResult:
        """Validate a pasted key with its provider, then store it encrypted."""
        ...

    async def recheck(self, user_id: str, provider: str) -> SaveResult:
        """Validate a stored key again and record the verdict."""
        ...

    async def mark_rejected(self, user_id: str, provider: str, message: str) -> None:
        """Record that the provider refused the stored key in the middle of a tool, so the
        keys panel stops calling it valid (nothing when no key is stored)."""
        ...


class Providers(Protocol):
    async def hub(self, user_id: str) -> HubReader:
        """Hugging Face, with the user's token when one is stored."""
        ...

    async def gpu_catalog(self, user_id: str) -> GpuCatalog:
        """RunPod's live GPU prices with the user's key, else the packaged catalog."""
        ...


class Services(KeyStore, KeyService, Providers, Protocol):
    """All three service protocols in one object (`tools.services.LiveServices`)."""


class ProgressSink(Protocol):
    async def __call__(
        self, text: str, *, tool_call_id: str | None = None, fraction: float | None = None
    ) -> None: ...


class StartedSink(Protocol):
    async def __call__(self, deployment_id: str, *, tool_call_id: str | None = None) -> None: ...


async def _unwatched(deployment_id: str, *, tool_call_id: str | None = None) -> None:
    """No chat follows this run's deployments (the CLI's own calls, tests)."""


@dataclass
class Deps:
    """Everything a tool call may use. One per chat turn."""

    user_id: str
    thread_id: str
    keys: KeyStore
    key_service: KeyService
    providers: Providers
    progress: ProgressSink
    publishing: AppPublishing
    # Inspections made in this turn, by repo id: sizing tools reuse them instead of
    # reading the Hub again (and a restart simply inspects again).
    inspected: dict[str, ModelRequirements] = field(default_factory=dict[str, ModelRequirements])
    # The cards the user approved in this turn (the agent binds them; the tools run them).
    approvals: Approvals = field(default_factory=Approvals)
    # The deployment pipeline, as the composition root launched it (the GPU tools use it).
    pipeline: PipelineHandle | None = None
    # Told the moment a tool's deployment exists, so the chat can follow its progress.
    deployment_started: StartedSink = _unwatched
