"""One chat turn: `run_turn(ctx, text)` yields typed UI events until `Final`.

```
text ─> refuse a pasted key ─> daily cost cap ─> chat model (asks for an OpenRouter key
        securely when there is none) ─> thread history ─> agent run ─> save history ─> Final
```

The agent runs in a task; everything the UI sees (text, tool steps, questions, approvals,
progress) goes through one queue in the order it happened. Questions and approvals are
answered in place by `ctx.interaction`, so a turn never pauses half-way. A turn that fails
leaves the thread's history as it was before the turn; the audit keeps what happened.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal

from opentelemetry.trace import StatusCode
from pydantic import SecretStr
from pydantic_ai.conversation_store import ConversationConflict
from pydantic_ai.exceptions import (
    ModelAPIError,
    ModelAuthenticationError,
    ModelConnectionError,
    ModelRateLimitError,
    ModelUnavailableError,
    UnexpectedModelBehavior,
    UsageLimitExceeded,
)
from pydantic_ai.models import Model

from agent.context import TurnContext
from agent.deferred import ask_key
from agent.events import Final, Notice, TurnStatus, UIEvent
from agent.guard import looks_secret
from agent.llm import needs_key
from agent.run import ThreadNotYours, run_agent
from agent.state import AuditUnavailable, CostCapReached, SecretInRequest, TurnState
from tools.connect import ReconnectNeeded
from tools.metrics import ErrorKind
from tools.onboarding import ONBOARDING
from vault import CredentialNotFound
from vault.logs import tag_task_logs

__all__ = ["NO_KEY", "run_turn"]

log = logging.getLogger(__name__)

NO_KEY = (
    "To chat I need an OpenRouter API key. Create one at https://openrouter.ai/settings/keys, "
    "then enter it when I ask (it is stored encrypted and never shown to the assistant), or "
    "add it with `kriptik keys add openrouter`. Or set KRIPTIK_LLM_BASE_URL to a local "
    "OpenAI-compatible server such as Ollama."
)
PASTED_KEY = (
    "That message looks like it contains an API key, so I did not send it to the assistant. "
    "Never paste keys into the chat: when a key is needed I ask for it in a secure field. If "
    "it was a real key, consider rotating it at the provider."
)
_OPENROUTER_REASON = "KripTik's assistant runs on OpenRouter; the key pays for its replies."


def _day_start() -> datetime:
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


async def _openrouter_key(ctx: TurnContext) -> SecretStr | None:
    try:
        if ctx.connections is not None:  # a connected account's key, as any provider call
            return await ctx.connections.token(ctx.user_id, "openrouter")
        return await ctx.vault.credentials.get(ctx.user_id, "openrouter")
    except CredentialNotFound:
        pass
    except ReconnectNeeded:
        return None  # asked for again (the card offers Connect), never the server's key
    if ctx.settings.openrouter_api_key is None:
        return None
    if not ctx.settings.oauth_users_use_server_llm_key:
        # Accounts made by GitHub sign-in bring their own key unless the admin lets them
        # spend the server's (KRIPTIK_OAUTH_USERS_USE_SERVER_LLM_KEY).
        user = await ctx.vault.users.get_by_id(ctx.user_id)
        if user is not None and user.github_id is not None:
            return None
    return ctx.settings.openrouter_api_key


@asynccontextmanager
async def _chat_model(ctx: TurnContext, state: TurnState) -> AsyncGenerator[Model | None]:
    if ctx.model is not None:
        yield ctx.model
        return
    key = await _openrouter_key(ctx) if needs_key(ctx.settings) else None
    if key is None and needs_key(ctx.settings):
        info = ONBOARDING["openrouter"]
        stored, _ = await ask_key(state, info, reason=_OPENROUTER_REASON, call_id=None)
        await state.audit.record_tool(
            thread_id=ctx.thread_id, user_id=ctx.user_id, tool="request_api_key",
            tool_call_id=None, args={"provider": "openrouter"},
            outcome="success" if stored else "denied",
            summary=info.placeholder if stored else "the user did not provide the key",
            approved_by=ctx.user_name if stored else None,
        )  # fmt: skip
        key = await _openrouter_key(ctx) if stored else None
        if key is None:
            yield None
            return
    async with ctx.models.open(ctx.settings, key) as model:
        yield model


_LIMIT = (
    "This turn reached its limit of model requests or tokens, so I stopped. Say 'continue' "
    "to carry on from here."
)
_CONFLICT = (
    "This thread changed in another window while I was answering, so this answer was not "
    "saved. Reload the thread and send your message again."
)
_REJECTED = (
    "The model provider rejected the key (401/403). Add a new OpenRouter key with `kriptik "
    "keys add openrouter`, then try again."
)


def _failure(error: Exception) -> tuple[Notice, TurnStatus]:
    """The notice for an error that ended a turn, and the turn's status."""
    match error:
        case UsageLimitExceeded():
            return Notice(level="warning", text=_LIMIT), "usage_limit"
        case CostCapReached():
            return Notice(level="warning", text=str(error)), "cost_cap"
        case AuditUnavailable() | SecretInRequest() | ThreadNotYours():
            return Notice(level="error", text=str(error)), "failed"
        case ConversationConflict():
            return Notice(level="warning", text=_CONFLICT), "failed"
        case ModelAuthenticationError():
            return Notice(level="error", text=_REJECTED), "failed"
        case ModelRateLimitError() | ModelUnavailableError() | ModelConnectionError():
            text = (
                f"The model provider is busy or unreachable ({type(error).__name__}), even "
                "after retrying. Nothing more was done; try again in a minute."
            )
            return Notice(level="error", text=text), "failed"
        case ModelAPIError() | UnexpectedModelBehavior():
            text = (
                f"The model provider failed ({type(error).__name__}). Nothing more was done; "
                "try again, or choose another model (KRIPTIK_MODEL)."
            )
            return Notice(level="error", text=text), "failed"
        case _:
            log.error("chat turn failed", exc_info=error)
            text = (
                f"Something went wrong ({type(error).__name__}); the details are in the server "
                "log. Nothing more was done."
            )
            return Notice(level="error", text=text), "failed"


def _error_kind(error: Exception, status: TurnStatus) -> ErrorKind:
    """The metrics' kind of an error that ended a turn (`kriptik_errors_total`)."""
    if status == "usage_limit":
        return "turn_usage_limit"
    if status == "cost_cap":
        return "turn_cost_cap"
    if isinstance(error, ModelAPIError | UnexpectedModelBehavior):
        return "turn_model"
    refused = AuditUnavailable | SecretInRequest | ThreadNotYours | ConversationConflict
    return "turn_refused" if isinstance(error, refused) else "turn_internal"


async def _turn(ctx: TurnContext, text: str, state: TurnState) -> TurnStatus:
    state.check_cap()
    async with _chat_model(ctx, state) as model:
        if model is None:
            state.emit(Notice(level="warning", text=NO_KEY))
            state.emit(Final(text="", usage=state.usage(), status="no_model"))
            return "no_model"
        reply = await run_agent(ctx, text, model=model, state=state)
    final = Final(text=reply, usage=state.usage())
    state.emit(final)
    return final.status


async def _drive(
    ctx: TurnContext,
    text: str,
    state: TurnState,
    events: asyncio.Queue[UIEvent | None],
) -> None:
    tag_task_logs(user_id=ctx.user_id)  # the turn's own task: its log records name the user
    # The turn's span, current in its own task: the model requests, tool calls and the
    # workflows they start are its children. Its error is named by type: a message may
    # quote what the user or a provider said.
    with ctx.tracing.turn(user_id=ctx.user_id, thread_id=ctx.thread_id) as span:
        try:
            status = await _turn(ctx, text, state)
        except Exception as error:
            notice, status = _failure(error)
            state.metrics.error(_error_kind(error, status))
            span.set_status(StatusCode.ERROR, type(error).__name__)
            state.emit(notice)
            state.emit(Final(text="", usage=state.usage(), status=status))
        finally:
            events.put_nowait(None)  # the end of the turn
        span.set_attribute("kriptik.turn.outcome", status)


async def run_turn(ctx: TurnContext, text: str) -> AsyncIterator[UIEvent]:
    """Run one chat turn and yield its UI events; the last one is always `Final`."""
    if looks_secret(text):
        ctx.metrics.turn("refused")
        yield Notice(level="warning", text=PASTED_KEY)
        yield Final(text="", status="refused")
        return
    audit = ctx.vault.audit
    events: asyncio.Queue[UIEvent | None] = asyncio.Queue()
    cap = ctx.settings.daily_cost_cap_usd
    spent, unpriced = await audit.model_use_since(ctx.user_id, _day_start())
    state = TurnState(
        user_id=ctx.user_id, user_name=ctx.user_name, thread_id=ctx.thread_id, audit=audit,
        interaction=ctx.interaction, key_service=ctx.services, emit=events.put_nowait,
        day_spent=spent, daily_cap=None if cap is None else Decimal(str(cap)),
        day_unpriced_tokens=unpriced,
        unpriced_usd_per_mtok=Decimal(str(ctx.settings.unpriced_llm_usd_per_mtok)),
        metrics=ctx.metrics,
    )  # fmt: skip
    task = asyncio.create_task(_drive(ctx, text, state, events))
    try:
        while (event := await events.get()) is not None:
            if isinstance(event, Final):  # every turn ends with one, however it ended
                ctx.metrics.turn(event.status)
            yield event
    finally:
        if not task.done():
            task.cancel()
        await asyncio.gather(task, return_exceptions=True)
