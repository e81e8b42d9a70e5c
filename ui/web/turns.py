"""One chat turn, end to end: the agent's events rendered as they come, questions and
approvals answered in place, the VRAM chart and live deployment progress added from their
typed events, and any error turned into a next step instead of a traceback."""

from __future__ import annotations

# Chainlit's context and messages are only partly annotated.
# pyright: reportUnknownMemberType=false, reportUnknownVariableType=false
# pyright: reportUnknownArgumentType=false
import asyncio
import importlib
import logging
import secrets
import sys
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Final, assert_never

import chainlit as cl

from agent.events import (
    AppLive,
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
    WorkflowCard,
)
from agent.events import (
    Final as FinalEvent,
)
from ui.web import deployments
from ui.web.attachments import prepare_message
from ui.web.commands import SessionUser
from ui.web.connect import Connector
from ui.web.interaction import ChatInteraction
from ui.web.render import TurnView, clean
from ui.web.workflow_card import workflow_card_markdown

if TYPE_CHECKING:
    from ui.root import Root

_log = logging.getLogger(__name__)
_STOPPED: Final = "Stopped before it finished."
_FAILED: Final = "Did not finish: the turn stopped on an error."


# What a turn needs beyond what the app loads at start, in import order.
_AGENT_STACK: Final = ("agent.llm", "agent.history", "agent.turn")


def _import_agent_stack() -> None:
    for name in _AGENT_STACK:
        importlib.import_module(name)


async def _agent_events(root: Root, turn: Turn, text: str) -> AsyncIterator[UIEvent]:
    """The agent's run loop for this user and thread (the one place that calls it)."""
    if _AGENT_STACK[-1] not in sys.modules:
        # The agent stack (pydantic-ai, the OpenAI SDK, the tools: seconds of imports) loads
        # on the first turn, not at start (the idle process stays small). In a thread: the
        # event loop keeps serving the other sessions, the probes and the heartbeat.
        await asyncio.to_thread(_import_agent_stack)
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
            connector=Connector(root, user.id),  # "Connect <provider>" beside the key field
            aws_role=_aws_role(root, user.id),
        )
        self._followed: set[str] = set()
        self._chart: tuple[cl.CustomElement, str] | None = None  # the element, its repo

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
            case AppLive():
                await self.view.app_live(event)
            case WorkflowCard():
                await self.view.end_reply()
                await cl.Message(content=workflow_card_markdown(event.report)).send()
            case Approval():
                await self._chart_plan(event)  # the card itself is the interaction's
            case Question():
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
        await self._draw(repo, charts.vram_props(repo, event.summary))

    async def _draw(self, repo: str, props: dict[str, Any]) -> None:
        """Draw this turn's chart anew with `props`: in place when it is of this repo."""
        from ui.web import charts

        if self._chart is not None and self._chart[1] == repo:
            element = self._chart[0]
            element.props = props
            await element.update()
            return
        element = charts.vram_element(props)
        self._chart = (element, repo)
        await self.view.end_reply()
        await cl.Message(content="Where the memory goes:", elements=[element]).send()

    async def _mark_pool(self, event: GpuChoice) -> None:
        """Redraw this turn's chart from the pick `choose_gpu` made (its pool, its prices)."""
        from ui.web import charts

        if self._chart is None or (pick := event.plan.pick) is None:
            return
        repo = self._chart[1]
        await self._draw(repo, charts.pick_props(repo, pick, source="the GPU choice"))

    async def _chart_plan(self, event: Approval) -> None:
        """Redraw the chart from the deployment plan the approval card shows, so that both
        name the same pool, price and context (a deployment's card only)."""
        from ui.web import charts

        if event.gpu is None or (pick := event.gpu.pick) is None:
            return
        repo = str(event.args.get("repo_id") or "the model")
        source = "the deployment plan on the approval card"
        await self._draw(repo, charts.pick_props(repo, pick, source=source))

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
    prepared = await prepare_message(root, user.id, message.content, list(message.elements or []))
    if prepared.refusal is not None:  # not a workflow we can take: nothing reaches the agent
        await cl.Message(content=prepared.refusal).send()
        return
    try:
        async for event in _agent_events(root, turn, prepared.text):
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


def _aws_role(root: Root, user_id: str) -> dict[str, Any] | None:
    """The AWS key card's role first: the user's external id and CloudFormation template."""
    from tools.aws_onboarding import role_setup

    setup = role_setup(user_id, root.settings.aws_principal_arn)
    return setup.props() if setup else None
