"""One chat turn, end to end: the agent's events rendered as they come, questions and
approvals answered in place, the VRAM chart and live deployment progress added from their
typed events, and any error turned into a next step instead of a traceback."""

from __future__ import annotations

# Chainlit's context and messages are only partly annotated.
# pyright: reportUnknownMemberType=false, reportUnknownVariableType=false
# pyright: reportUnknownArgumentType=false
import asyncio
import logging
import secrets
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Final, assert_never

import chainlit as cl

from agent.events import (
    Approval,
    DeploymentStarted,
    GpuChoice,
    Notice,
    Progress,
    Question,
    TextDelta,
    ToolFinished,
    ToolStarted,
    UIEvent,
    VramEstimate,
)
from agent.events import (
    Final as FinalEvent,
)
from tools.model_results import VramSummary
from ui.web import deployments
from ui.web.commands import SessionUser
from ui.web.interaction import ChatInteraction
from ui.web.render import TurnView, clean

if TYPE_CHECKING:
    from ui.root import Root

_log = logging.getLogger(__name__)
_STOPPED: Final = "Stopped before it finished."
_FAILED: Final = "Did not finish: the turn stopped on an error."


async def _agent_events(root: Root, turn: Turn, text: str) -> AsyncIterator[UIEvent]:
    """The agent's run loop for this user and thread (the one place that calls it)."""
    from agent import run_turn

    ctx = root.turn(
        user_id=turn.user.id, user_name=turn.user.name, thread_id=turn.thread_id,
        interaction=turn.interaction,
    )  # fmt: skip
    async for event in run_turn(ctx, text):
        yield event


class Turn:
    """State of one turn: the view, the asks, the chart and the deployments followed."""

    def __init__(
        self, root: Root, user: SessionUser, *, thread_id: str, parent_id: str | None
    ) -> None:
        self.root = root
        self.user = user
        self.thread_id = thread_id
        self.view = TurnView(thread_id=thread_id, parent_id=parent_id)
        vault = root.vault
        self.interaction = ChatInteraction(
            user_name=user.name,
            describe=lambda provider: vault.credentials.describe(user.id, provider),
            wait_s=root.settings.ask_timeout_s,
        )
        self._followed: set[str] = set()
        self._chart: tuple[cl.CustomElement, str, VramSummary] | None = None

    async def handle(self, event: UIEvent) -> None:
        match event:
            case TextDelta():
                await self.view.text(event.text)
            case ToolStarted():
                await self.view.tool_started(event)
            case ToolFinished():
                await self.view.tool_finished(event)
                await self.interaction.key_tool_finished(event)
            case VramEstimate():
                await self._show_chart(event)
            case GpuChoice():
                await self._mark_pool(event)
            case DeploymentStarted():
                await self._follow_deployment(event)
            case Question() | Approval():
                pass  # shown by the interaction, which awaits the person's answer
            case Progress():
                await self.view.progress(event)
            case Notice():
                await self.view.notice(event)
            case FinalEvent():
                await self.view.final(event)
            case _:
                assert_never(event)

    async def _show_chart(self, event: VramEstimate) -> None:
        from ui.web import charts  # loads the GPU catalog: on first use, not at start-up

        repo = event.repo_id or "the model"
        element = charts.vram_element(charts.vram_props(repo, event.summary))
        self._chart = (element, repo, event.summary)
        await self.view.end_reply()
        await cl.Message(content="Where the memory goes:", elements=[element]).send()

    async def _mark_pool(self, event: GpuChoice) -> None:
        """Mark the chosen pool on this turn's chart (nothing to mark when none fits)."""
        from ui.web import charts

        if self._chart is None or (pool := event.plan.pool) is None:
            return
        element, repo, summary = self._chart
        element.props = charts.vram_props(repo, summary, chosen_pool=pool)
        await element.update()

    async def _follow_deployment(self, event: DeploymentStarted) -> None:
        """Show the live progress panel now that the deployment exists."""
        if event.deployment_id in self._followed:
            return
        self._followed.add(event.deployment_id)
        await self.view.end_reply()
        await deployments.follow_new(self.root, self.user.id, self.thread_id)


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


async def run(root: Root, message: cl.Message, user: SessionUser) -> None:
    """Answer one message with the agent, on the app's services."""
    parent = cl.context.current_step
    turn = Turn(
        root, user, thread_id=cl.context.session.thread_id,
        parent_id=parent.id if parent else None,
    )  # fmt: skip
    try:
        async for event in _agent_events(root, turn, message.content):
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
