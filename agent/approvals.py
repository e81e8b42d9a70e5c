"""Approvals that bind the plan: the card is made from the call's validated arguments, shown,
stored under the call's id once approved, and the tool runs exactly that card. If the world
changed before it ran, the tool stops before spending and the user gets a new card that
says what changed.

```
handle_deferred_tool_calls ─> ask_approval: coerce the raw arguments with the tool's own
    validator ("false" -> False) -> the tool's CARD -> Approval (what, price, facts)
    -> Interaction.ask_approval -> approved: bind the card under the call id and run the
    call with the card's arguments (ToolApproved) | denied: ToolDenied, audited
wrap_tool_execute ─> run_approved: the tool re-checks the world (tools.approval.bound)
    -> PlanChanged: nothing was spent; ask_approval again, naming what changed
       -> approved: bind the new card, run again | denied: the model is told
```
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final, Literal

from pydantic import ValidationError
from pydantic_ai import RunContext, ToolApproved, ToolDenied, ToolFailed
from pydantic_ai.exceptions import ToolFailedError
from pydantic_ai.messages import ToolCallPart
from pydantic_ai.toolsets.abstract import SchemaValidatorProt
from pydantic_core import SchemaValidator, to_jsonable_python

from agent.events import Approval, Notice
from agent.guard import masked_args
from agent.state import TurnState
from agent.toolset import APPROVAL_CARDS
from tools.approval import PlanChanged, coerce
from tools.cards import Card, unknown_card
from tools.deps import Deps

__all__ = ["ask_approval", "run_approved"]

# How often one call may be asked again because its plan changed before it ran: a world
# that moves every time is reported, not chased.
_MAX_ASKS: Final = 3


def _validator(ctx: RunContext[Deps], tool: str) -> SchemaValidator | SchemaValidatorProt:
    """The validator pydantic-ai runs the tool's arguments through."""
    tools = ctx.tool_manager.tools if ctx.tool_manager is not None else None
    if tools is None or tool not in tools:
        raise LookupError(f"{tool} is not a tool of this run")
    return tools[tool].args_validator


async def _card(ctx: RunContext[Deps], call: ToolCallPart) -> Card:
    """The call's card, from its arguments as the tool will receive them."""
    name = call.tool_name
    try:
        args = coerce(_validator(ctx, name), call.args)
    except (ValidationError, LookupError) as err:
        return unknown_card(name, call.args_as_dict(), f"Run {name}", err)
    card = APPROVAL_CARDS.get(name)
    if card is None:  # every gated tool declares one (agent.toolset); no path runs unasked
        return unknown_card(name, args, f"Run {name}", "the tool declares no approval card")
    return await card(ctx.deps, args)


def _approval(call: ToolCallPart, card: Card, changed: Sequence[str]) -> Approval:
    summary = card.summary
    if changed:
        summary += f" (changed since you approved it: {'; '.join(changed)})"
    return Approval(
        tool_call_id=call.tool_call_id, tool=call.tool_name, provider=card.provider,
        summary=summary,
        creates=card.creates, price=card.price, usd_per_hour=card.usd_per_hour,
        args=json.loads(masked_args(card.args)), facts=card.facts, gpu=card.gpu,
        changed=list(changed),
    )  # fmt: skip


async def ask_approval(
    state: TurnState, ctx: RunContext[Deps], call: ToolCallPart, *, changed: Sequence[str] = ()
) -> ToolApproved | ToolDenied:
    """Show the call's card and bind it if approved. `changed` (asked again because the
    approved plan moved) says what moved; then the call's own audit row, still open,
    records the outcome, so no row is written here."""
    card = await _card(ctx, call)
    first = not changed
    if not card.known:
        return await _not_asked(state, call, card, changed)
    approval = _approval(call, card, changed)
    state.emit(approval)
    try:
        decision = await state.interaction.ask_approval(approval)
    except BaseException:  # the chat went away or the turn was stopped: nothing ran
        if first:
            await _deny_row(
                state, call, card.args, "the approval was never answered", outcome="failed"
            )
        raise
    state.metrics.approval(given=decision.approved)
    if decision.approved:
        ctx.deps.approvals.bind(call.tool_call_id, card)
        state.approvers[call.tool_call_id] = decision.by
        return ToolApproved(override_args=card.args)  # the tool runs the card's arguments
    note = f": {decision.note}" if decision.note else ""
    if first:
        await _deny_row(state, call, card.args, f"denied by {decision.by}{note}")
        return ToolDenied(f"The user denied {call.tool_name}{note}. Do not retry it unasked.")
    return ToolDenied(
        f"The user denied {call.tool_name} after its plan changed ({'; '.join(changed)}); "
        f"nothing was done{note}. Do not retry it unasked."
    )


async def _not_asked(
    state: TurnState, call: ToolCallPart, card: Card, changed: Sequence[str]
) -> ToolDenied:
    """No card can be made (the price is unknown): nobody is asked and nothing runs. Asked
    again after a change, the user still learns what changed, from a notice."""
    moved = f"the plan changed after approval ({'; '.join(changed)}) and " if changed else ""
    if not changed:
        await _deny_row(state, call, card.args, f"not asked: {card.price}")
    else:
        why = card.price.removeprefix("unknown: ")
        again = "" if any(why in line for line in changed) else f" It cannot be planned now: {why}."
        state.emit(Notice(level="warning", text=(
            f"What {call.tool_name} would do changed after you approved it "
            f"({'; '.join(changed)}).{again} Nothing was created."
        )))  # fmt: skip
    see = " (see choose_gpu)" if call.tool_name == "create_runpod_endpoint" else ""
    return ToolDenied(
        f"KripTik did not ask the user: {moved}the price is {card.price}. Fix the "
        f"arguments{see} and call again."
    )


Handler = Callable[[dict[str, Any]], Awaitable[Any]]


async def run_approved(
    state: TurnState, ctx: RunContext[Deps], call: ToolCallPart, args: dict[str, Any],
    handler: Handler,
) -> Any:  # fmt: skip
    """Run an approved call; while it finds its plan changed, ask again with a new card."""
    found: list[str] = []
    for asked_again in range(_MAX_ASKS + 1):
        card = ctx.deps.approvals.card(call.tool_call_id)
        if card is None or to_jsonable_python(args) != card.args:
            raise ToolFailed(
                f"{call.tool_name} did not run: its arguments are not the ones the user "
                "approved. Nothing was done."
            )
        try:
            return await handler(args)
        except ToolFailedError as error:
            if not isinstance(changed := error.__cause__, PlanChanged):
                raise
            found = changed.changes
        if asked_again == _MAX_ASKS:
            break
        decision = await ask_approval(state, ctx, call, changed=found)
        if isinstance(decision, ToolDenied):
            return decision
    raise ToolFailed(
        f"{call.tool_name} did not run: its plan changed again each time it was approved "
        f"({'; '.join(found)}). Nothing was done; tell the user and suggest trying later."
    )


async def _deny_row(
    state: TurnState,
    call: ToolCallPart,
    args: dict[str, Any],
    why: str,
    *,
    outcome: Literal["denied", "failed"] = "denied",
) -> None:
    await state.audit.record_tool(
        thread_id=state.thread_id, user_id=state.user_id, tool=call.tool_name,
        tool_call_id=call.tool_call_id, args=masked_args(args), outcome=outcome, summary=why,
    )  # fmt: skip
