"""A FunctionModel that makes the given tool calls, one per response, then says "done":
the smallest agent script, for tests that drive tools through pydantic-ai directly; and
`approve_cards`, the agent's approval step for those tests (minus the person)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic_ai import DeferredToolRequests, DeferredToolResults, Tool, ToolApproved, ToolDenied
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from tools.approval import HasApprovals, card_of, coerce
from tools.cards import Card

__all__ = ["approve_cards", "calls_then_done"]


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


async def approve_cards(
    requests: DeferredToolRequests,
    deps: HasApprovals,
    tools: Sequence[Tool[Any]],
) -> tuple[DeferredToolResults, list[Card]]:
    """Approve every call as the agent would once the user clicked Approve
    (`agent.approvals`): the card from the arguments as the tool's own validator coerces
    them, bound under the call's id, and the call run with the card's arguments. A call
    with no card to show is denied. Returns the results and the cards, in order."""
    validators = {t.name: t.function_schema.validator for t in tools}
    cards = {t.name: card for t in tools if (card := card_of(t.function)) is not None}
    shown: list[Card] = []
    approvals: dict[str, bool | ToolApproved | ToolDenied] = {}
    for call in requests.approvals:
        card = await cards[call.tool_name](deps, coerce(validators[call.tool_name], call.args))
        shown.append(card)
        if not card.known:
            approvals[call.tool_call_id] = ToolDenied(f"not asked: {card.price}")
            continue
        deps.approvals.bind(call.tool_call_id, card)
        approvals[call.tool_call_id] = ToolApproved(override_args=card.args)
    return requests.build_results(approvals=approvals), shown
