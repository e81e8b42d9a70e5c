"""Answering deferred key questions in place (approvals: `agent.approvals`).

```
request_api_key ──CallDeferred(question)──> ask_key:      Question -> Interaction.ask_secret
                                              -> KeyService.save (validate, then store)
                                              -> the model gets "RUNPOD_API_KEY stored"
```

A rejected key is asked for again (up to `max_key_attempts`) with the provider's reason;
a cancelled question tells the model the user declined. Each answer closes the call's
audit row: the question's row was opened when the tool raised.
"""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr
from pydantic_ai import ToolFailed
from pydantic_ai.messages import ToolCallPart

from agent.events import Question
from agent.guard import mask
from agent.state import TurnState
from tools.onboarding import ONBOARDING, AskableProvider, Onboarding
from vault import REDACTOR, VaultError

__all__ = ["answer_question", "ask_key", "question_for"]


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
        if not isinstance(secret, SecretStr):  # connected instead (OAuth): already stored
            return True, None
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
