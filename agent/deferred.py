"""Answering deferred tool calls in place: key questions and approvals.

```
request_api_key ──CallDeferred(question)──> ask_key:      Question -> Interaction.ask_secret
                                              -> KeyService.save (validate, then store)
                                              -> the model gets "RUNPOD_API_KEY stored"
create_runpod_endpoint ──requires_approval──> ask_approval: plan (what, price) -> Approval
                                              -> Interaction.ask_approval -> approve / deny
```

A rejected key is asked for again (up to `max_key_attempts`) with the provider's reason;
a cancelled question tells the model the user declined. Each answer closes the call's
audit row: the question's row was opened when the tool raised, a denial writes its own.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import SecretStr
from pydantic_ai import RunContext, ToolDenied, ToolFailed
from pydantic_ai.messages import ToolCallPart

from agent.events import Approval, Question
from agent.guard import mask, masked_args
from agent.state import TurnState
from tools.app_tools import APP_APPROVAL_PLANS
from tools.deps import Deps
from tools.onboarding import ONBOARDING, AskableProvider, Onboarding
from tools.pipeline_stubs import APPROVAL_PLANS, ApprovalPlan
from tools.pipeline_tools import pipeline_approval_plan
from vault import REDACTOR, VaultError

__all__ = ["answer_question", "ask_approval", "ask_key", "question_for"]


def question_for(
    info: Onboarding,
    *,
    reason: str,
    tool_call_id: str | None,
    attempt: int = 1,
    problem: str | None = None,
) -> Question:
    return Question(
        tool_call_id=tool_call_id, provider=info.provider, title=info.title,
        env_name=info.env_name, reason=mask(reason), signup_url=info.signup_url,
        keys_url=info.keys_url, scopes=list(info.scopes), instructions=info.instructions,
        attempt=attempt, problem=problem,
    )  # fmt: skip


async def _store(state: TurnState, provider: AskableProvider, secret: SecretStr) -> str | None:
    """Validate and store a pasted key; None when stored, else why not (for the user)."""
    REDACTOR.register(secret.get_secret_value())  # before anything can echo it
    try:
        result = await state.key_service.save(state.user_id, provider, secret)
    except VaultError as error:  # e.g. spaces in the key: the message says what to fix
        return REDACTOR.redact(str(error))
    return None if result.view is not None else REDACTOR.redact(result.message)


async def ask_key(
    state: TurnState, info: Onboarding, *, reason: str, call_id: str | None
) -> tuple[bool, str | None]:
    """Ask for a key until one is stored, the user cancels, or the attempts run out.
    Returns whether it was stored, and why the last attempt was refused (None: cancelled)."""
    problem: str | None = None
    for attempt in range(1, state.max_key_attempts + 1):
        question = question_for(
            info, reason=reason, tool_call_id=call_id, attempt=attempt, problem=problem
        )
        state.emit(question)
        secret = await state.interaction.ask_secret(question)
        if secret is None:
            return False, None
        problem = await _store(state, info.provider, secret)
        if problem is None:
            return True, None
    return False, problem


async def answer_question(state: TurnState, call: ToolCallPart, meta: dict[str, Any]) -> object:
    """The result the model gets for one `request_api_key` call."""
    info = ONBOARDING[meta["provider"]]
    row = state.pending.pop(call.tool_call_id, None)
    try:
        stored, problem = await ask_key(
            state, info, reason=str(meta["reason"]), call_id=call.tool_call_id
        )
    except BaseException:
        if row is not None:
            await state.audit.finish_tool(row, outcome="failed", summary="the question failed")
        raise
    if stored:
        answer: object = info.placeholder
        outcome, summary = "success", info.placeholder
    elif problem is None:
        summary = "the user did not provide the key"
        outcome, answer = (
            "denied",
            ToolFailed(
                f"The user did not provide a {info.title} key. Do not ask again in this turn; say "
                "what the key is for and that they can add it whenever they are ready."
            ),
        )
    else:
        summary = f"no key stored after {state.max_key_attempts} attempts: {problem}"
        outcome, answer = "failed", ToolFailed(f"The {info.title} key was not stored: {problem}")
    if row is not None:
        await state.audit.finish_tool(
            row, outcome=outcome, summary=summary, approved_by=state.user_name if stored else None
        )
    return answer


async def _plan(ctx: RunContext[Deps], call: ToolCallPart) -> ApprovalPlan:
    name = call.tool_name
    args = call.args_as_dict()
    # The GPU tools' cards come from the running pipeline's plans. Where none runs here, or
    # it cannot plan yet (no RunPod key stored: the tool asks for one when it runs), from
    # the plans kept with the stubs (same arguments), priced from the catalogue alone.
    first = APP_APPROVAL_PLANS.get(name) or pipeline_approval_plan(name)
    fallback = APPROVAL_PLANS.get(name)
    if first is not None:
        plan = await first(ctx.deps, args)
        if plan.known or fallback is None:
            return plan
    if fallback is None:
        return ApprovalPlan(summary=f"Run {call.tool_name}", creates=[], price="unknown")
    return await fallback(ctx.deps, args)


async def ask_approval(
    state: TurnState, ctx: RunContext[Deps], call: ToolCallPart
) -> bool | ToolDenied:
    """Approve (True) or deny (ToolDenied) one side-effecting call, and audit a denial."""
    args = call.args_as_dict()
    plan = await _plan(ctx, call)
    if not plan.known:
        decision_note = f"KripTik did not ask the user: the price is {plan.price}."
        await _deny_row(state, call, args, f"not asked: {plan.price}")
        return ToolDenied(decision_note + " Fix the arguments (see choose_gpu) and call again.")
    approval = Approval(
        tool_call_id=call.tool_call_id, tool=call.tool_name, summary=plan.summary,
        creates=plan.creates, price=plan.price, usd_per_hour=plan.usd_per_hour, args=args,
    )  # fmt: skip
    state.emit(approval)
    try:
        decision = await state.interaction.ask_approval(approval)
    except BaseException:  # the chat went away or the turn was stopped: nothing ran
        await _deny_row(state, call, args, "the approval was never answered", outcome="failed")
        raise
    if decision.approved:
        state.approvers[call.tool_call_id] = decision.by
        return True
    note = f": {decision.note}" if decision.note else ""
    await _deny_row(state, call, args, f"denied by {decision.by}{note}")
    return ToolDenied(f"The user denied {call.tool_name}{note}. Do not retry it unasked.")


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
