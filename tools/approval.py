"""Approvals that bind the plan: the approved cards of a turn (by tool call id), the check
a gated tool makes before it spends, and the error that makes the agent ask again.

A gated tool declares its card on itself (`@approval_card(its_card)`); the agent's
toolset registers every tool that has one with `requires_approval=True` (`card_of`).

```
agent   args = coerce(tool's own validator, call.args)      ("false" -> False, "0" -> 0)
        card = await card_of(tool)(deps, args) -> the user approves exactly that card
        deps.approvals.bind(call id, card) -> the tool runs with card.args
tool    card = await bound(ctx, EndpointCard, endpoint_card)
          no approved card for this call           -> ToolFailed: nothing was done
          the card, made again from the same args,
          names a different fact (revision, pool,
          price, visibility, ...)                   -> PlanChanged: nothing was done;
                                                       the agent shows a new card
          else                                      -> the approved card: the tool carries
                                                       out its plan, unchanged
```
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from pydantic_ai import RunContext, ToolFailed
from pydantic_ai.toolsets.abstract import SchemaValidatorProt
from pydantic_core import SchemaValidator, to_jsonable_python

from tools.cards import Card, changes

__all__ = [
    "Approvals",
    "CardFn",
    "HasApprovals",
    "PlanChanged",
    "approval_card",
    "bound",
    "card_of",
    "coerce",
]

CardFn = Callable[[Any, dict[str, Any]], Awaitable[Card]]
"""A tool's card: (deps, coerced arguments) -> what the call will do and cost."""

C = TypeVar("C", bound=Card)
F = TypeVar("F", bound=Callable[..., Any])

_CARD_ATTRIBUTE = "__kriptik_approval_card__"


def approval_card(card: CardFn) -> Callable[[F], F]:
    """Declare `card` as the approval card of the tool function it decorates: the tool
    needs approval, and the user approves (and the tool then runs) exactly that card."""

    def declare(tool: F) -> F:
        setattr(tool, _CARD_ATTRIBUTE, card)
        return tool

    return declare


def card_of(tool: Callable[..., Any]) -> CardFn | None:
    """The approval card `tool` declares (`approval_card`), or None: it needs no approval."""
    card: CardFn | None = getattr(tool, _CARD_ATTRIBUTE, None)
    return card


class PlanChanged(ToolFailed):
    """The world changed between the approval and the execution; nothing was done.

    The agent's hooks catch it and ask the user again with a new card that lists
    `changes`. Where nothing catches it, the model reads the message: call again.
    """

    def __init__(self, tool: str, found: list[str]) -> None:
        self.tool, self.changes = tool, found
        super().__init__(
            f"Nothing was done: what {tool} would do changed after the user approved it "
            f"({'; '.join(found)}). Call {tool} again so the user can approve the new plan."
        )


class Approvals:
    """The cards the user approved in one turn, by tool call id. Approvals are answered
    inside the turn that asked (nothing pauses a turn half-way), so the store lives with
    the turn's `Deps`; a call with no card here is refused, never run on its arguments."""

    def __init__(self) -> None:
        self._cards: dict[str, Card] = {}

    def bind(self, tool_call_id: str, card: Card) -> None:
        self._cards[tool_call_id] = card

    def card(self, tool_call_id: str | None) -> Card | None:
        return None if tool_call_id is None else self._cards.get(tool_call_id)


class HasApprovals(Protocol):
    @property
    def approvals(self) -> Approvals: ...


def coerce(
    validator: SchemaValidator | SchemaValidatorProt, raw: str | dict[str, Any] | None
) -> dict[str, Any]:
    """The arguments as the tool receives them: validated and coerced by the tool's own
    validator (the one pydantic-ai calls it through), as JSON values.

    Raises:
        ValidationError: The arguments do not fit the tool's schema.
    """
    if isinstance(raw, str):
        validated = validator.validate_json(raw or "{}")
    else:
        validated = validator.validate_python(raw or {})
    result: dict[str, Any] = to_jsonable_python(validated)
    return result


async def bound(ctx: RunContext[HasApprovals], kind: type[C], card: CardFn) -> C:
    """The card the user approved for this call, once the world still matches it.

    Call it right before the first side effect.

    Raises:
        ToolFailed: The call has no approved card (nothing was done).
        PlanChanged: The card, made again now, differs (nothing was done).
    """
    approved = ctx.deps.approvals.card(ctx.tool_call_id)
    if approved is None or approved.tool != ctx.tool_name:
        raise ToolFailed(
            f"{ctx.tool_name} runs only as approved on a KripTik approval card, and this call "
            "has none. Nothing was done."
        )
    found = changes(approved, await card(ctx.deps, approved.args))
    if found:
        raise PlanChanged(approved.tool, found)
    if not isinstance(approved, kind):
        raise ToolFailed(
            f"{ctx.tool_name} was approved without a plan it can run. Nothing was done."
        )
    return approved
