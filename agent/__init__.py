"""The agent: model choice, prompts, and the chat-turn loop that yields UI events."""

from agent.events import Final, Notice, TextDelta, UIEvent
from agent.turn import TurnContext, run_turn

__all__ = ["Final", "Notice", "TextDelta", "TurnContext", "UIEvent", "run_turn"]
