"""The capability that wraps every model request and tool call of a turn.

```
before_tool_validate   refuse arguments that hold a key (ModelRetry; masked in history)
wrap_tool_execute      audit row first (fail closed), run the tool, mask any known key in
                       its result, seal the row; an approved call runs its approved card,
                       and if the world changed first, the user is asked again (approvals.py)
on_tool_execute_error  provider errors -> ToolFailed with the next step; 401 -> "ask for
                       a new key"; anything unexpected -> logged, ToolFailed
handle_deferred_...    key questions (deferred.py) and approvals (approvals.py), answered
                       through the UI
before_model_request   daily cost cap; refuse to send a request that holds a known key
after_model_request    audit row with model, tokens and cost; the turn's tally
```
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from pydantic_ai import ModelRetry, RunContext, ToolDenied, ToolFailed
from pydantic_ai.capabilities import AbstractCapability
from pydantic_ai.exceptions import ApprovalRequired, CallDeferred, ToolFailedError, ToolRetryError
from pydantic_ai.messages import (
    ModelMessagesTypeAdapter,
    ModelResponse,
    ToolCallPart,
    ToolReturnPart,
)
from pydantic_ai.models import ModelRequestContext
from pydantic_ai.tools import DeferredToolRequests, DeferredToolResults, ToolDefinition

from agent.approvals import ask_approval, run_approved
from agent.deferred import answer_question
from agent.guard import looks_secret, masked_args
from agent.llm import response_cost
from agent.state import AuditUnavailable, SecretInRequest, TurnState, summarize
from agent.toolset import APPROVAL_TOOLS
from tools.clients.errors import AuthError, ProviderError
from tools.deps import Deps
from tools.metrics import ErrorKind
from tools.onboarding import provider_named
from vault import REDACTOR, CredentialNotFound
from vault.models import utcnow

__all__ = ["TurnHooks", "scrub"]

log = logging.getLogger(__name__)

_REFUSED = (
    "Refused: tool arguments must never contain an API key or anything shaped like one. "
    "Tools read keys from the vault themselves; to get a key from the user, call "
    "request_api_key. Call the tool again without it."
)


def _raw_text(args: Any) -> str:
    return args if isinstance(args, str) else json.dumps(args, default=str)


def _failure_text(error: ToolRetryError | ToolFailedError | ToolFailed) -> str:
    if isinstance(error, ToolFailed):
        return error.message
    if isinstance(error, ToolFailedError):
        return error.tool_failed.model_response_str(wrap_if_error=False)
    retry = error.tool_retry
    return (
        retry.model_response_str(wrap_if_error=False)
        if isinstance(retry, ToolReturnPart)
        else str(retry.content)
    )


def scrub(result: Any) -> Any:
    """A tool result with every known key masked, so it cannot reach the model or the
    history (a provider or a README may echo one back)."""
    if isinstance(result, str):
        return REDACTOR.redact(result)
    if isinstance(result, BaseModel):
        dumped = result.model_dump_json()
        cleaned = REDACTOR.redact(dumped)
        if cleaned == dumped:
            return result
        # Only what the model reads is replaced, by its masked form; the rest (fields it does
        # not read, `exclude`, and parts it reads less of) keeps its values, for the UI.
        sent, masked = json.loads(dumped), json.loads(cleaned)
        fields = {name: getattr(result, name) for name in type(result).model_fields}
        changed = {k: v for k, v in masked.items() if sent.get(k) != v}
        return type(result).model_validate({**fields, **changed})
    return result


def _tool_error(tool: str, error: Exception) -> ToolFailed:
    """What the model is told when a tool raised: always a next step, never a secret."""
    if isinstance(error, AuthError):
        provider = provider_named(error.provider) or error.provider.lower()
        return ToolFailed(
            f"{REDACTOR.redact(str(error))} The stored {error.provider} key was rejected: call "
            f"request_api_key with provider '{provider}' to ask the user for a new one."
        )
    if isinstance(error, ProviderError):
        return ToolFailed(REDACTOR.redact(str(error)))
    if isinstance(error, CredentialNotFound):
        return ToolFailed(f"{error}. Call request_api_key to ask the user for it.")
    log.error("tool %s failed unexpectedly", tool, exc_info=error)
    return ToolFailed(
        f"{tool} failed unexpectedly ({type(error).__name__}); the details are in the server "
        "log. Tell the user, and do not retry the same call."
    )


def _error_kind(error: Exception) -> ErrorKind:
    """The metrics' kind of a tool's error (`kriptik_errors_total`), as `_tool_error` tells it."""
    if isinstance(error, AuthError):
        return "tool_auth"
    if isinstance(error, ProviderError):
        return "tool_provider"
    return "tool_missing_key" if isinstance(error, CredentialNotFound) else "tool_internal"


@dataclass
class TurnHooks(AbstractCapability[Deps]):
    """Audit, guards, limits and deferred answers for one turn."""

    state: TurnState

    @classmethod
    def get_serialization_name(cls) -> str | None:
        return None  # holds live state: never part of an agent spec

    async def before_tool_validate(
        self, ctx: RunContext[Deps], *, call: ToolCallPart, tool_def: ToolDefinition, args: Any
    ) -> Any:
        text = _raw_text(args)
        if not looks_secret(text):
            return args
        masked = masked_args(text)
        call.args = masked  # the history keeps the masked form, never the key
        s = self.state
        await s.audit.record_tool(
            thread_id=s.thread_id, user_id=s.user_id, tool=call.tool_name,
            tool_call_id=call.tool_call_id, args=masked, outcome="retried",
            summary="refused: a key-like value in the arguments", run_id=ctx.run_id,
        )  # fmt: skip
        raise ModelRetry(_REFUSED)

    async def wrap_tool_execute(
        self,
        ctx: RunContext[Deps],
        *,
        call: ToolCallPart,
        tool_def: ToolDefinition,
        args: Any,
        handler: Any,
    ) -> Any:
        s = self.state
        try:
            row = await s.audit.begin_tool(
                thread_id=s.thread_id, user_id=s.user_id, tool=call.tool_name,
                tool_call_id=call.tool_call_id, args=masked_args(args), run_id=ctx.run_id,
                approved_by=s.approvers.get(call.tool_call_id),
            )  # fmt: skip
        except Exception as error:  # fail closed: no audit row, no tool call
            raise AuditUnavailable(call.tool_name) from error
        try:
            if call.tool_name in APPROVAL_TOOLS:
                result = await run_approved(s, ctx, call, args, handler)
            else:
                result = await handler(args)
        except (CallDeferred, ApprovalRequired):
            s.pending[call.tool_call_id] = row  # sealed when the question is answered
            raise
        except (ToolRetryError, ToolFailedError, ToolFailed) as error:
            outcome = "retried" if isinstance(error, ToolRetryError) else "failed"
            await s.audit.finish_tool(row, outcome=outcome, summary=_failure_text(error))
            raise
        except BaseException as error:
            await s.audit.finish_tool(row, outcome="failed", summary=type(error).__name__)
            raise
        if isinstance(result, ToolDenied):  # asked again after the plan changed: denied
            await s.audit.finish_tool(row, outcome="denied", summary=result.message)
            return result
        by = s.approvers.get(call.tool_call_id)  # who approved the card that ran (asked again?)
        result = scrub(result)
        await s.audit.finish_tool(row, outcome="success", summary=summarize(result), approved_by=by)
        return result

    async def on_tool_execute_error(
        self,
        ctx: RunContext[Deps],
        *,
        call: ToolCallPart,
        tool_def: ToolDefinition,
        args: Any,
        error: Exception,
    ) -> Any:
        self.state.metrics.error(_error_kind(error))
        if isinstance(error, AuthError) and (provider := provider_named(error.provider)):
            await self._mark_rejected(ctx.deps.user_id, provider, error)
        raise _tool_error(call.tool_name, error) from None

    async def _mark_rejected(self, user_id: str, provider: str, error: AuthError) -> None:
        """The stored key was refused mid-tool: say so on the keys panel too. A failure
        here must not hide the tool's own error, which asks the user for a new key."""
        try:
            message = REDACTOR.redact(f"{error.provider} refused the key during a tool call")
            await self.state.key_service.mark_rejected(user_id, provider, message)
        except Exception:
            log.warning("could not record the %s key as rejected", provider, exc_info=True)

    async def handle_deferred_tool_calls(
        self, ctx: RunContext[Deps], *, requests: DeferredToolRequests
    ) -> DeferredToolResults | None:
        calls: dict[str, Any] = {}
        for call in requests.calls:
            meta = requests.metadata.get(call.tool_call_id) or {}
            if requests.kind(call.tool_call_id) == "question" and "provider" in meta:
                calls[call.tool_call_id] = await answer_question(self.state, call, meta)
        approvals = {
            call.tool_call_id: await ask_approval(self.state, ctx, call)
            for call in requests.approvals
        }
        return requests.build_results(calls=calls, approvals=approvals)

    async def before_model_request(
        self, ctx: RunContext[Deps], request_context: ModelRequestContext
    ) -> ModelRequestContext:
        s = self.state
        s.check_cap()  # every backend: unpriced tokens count at a fallback rate
        sent = ModelMessagesTypeAdapter.dump_json(request_context.messages).decode()
        if REDACTOR.redact(sent) != sent:
            raise SecretInRequest
        s.request_started = utcnow()
        return request_context

    async def after_model_request(
        self,
        ctx: RunContext[Deps],
        *,
        request_context: ModelRequestContext,
        response: ModelResponse,
    ) -> ModelResponse:
        s = self.state
        cost = response_cost(response)
        usage = response.usage
        s.tally(usage, cost)
        s.metrics.llm_request(
            request_context.model.model_name, input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens, cached_tokens=usage.cache_read_tokens,
            cost_usd=None if cost is None else float(cost),
        )  # fmt: skip
        started: datetime = s.request_started or utcnow()
        await s.audit.record_model_request(
            thread_id=s.thread_id, user_id=s.user_id, run_id=ctx.run_id,
            model=response.model_name or request_context.model.model_name,
            input_tokens=usage.input_tokens, output_tokens=usage.output_tokens,
            cost_usd=cost, started_at=started,
        )  # fmt: skip
        return response
