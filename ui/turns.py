"""One chat turn, end to end: the agent's events rendered as they come, questions and
approvals answered in place, the VRAM chart and live deployment progress added when
their tools finish, and any error turned into a next step instead of a traceback."""

from __future__ import annotations

# Chainlit's context and messages are only partly annotated.
# pyright: reportUnknownMemberType=false, reportUnknownVariableType=false
# pyright: reportUnknownArgumentType=false
import asyncio
import logging
import secrets
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Final, assert_never

import chainlit as cl

from agent.events import (
    Approval,
    Notice,
    Progress,
    Question,
    TextDelta,
    ToolFinished,
    ToolStarted,
    UIEvent,
)
from agent.events import (
    Final as FinalEvent,
)
from ui import deployments
from ui.commands import SessionUser
from ui.interaction import ChatInteraction
from ui.render import TurnView, clean
from ui.services import current

if TYPE_CHECKING:  # the chart's module loads the sizing tools: on first use, not at start-up
    from ui import charts

_log = logging.getLogger(__name__)
_STOPPED: Final = "Stopped before it finished."
_FAILED: Final = "Did not finish: the turn stopped on an error."
_DEPLOY: Final = "create_runpod_endpoint"


async def _agent_events(
    user: SessionUser, thread_id: str, text: str, interaction: ChatInteraction
) -> AsyncIterator[UIEvent]:
    """The agent's run loop for this user and thread (the one place that calls it)."""
    from agent import TurnContext, run_turn

    app = current()
    ctx = TurnContext(
        settings=app.settings, vault=app.vault, user_id=user.id, user_name=user.name,
        thread_id=thread_id, interaction=interaction, http=app.http,
    )  # fmt: skip
    async for event in run_turn(ctx, text):
        yield event


class Turn:
    """State of one turn: the view, the asks, and what the finished tools produced."""

    def __init__(self, user: SessionUser, *, thread_id: str, parent_id: str | None) -> None:
        self.user = user
        self.thread_id = thread_id
        self.view = TurnView(thread_id=thread_id, parent_id=parent_id)
        vault = current().vault
        self.interaction = ChatInteraction(
            user_name=user.name,
            describe=lambda provider: vault.credentials.describe(user.id, provider),
        )
        self._args: dict[str, dict[str, Any]] = {}
        self._tools: dict[str, str] = {}
        self._followed: set[str] = set()
        self._chart: tuple[cl.CustomElement, str, charts.VramSummary] | None = None

    async def handle(self, event: UIEvent) -> None:
        match event:
            case TextDelta():
                await self.view.text(event.text)
            case ToolStarted():
                self._args[event.tool_call_id] = event.args
                self._tools[event.tool_call_id] = event.tool
                await self.view.tool_started(event)
            case ToolFinished():
                await self.view.tool_finished(event)
                await self.interaction.key_tool_finished(event)
                if event.outcome == "success":
                    await self._after_tool(event)
            case Question() | Approval():
                pass  # shown by the interaction, which awaits the person's answer
            case Progress():
                await self.view.progress(event)
                await self._follow_deployment(event.tool_call_id)
            case Notice():
                await self.view.notice(event)
            case FinalEvent():
                await self.view.final(event)
            case _:
                assert_never(event)

    async def _after_tool(self, event: ToolFinished) -> None:
        from ui import charts

        args = self._args.get(event.tool_call_id, {})
        if event.tool == "estimate_vram" and (summary := charts.parse_summary(event.summary)):
            repo = str(args.get("repo_id", "the model"))
            element = charts.vram_element(charts.vram_props(repo, summary))
            self._chart = (element, repo, summary)
            await self.view.end_reply()
            await cl.Message(content="Where the memory goes:", elements=[element]).send()
        elif event.tool == "choose_gpu" and self._chart is not None:
            element, repo, summary = self._chart
            if pool := charts.chosen_pool(event.summary):
                element.props = charts.vram_props(repo, summary, chosen_pool=pool)
                await element.update()
        elif event.tool == _DEPLOY:
            await self._follow_deployment(event.tool_call_id)

    async def _follow_deployment(self, tool_call_id: str | None) -> None:
        """Show the live progress panel once the deployment exists (its first progress)."""
        if tool_call_id is None or self._tools.get(tool_call_id) != _DEPLOY:
            return
        if tool_call_id in self._followed:
            return
        self._followed.add(tool_call_id)
        await self.view.end_reply()
        await deployments.follow_new(self.user.id, self.thread_id)


def _next_step(error: BaseException) -> str:
    """What to tell the person when a turn fails: what happened and what to do next."""
    from agent.state import AuditUnavailable, CostCapReached, SecretInRequest

    if isinstance(error, AuditUnavailable | CostCapReached | SecretInRequest):
        return clean(str(error))
    name = type(error).__name__
    if "Connection" in name or "Timeout" in name:
        return (
            "I could not reach the language model just now, so this answer stopped early."
            " Check the server's network (or the model server), then send your message again."
        )
    reference = secrets.token_hex(4)
    _log.error("turn failed (reference %s): %s", reference, name, exc_info=error)
    return (
        f"Something went wrong on my side, so this answer stopped early ({name}). Your chat is"
        " saved: send your message again. If it keeps happening, an admin can look up"
        f" reference {reference} in the server log."
    )


async def run(message: cl.Message, user: SessionUser) -> None:
    """Answer one message with the agent."""
    parent = cl.context.current_step
    turn = Turn(
        user, thread_id=cl.context.session.thread_id, parent_id=parent.id if parent else None
    )
    try:
        async for event in _agent_events(user, turn.thread_id, message.content, turn.interaction):
            await turn.handle(event)
        await turn.view.end_reply()
    except asyncio.CancelledError:
        await turn.view.end_reply()
        await turn.view.close_open_steps(_STOPPED)
        raise
    except Exception as error:  # shown as a next step, never a traceback
        await turn.view.end_reply()
        await turn.view.close_open_steps(_FAILED)
        await cl.Message(content=_next_step(error)).send()
