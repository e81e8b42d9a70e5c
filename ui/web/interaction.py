"""The chat's answer to the agent's questions and approvals (`agent.interaction.Interaction`).

The agent validates and stores a key itself, then either finishes `request_api_key` (the
key is saved) or asks again with the reason (`Question.problem`). So the ask message of
each attempt is kept by tool call: the next attempt marks the previous one failed, and the
tool's end rewrites it with the saved result ("RunPod key saved, ends in 7Hq2, validated").

Where the provider can be connected, the card offers "Connect <provider>" beside the field;
pressed, the flow runs in a card of its own (`ui.web.connect`), and a connection answers
the question as stored (`Connected`), with no key ever handed to the agent. A connect that
fails shows the card again with the reason, up to `MAX_ATTEMPTS` times.
"""

from __future__ import annotations

# Chainlit's ask messages are only partly annotated.
# pyright: reportUnknownMemberType=false, reportUnknownVariableType=false
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import chainlit as cl
from pydantic import SecretStr

from agent.events import Approval, Question, ToolFinished
from agent.interaction import ApprovalDecision
from ui.web import approvals
from ui.web.connect_cards import option_props
from ui.web.secret_entry import MAX_ATTEMPTS, KeyForm, ask_key, settle
from vault import CredentialView, VaultError

if TYPE_CHECKING:
    from tools.connect import Connected
    from ui.web.connect import Connector

Describe = Callable[[str], Awaitable[CredentialView]]


def saved_text(title: str, view: CredentialView) -> str:
    """ "RunPod key saved, ends in 7Hq2, validated as alice" from what the vault shows."""
    checked = {True: "validated", False: "rejected by the provider", None: "not validated"}
    who = f" as {view.identity}" if view.validation_ok and view.identity else ""
    return f"{title} key saved, ends in {view.tail}, {checked[view.validation_ok]}{who}"


class ChatInteraction:
    """Answers questions and approvals in place, for one user's turn."""

    def __init__(
        self, *, user_name: str, describe: Describe, wait_s: int,
        connector: Connector | None = None, aws_role: dict[str, Any] | None = None,
    ) -> None:  # fmt: skip
        self._user = user_name
        self._aws_role = aws_role  # the AWS key card's role setup (`tools.aws_onboarding`)
        self._describe = describe
        self._wait_s = wait_s  # how long a key question or an approval waits for the person
        self._connector = connector  # None: no Connect offered (paste only)
        self._asks: dict[str, tuple[cl.AskElementMessage, Question]] = {}

    def _form(self, question: Question) -> KeyForm:
        option = self._connector.option(question.provider) if self._connector else None
        return KeyForm(
            provider=question.provider, title=question.title, reason=question.reason,
            signup_url=question.signup_url, keys_url=question.keys_url,
            scopes=tuple(question.scopes), instructions=question.instructions,
            attempt=question.attempt, problem=question.problem, connect=option_props(option),
            aws_role=self._aws_role if question.provider == "aws" else None,
        )  # fmt: skip

    async def ask_secret(self, question: Question) -> SecretStr | Connected | None:
        key = question.tool_call_id or question.provider
        if question.problem and (previous := self._asks.get(key)) is not None:
            await settle(previous[0], f"✗ {question.problem}")
        form = self._form(question)
        for _ in range(MAX_ATTEMPTS):
            asked = await ask_key(form, wait_s=self._wait_s)
            if asked.outcome != "connect" or self._connector is None:
                if asked.secret is not None:
                    self._asks[key] = (asked.message, question)
                return asked.secret
            outcome = await self._connector.run(question.provider)
            if not isinstance(outcome, str):
                await settle(asked.message, f"✓ {outcome.message}")
                return outcome
            await settle(asked.message, f"✗ {outcome}")
            form = replace(form, attempt=form.attempt + 1, problem=outcome)
        return None

    async def ask_approval(self, approval: Approval) -> ApprovalDecision:
        return await approvals.ask_approval(approval, user=self._user, wait_s=self._wait_s)

    async def key_tool_finished(self, event: ToolFinished) -> None:
        """Say on the ask message whether the key was stored: the asks are kept by the
        asking call's id, so only that call's end settles one."""
        if (entry := self._asks.pop(event.tool_call_id, None)) is None:
            return
        message, question = entry
        if event.outcome != "success":
            await settle(
                message, f"✗ {event.summary or f'The {question.title} key was not stored.'}"
            )
            return
        try:
            text = saved_text(question.title, await self._describe(question.provider))
        except VaultError:
            text = f"{question.title} key saved"
        await settle(message, f"✓ {text}")
