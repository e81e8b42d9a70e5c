"""What the tools' typed results tell the UI: a VRAM summary, a GPU choice, a deployment
started, a web app's closing summary.

The UI draws the VRAM chart, marks the chosen pool and follows a deployment from these
events. They are chosen by the type of what a tool returned (or told `Deps` while it
ran), never by the tool's name or its text, so renaming a tool or rewording its result
cannot silently change the screen.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agent.events import (
    AppLive,
    DeploymentStarted,
    GpuChoice,
    UIEvent,
    VramEstimate,
    WorkflowCard,
)
from agent.guard import mask
from agent.state import TurnState
from tools.app_tools import PublishedApp
from tools.deps import StartedSink
from tools.model_results import GpuPlan, VramSummary, WorkflowReport

__all__ = ["result_events", "started_sink"]


def result_events(tool_call_id: str, result: object, args: Mapping[str, Any]) -> list[UIEvent]:
    """The events a successful tool result carries, by its type (none for most).

    `args` are the call's arguments as the UI was shown them: a VRAM summary is about the
    repo its call named.
    """
    match result:
        case VramSummary():
            repo_id = str(args.get("repo_id", ""))
            return [VramEstimate(tool_call_id=tool_call_id, repo_id=repo_id, summary=result)]
        case GpuPlan():
            return [GpuChoice(tool_call_id=tool_call_id, plan=result)]
        case WorkflowReport():
            return [WorkflowCard(tool_call_id=tool_call_id, report=result)]
        case PublishedApp():
            # Shown to the user, not read by the model, so the scrubber skips it: mask here.
            return [AppLive(tool_call_id=tool_call_id, summary=mask(result.summary))]
        case _:
            return []


def started_sink(state: TurnState) -> StartedSink:
    """The `Deps.deployment_started` of a chat turn: each new deployment, as an event."""

    async def sink(deployment_id: str, *, tool_call_id: str | None = None) -> None:
        state.emit(DeploymentStarted(tool_call_id=tool_call_id, deployment_id=deployment_id))

    return sink
