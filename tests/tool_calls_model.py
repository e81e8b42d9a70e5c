"""A FunctionModel that makes the given tool calls, one per response, then says "done":
the smallest agent script, for tests that drive tools through pydantic-ai directly."""

from __future__ import annotations

from typing import Any

from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

__all__ = ["calls_then_done"]


def calls_then_done(*calls: tuple[str, dict[str, Any]]) -> FunctionModel:
    """A model that makes `calls`, one per response (counting the calls it already made in
    the history), then answers "done"."""

    def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        made = sum(
            isinstance(p, ToolCallPart)
            for m in messages
            if isinstance(m, ModelResponse)
            for p in m.parts
        )
        if made < len(calls):
            name, args = calls[made]
            return ModelResponse(parts=[ToolCallPart(name, args, tool_call_id=f"call-{made}")])
        return ModelResponse(parts=[TextPart("done")])

    return FunctionModel(respond)
