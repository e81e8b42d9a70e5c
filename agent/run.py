"""The agent run inside a turn: history in, events out, history saved.

pydantic-ai's stream events are turned into our UI events inline (the event handler runs
in the agent's own task), so text, tool steps and the questions and approvals the hooks
emit reach the UI in the order they happened.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterable
from datetime import UTC, datetime
from functools import cache

from opentelemetry.metrics import NoOpMeterProvider
from pydantic_ai import Agent, RunContext
from pydantic_ai.capabilities import AbstractCapability, Instrumentation
from pydantic_ai.conversation import Conversation
from pydantic_ai.messages import (
    AgentStreamEvent,
    FunctionToolCallEvent,
    FunctionToolResultEvent,
    PartDeltaEvent,
    PartStartEvent,
    TextPart,
    TextPartDelta,
)
from pydantic_ai.models import Model
from pydantic_ai.models.instrumented import InstrumentationSettings
from pydantic_ai.usage import UsageLimits

from agent.context import TurnContext
from agent.events import Progress, TextDelta, ToolFinished, ToolStarted
from agent.guard import masked_args
from agent.hooks import TurnHooks
from agent.prompts import render_prompt
from agent.state import TurnState, summarize
from agent.tool_events import result_events, started_sink
from agent.toolset import build_toolset
from tools.deps import Deps, ProgressSink
from tools.tracing import Tracing

__all__ = ["ThreadNotYours", "instructions", "run_agent"]


class ThreadNotYours(Exception):
    def __init__(self) -> None:
        super().__init__("This chat thread belongs to another user; start a new thread.")


def instructions(user_name: str) -> str:
    return render_prompt("system", user_name=user_name, today=datetime.now(UTC).date().isoformat())


@cache
def _agent() -> Agent[Deps, str]:
    """The one agent of the process: its tools and output type. Each run gets its model,
    instructions and hooks (`_run_parts`), so no turn builds an agent (with its graph and
    toolset wiring) again: that was 6% of a turn."""
    return Agent(deps_type=Deps, output_type=str, toolsets=[build_toolset()], name="kriptik")


def _capabilities(state: TurnState, tracing: Tracing | None) -> list[AbstractCapability[Deps]]:
    """The run's hooks; with `tracing` on, pydantic-ai's spans for the run, each model
    request and each tool call go to its provider."""
    capabilities: list[AbstractCapability[Deps]] = [TurnHooks(state)]
    if tracing is not None and tracing.exporting:
        capabilities.insert(0, _instrumentation(tracing))
    return capabilities


def _instrumentation(tracing: Tracing) -> Instrumentation:
    """pydantic-ai's spans without what a user said or a tool saw: the spans keep the
    model, token counts, tool names and call ids, timings and errors' types."""
    settings = InstrumentationSettings(
        tracer_provider=tracing.provider,
        meter_provider=NoOpMeterProvider(),  # the process's metrics are tools.metrics'
        include_content=False,  # prompts, replies, tool arguments and results: user data
        include_binary_content=False,
        include_model_request_parameters=False,  # every tool's schema, on every request
    )
    return Instrumentation(settings=settings)


# The tool labels of `kriptik_tool_calls_total`: a name the model made up is not one.
_TOOL_NAMES = frozenset(build_toolset().tools)


class _Translator:
    """pydantic-ai stream events -> UI events; collects the reply text, one paragraph per
    text part (a turn may say something, call tools, then say more)."""

    def __init__(self, state: TurnState) -> None:
        self.state = state
        self.parts: list[list[str]] = []
        self.args: dict[str, dict[str, object]] = {}  # each call's, for its result's events

    @property
    def text(self) -> str:
        return "\n\n".join(t for t in ("".join(p).strip() for p in self.parts) if t)

    def _say(self, text: str, *, new_part: bool = False) -> None:
        if new_part or not self.parts:
            self.parts.append([])
        if text:
            self.parts[-1].append(text)
            self.state.emit(TextDelta(text=text))

    async def __call__(
        self, ctx: RunContext[Deps], events: AsyncIterable[AgentStreamEvent]
    ) -> None:
        async for event in events:
            match event:
                case PartStartEvent(part=TextPart(content=content)):
                    self._say(content, new_part=True)
                case PartDeltaEvent(delta=TextPartDelta(content_delta=content)):
                    self._say(content)
                case FunctionToolCallEvent(part=call):
                    args = json.loads(masked_args(call.args_as_dict()))
                    self.state.emit(
                        ToolStarted(tool_call_id=call.tool_call_id, tool=call.tool_name, args=args)
                    )
                    self.args[call.tool_call_id] = args
                case FunctionToolResultEvent(part=result):
                    self.state.emit(ToolFinished(
                        tool_call_id=result.tool_call_id, tool=result.tool_name,
                        outcome=result.outcome, summary=summarize(result.content),
                    ))  # fmt: skip
                    self.state.metrics.tool_call(
                        result.tool_name, result.outcome, toolset=_TOOL_NAMES
                    )
                    if result.outcome == "success":
                        args = self.args.get(result.tool_call_id, {})
                        for typed in result_events(result.tool_call_id, result.content, args):
                            self.state.emit(typed)
                case _:
                    pass


def _progress(state: TurnState) -> ProgressSink:
    async def sink(
        text: str, *, tool_call_id: str | None = None, fraction: float | None = None
    ) -> None:
        state.emit(Progress(tool_call_id=tool_call_id, text=summarize(text), fraction=fraction))

    return sink


async def run_agent(ctx: TurnContext, text: str, *, model: Model, state: TurnState) -> str:
    """Run the agent on `text` with the thread's history; returns the reply text."""
    store = ctx.history
    conversation = await store.load(
        ctx.thread_id, scope=ctx.user_id, limit=ctx.settings.history_messages
    )
    if conversation is None:
        if await store.read_record(ctx.thread_id) is not None:
            raise ThreadNotYours
        conversation = Conversation(conversation_id=ctx.thread_id)
    # The conversation carries its cumulative usage; the limits are per turn.
    so_far = conversation.usage
    limits = UsageLimits(
        request_limit=so_far.requests + ctx.settings.agent_request_limit,
        total_tokens_limit=so_far.total_tokens + ctx.settings.agent_token_limit,
    )
    deps = Deps(
        user_id=ctx.user_id, thread_id=ctx.thread_id, keys=ctx.services,
        key_service=ctx.services, providers=ctx.services, progress=_progress(state),
        publishing=ctx.publishing, deployment_started=started_sink(state),
        pipeline=ctx.pipeline,
    )  # fmt: skip
    translate = _Translator(state)
    result = await _agent().run(
        text,
        model=model,
        instructions=instructions(state.user_name),
        capabilities=_capabilities(state, ctx.tracing),
        conversation=conversation,
        deps=deps,
        usage_limits=limits,
        event_stream_handler=translate,
    )
    await store.save(result, scope=ctx.user_id)
    return translate.text
