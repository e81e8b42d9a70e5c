"""The agent: model choice, prompts, tools, and the chat-turn loop that yields UI events.

The UI calls `run_turn(TurnContext(...), text)` and renders the events; it answers key
questions and approvals by implementing `Interaction`.

The run loop (`agent.turn`) brings in pydantic-ai, the OpenAI SDK and the tools, about
3.5 s of imports; it loads on first use, so a module that needs only the event types
(`agent.events`, `agent.guard`) does not pay for it, and neither does the app's start-up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vault.lazy import lazy_exports

if TYPE_CHECKING:
    from agent.context import TurnContext
    from agent.events import (
        AppLive,
        Approval,
        DeploymentStarted,
        Final,
        GpuChoice,
        Notice,
        Progress,
        Question,
        TextDelta,
        ToolFinished,
        ToolStarted,
        TurnUsage,
        UIEvent,
        VramEstimate,
        WorkflowCard,
    )
    from agent.interaction import ApprovalDecision, DeclineAll, Interaction
    from agent.turn import NO_KEY, run_turn

__all__ = [
    "NO_KEY",
    "AppLive",
    "Approval",
    "ApprovalDecision",
    "DeclineAll",
    "DeploymentStarted",
    "Final",
    "GpuChoice",
    "Interaction",
    "Notice",
    "Progress",
    "Question",
    "TextDelta",
    "ToolFinished",
    "ToolStarted",
    "TurnContext",
    "TurnUsage",
    "UIEvent",
    "VramEstimate",
    "WorkflowCard",
    "run_turn",
]

_WHERE = {
    **dict.fromkeys(
        ("AppLive", "Approval", "DeploymentStarted", "Final", "GpuChoice", "Notice", "Progress",
         "Question", "TextDelta", "ToolFinished", "ToolStarted", "TurnUsage", "UIEvent",
         "VramEstimate", "WorkflowCard"),
        "events",
    ),
    **dict.fromkeys(("ApprovalDecision", "DeclineAll", "Interaction"), "interaction"),
    "TurnContext": "context",
    **dict.fromkeys(("NO_KEY", "run_turn"), "turn"),
}  # fmt: skip


__getattr__ = lazy_exports(__name__, _WHERE)
