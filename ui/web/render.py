"""One chat turn's events, rendered as Chainlit messages and tool steps.

- Text deltas stream straight into the current reply message. A reply is created on its
  first token, so it sorts after the tool steps that came before it; a tool call that
  starts mid-reply closes the reply, and later text opens a new one.
- Every tool call is a `cl.Step(type="tool")` whose id is derived from the thread and the
  tool_call_id: a resumed run that reports the same call again updates the same step,
  in the page and in the database.
- Everything shown passes through the redactor and the key-shape mask first.
"""

from __future__ import annotations

# Chainlit's Message and Step are only partly annotated.
# pyright: reportUnknownMemberType=false, reportUnknownVariableType=false
# pyright: reportUnknownArgumentType=false
import json
import uuid
from typing import Any, Final, assert_never

import chainlit as cl

from agent.events import AppLive, Notice, Progress, ToolFinished, ToolStarted, TurnUsage
from agent.events import Final as FinalEvent
from agent.guard import mask
from ui.web.titles import tool_icon, tool_title

_STEP_NAMESPACE: Final = uuid.UUID("6f7c2f4e-8f2a-4d7e-9a55-4b7d1c0e2a91")
_OUTCOME_NOTES: Final = {
    "failed": "Failed",
    "denied": "Denied: nothing was done",
    "retried": "Retried with corrected input",
    "interrupted": "Interrupted",
}


def step_id(thread_id: str, tool_call_id: str) -> str:
    """The same step id every time a thread's tool call is reported."""
    return str(uuid.uuid5(_STEP_NAMESPACE, f"{thread_id}:{tool_call_id}"))


def clean(text: str) -> str:
    """Text safe to show and store: known keys and key-shaped strings masked."""
    return mask(text)


def clean_args(args: dict[str, Any]) -> str:
    return clean(json.dumps(args, indent=2, ensure_ascii=False, default=str))


def usage_line(usage: TurnUsage) -> str:
    """ "1,234 tokens (900 cached) · $0.0021 · today $0.41 of $5.00" for the end of a turn
    (cached: input tokens read from the provider's prompt cache, billed at its lower price)."""
    tokens = usage.input_tokens + usage.output_tokens
    cost = f"${usage.cost_usd:.4f}" if usage.cost_known else "cost unknown"
    cached = f" ({usage.cached_tokens:,} cached)" if usage.cached_tokens else ""
    line = f"{tokens:,} tokens{cached} · {cost}"
    if usage.daily_cap_usd is not None:
        line += f" · today ${usage.today_usd:.2f} of ${usage.daily_cap_usd:.2f}"
    return line


class TurnView:
    """Renders the events of one turn; one instance per user message."""

    def __init__(self, *, thread_id: str, parent_id: str | None) -> None:
        self._thread_id = thread_id
        self._parent_id = parent_id
        self._steps: dict[str, cl.Step] = {}
        self._args: dict[str, dict[str, Any]] = {}
        self._reply: cl.Message | None = None
        self.streamed = ""

    @property
    def reply(self) -> cl.Message | None:
        return self._reply

    async def text(self, delta: str) -> None:
        if not delta:
            return
        if self._reply is None:
            self._reply = cl.Message(content="")
        self.streamed += delta
        await self._reply.stream_token(delta)

    async def end_reply(self) -> None:
        """Finish the streamed reply (if any) so later output appears below it."""
        if self._reply is not None:
            self._reply.content = clean(self._reply.content)
            await self._reply.send()
            self._reply = None

    async def tool_started(self, event: ToolStarted) -> cl.Step:
        await self.end_reply()
        step = self._steps.get(event.tool_call_id)
        if step is None:
            step = cl.Step(
                name=clean(tool_title(event.tool, event.args)),
                type="tool",
                id=step_id(self._thread_id, event.tool_call_id),
                parent_id=self._parent_id,
                show_input="json",
                icon=tool_icon(event.tool),
            )
            step.metadata = {"tool": event.tool, "tool_call_id": event.tool_call_id}
            self._args[event.tool_call_id] = event.args
            step.input = clean_args(event.args)
            step.start = _now()
            self._steps[event.tool_call_id] = step
            await step.send()
        return step

    def step_for(self, tool_call_id: str | None) -> cl.Step | None:
        return None if tool_call_id is None else self._steps.get(tool_call_id)

    async def tool_finished(self, event: ToolFinished) -> cl.Step:
        step = self._steps.get(event.tool_call_id)
        if step is None:  # a resumed call whose start we did not see in this turn
            step = await self.tool_started(
                ToolStarted(tool_call_id=event.tool_call_id, tool=event.tool, args={})
            )
        note = _OUTCOME_NOTES.get(event.outcome)
        summary = clean(event.summary)
        step.output = f"{note}. {summary}" if note and summary else (summary or note or "Done")
        step.language = "markdown"
        step.is_error = event.outcome == "failed"
        if event.outcome == "success":
            args = self._args.get(event.tool_call_id, {})
            step.name = clean(tool_title(event.tool, args, done=True))
        step.end = _now()
        await step.update()
        return step

    async def progress(self, event: Progress) -> None:
        step = self.step_for(event.tool_call_id)
        line = clean(event.text)
        if step is None:
            await self.end_reply()
            await cl.Message(content=line).send()
            return
        step.output = f"{step.output}\n{line}".strip() if step.output else line
        await step.update()

    async def app_live(self, event: AppLive) -> None:
        """The deploy's closing summary, as the tool wrote it (the model does not repeat it)."""
        await self.end_reply()
        await cl.Message(content=clean(event.summary)).send()

    async def notice(self, event: Notice) -> None:
        await self.end_reply()
        match event.level:
            case "info":
                prefix = ""
            case "warning":
                prefix = "**Heads up:** "
            case "error":
                prefix = "**Could not continue:** "
            case _:
                assert_never(event.level)
        await cl.Message(content=prefix + clean(event.text)).send()

    async def final(self, event: FinalEvent) -> None:
        if self._reply is None and event.text and not self.streamed:
            # Nothing was streamed (e.g. a model that does not stream): show it whole.
            self._reply = cl.Message(content=clean(event.text))
        if self._reply is not None:
            self._reply.metadata = {"usage": usage_line(event.usage)}
        await self.end_reply()

    async def close_open_steps(self, note: str) -> None:
        """Mark steps that never finished (the turn was stopped or failed)."""
        for step in self._steps.values():
            if step.end is None:
                step.output = note
                step.is_error = True
                step.end = _now()
                await step.update()


def _now() -> str:
    from chainlit.utils import utc_now

    return str(utc_now())
