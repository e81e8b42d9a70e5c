"""`TurnContext`: who is chatting where, and the live services the turn is given."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from agent.interaction import DeclineAll, Interaction
from tools.metrics import Metrics
from tools.tracing import Tracing

if TYPE_CHECKING:  # types only: the context is built before the run loop is imported
    from pydantic_ai.models import Model

    from agent.history import SqlConversationStore
    from agent.llm import ChatModels
    from tools.connect import Connections
    from tools.deps import Services
    from tools.pipeline.handle import PipelineHandle
    from tools.publish.models import AppPublishing
    from vault import Settings, Vault

__all__ = ["TurnContext"]


@dataclass(frozen=True, kw_only=True)
class TurnContext:
    """Who is chatting where, and what the turn may use.

    The live services are built by the caller, the one place that wires the process
    (`ui.root`, the composition root of the web app and the CLI, builds a turn's context);
    the agent never builds one itself.

    Attributes:
        services: The tools' services (`tools.services.LiveServices` over the vault).
        publishing: Publishing of generated apps (`tools.publish.service.LivePublishing`).
        interaction: The UI's answers to key questions and approvals.
        models: The process's chat models (`agent.llm.ChatModels`, one per composition
            root), from which the turn takes the configured model for its key.
        history: The threads' history store (one per composition root, so its cache of
            parsed threads outlives a turn; two roots on one database never share one).
        model: A fixed chat model (tests, `kriptik chat --fake-llm`); no key is needed,
            and `models` is not used.
        pipeline: The process's deployment pipeline (None where none runs).
        connections: The process's connected accounts (`tools.connect.Connections`): the
            chat model's OpenRouter key is taken through it. None: read from the vault.
        metrics: The process's metrics (`tools.metrics.Metrics`, one per composition root);
            by default a registry of the turn's own, which nobody scrapes.
        tracing: The process's traces (`tools.tracing.Tracing`, one per composition root):
            the turn's span and pydantic-ai's model-request and tool-call spans; by
            default off.
    """

    settings: Settings
    vault: Vault
    user_id: str
    user_name: str
    thread_id: str
    services: Services
    publishing: AppPublishing
    models: ChatModels
    history: SqlConversationStore
    interaction: Interaction = field(default_factory=DeclineAll)
    model: Model | None = None
    pipeline: PipelineHandle | None = None
    connections: Connections | None = None
    metrics: Metrics = field(default_factory=Metrics)
    tracing: Tracing = field(default_factory=Tracing.off)
