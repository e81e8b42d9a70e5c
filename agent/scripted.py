"""A scripted chat model: each model request plays the next step of a script.

For tests and `kriptik chat --fake-llm SCRIPT`. It is a pydantic-ai `FunctionModel` with
both the plain and the streaming function, so it serves `run`, `run_stream_events` and an
`event_stream_handler` alike. A step is a reply text, one or more tool calls, or a
function of the history that returns one of those (to branch on a tool's outcome).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterable
from itertools import count
from typing import Any

from pydantic import BaseModel, Field, SecretStr
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, DeltaToolCalls, FunctionModel

from agent.events import Approval, Question
from agent.interaction import ApprovalDecision

__all__ = ["Call", "Reply", "ScriptedInteraction", "ScriptedModel", "Step"]


class Call(BaseModel):
    """One tool call the model makes."""

    tool: str
    args: dict[str, Any] = Field(default_factory=dict[str, Any])
    id: str | None = None


class Reply(BaseModel):
    """A text reply (ends the run unless tools were called alongside)."""

    text: str


Step = Reply | Call | list[Call] | Callable[[list[ModelMessage]], "Reply | Call | list[Call]"]


class ScriptedModel:
    """Plays `steps` in order, one per model request, across runs and turns."""

    def __init__(self, steps: Iterable[Step], *, name: str = "scripted") -> None:
        self._steps = list(steps)
        self._next = 0
        self._ids = count(1)
        self.requests: list[list[ModelMessage]] = []
        self.model = FunctionModel(self._plain, stream_function=self._stream, model_name=name)

    @property
    def remaining(self) -> int:
        return len(self._steps) - self._next

    def extend(self, steps: Iterable[Step]) -> None:
        self._steps.extend(steps)

    def _step(self, messages: list[ModelMessage]) -> list[TextPart | ToolCallPart]:
        self.requests.append(list(messages))
        if self._next >= len(self._steps):
            return [TextPart("(the script has no more steps)")]
        step = self._steps[self._next]
        self._next += 1
        if callable(step):
            step = step(messages)
        if isinstance(step, Reply):
            return [TextPart(step.text)]
        calls = [step] if isinstance(step, Call) else step
        return [
            ToolCallPart(c.tool, dict(c.args), tool_call_id=c.id or f"call_{next(self._ids)}")
            for c in calls
        ]

    def _plain(self, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        return ModelResponse(parts=self._step(messages))

    async def _stream(
        self, messages: list[ModelMessage], info: AgentInfo
    ) -> AsyncIterator[str | DeltaToolCalls]:
        for index, part in enumerate(self._step(messages)):
            if isinstance(part, TextPart):
                words = part.content.split(" ")
                for n, word in enumerate(words):  # several deltas, as a real stream sends
                    yield word if n == 0 else " " + word
                continue
            text = json.dumps(part.args)
            half = len(text) // 2
            first = DeltaToolCall(part.tool_name, text[:half], tool_call_id=part.tool_call_id)
            yield {index: first}
            yield {index: DeltaToolCall(None, text[half:])}


class ScriptedInteraction:
    """Answers questions and approvals from lists, in order, and records what was asked.

    Args:
        secrets: The keys to enter, one per question; None cancels that question.
        approvals: The decision for each approval, in order.
        who: The name recorded as the approver.
    """

    def __init__(
        self,
        *,
        secrets: Iterable[str | None] = (),
        approvals: Iterable[bool] = (),
        who: str = "tester",
    ) -> None:
        self._secrets = list(secrets)
        self._approvals = list(approvals)
        self._who = who
        self.questions: list[Question] = []
        self.approvals: list[Approval] = []

    async def ask_secret(self, question: Question) -> SecretStr | None:
        self.questions.append(question)
        if not self._secrets:
            return None
        secret = self._secrets.pop(0)
        return None if secret is None else SecretStr(secret)

    async def ask_approval(self, approval: Approval) -> ApprovalDecision:
        self.approvals.append(approval)
        approved = self._approvals.pop(0) if self._approvals else False
        note = None if approved else "not now"
        return ApprovalDecision(approved=approved, by=self._who, note=note)
