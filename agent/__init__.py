"""The agent: model choice, prompts, tools, and the chat-turn loop that yields UI events.

The UI calls `run_turn(TurnContext(...), text)` and renders the events; it answers key
questions and approvals by implementing `Interaction`.
"""

from agent.events import (
    Approval,
    Final,
    Notice,
    Progress,
    Question,
    TextDelta,
    ToolFinished,
    ToolStarted,
    TurnUsage,
    UIEvent,
)
from agent.interaction import ApprovalDecision, DeclineAll, Interaction
from agent.turn import NO_KEY, TurnContext, run_turn

__all__ = [
    "NO_KEY",
    "Approval",
    "ApprovalDecision",
    "DeclineAll",
    "Final",
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
    "run_turn",
]
