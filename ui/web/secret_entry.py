"""Secure key entry: a password field in a custom element, answered through
`cl.AskElementMessage`.

The key travels once, in the socket.io acknowledgement of the ask, and is handed on as a
`SecretStr` straight into the vault. It is registered with the redactor the moment it
arrives, so if any later text (a provider's error, a log line) echoes it, it is masked.
It never enters `cl.user_session`, the element's props, a message, a step, the thread
name or a log: the ask message only ever says what happened ("RunPod key saved, ends in
7Hq2, validated").

Where the provider can be connected instead (`KeyForm.connect`, from `ui.web.connect_cards`),
the card's "Connect <provider>" answers the ask with no value; the caller then runs the
flow in a card of its own (`ui.web.connect`).
"""

from __future__ import annotations

# Chainlit's ask messages are only partly annotated.
# pyright: reportUnknownMemberType=false, reportUnknownVariableType=false
# pyright: reportUnknownArgumentType=false
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Final, Literal

import chainlit as cl
from pydantic import SecretStr

from tools.credentials import SaveResult
from tools.onboarding import ONBOARDING, AskableProvider
from ui.web.render import clean
from vault import REDACTOR, InvalidSecret

if TYPE_CHECKING:
    from tools.connect import Connected

ELEMENT: Final = "SecretInput"
MAX_ATTEMPTS: Final = 3
_SAVED: Final = frozenset({"saved", "saved-unvalidated"})

AskOutcome = Literal["submitted", "connect", "cancelled", "timed-out"]


@dataclass(frozen=True)
class KeyForm:
    """What the form shows. Nothing here is secret: these become the element's props."""

    provider: str
    title: str
    reason: str
    signup_url: str
    keys_url: str
    scopes: tuple[str, ...]
    instructions: str
    attempt: int = 1
    problem: str | None = None
    connect: dict[str, Any] | None = None  # the Connect option's props (None: none)
    # AWS: the role to create first (external id, CloudFormation template), `tools.aws_onboarding`
    aws_role: dict[str, Any] | None = None

    def props(self) -> dict[str, Any]:
        return {
            "provider": self.provider, "provider_title": self.title,
            "title": f"Add your {self.title} key", "why": clean(_sentence(self.reason)),
            "instructions": clean(self.instructions), "signup_url": self.signup_url,
            "keys_url": self.keys_url, "scopes": list(self.scopes), "attempt": self.attempt,
            "error": clean(self.problem) if self.problem else None,
            "field_label": "Role ARN, or ACCESS_KEY_ID SECRET_ACCESS_KEY" if self.aws_role
            else f"{self.title} API key",
            "connect": self.connect, "aws_role": self.aws_role,
        }  # fmt: skip


def _sentence(reason: str) -> str:
    """ "Needed to create the endpoint." from the model's "to create the endpoint"."""
    text = " ".join(reason.split()).rstrip(".")
    if not text:
        return ""
    if text.lower().startswith(("to ", "for ", "so ")):
        text = f"Needed {text}"
    return text[0].upper() + text[1:] + "."


def form_for(
    provider: AskableProvider, *, reason: str, connect: dict[str, Any] | None = None
) -> KeyForm:
    """The onboarding content for one provider's key (and its Connect option's props)."""
    info = ONBOARDING[provider]
    return KeyForm(
        provider=provider, title=info.title, reason=reason, signup_url=info.signup_url,
        keys_url=info.keys_url, scopes=info.scopes, instructions=info.instructions,
        connect=connect,
    )  # fmt: skip


@dataclass
class AskResult:
    outcome: AskOutcome
    message: cl.AskElementMessage
    secret: SecretStr | None = None


def _heading(form: KeyForm) -> str:
    if form.attempt > 1:
        return f"Let's try that {form.title} key again."
    return f"I need your {form.title} key to continue."


async def ask_key(form: KeyForm, *, wait_s: int) -> AskResult:
    """Show the form and wait for the person. The message is left saying what happened;
    the caller rewrites it once the key is checked."""
    element = cl.CustomElement(name=ELEMENT, props=form.props(), display="inline")
    ask = cl.AskElementMessage(content=_heading(form), element=element, timeout=wait_s)
    reply = await ask.send()
    if reply is None:
        await settle(ask, f"No {form.title} key was entered in time; nothing was stored.")
        return AskResult("timed-out", ask)
    if reply.get("submitted") and reply.get("connect") is True and form.connect:
        await settle(ask, f"Connecting {form.title}…")
        return AskResult("connect", ask)
    value = reply.get("value") if reply.get("submitted") else None
    if not isinstance(value, str) or not value.strip():
        await settle(ask, f"Cancelled: no {form.title} key was stored.")
        return AskResult("cancelled", ask)
    secret = value.strip()
    REDACTOR.register(secret)  # from here on, any echo of it is masked
    await settle(ask, f"Checking your {form.title} key…")
    return AskResult("submitted", ask, SecretStr(secret))


async def settle(ask: cl.AskElementMessage, text: str) -> None:
    """Replace Chainlit's "Thanks for submitting" with what actually happened."""
    ask.content = clean(text)
    await ask.update()


def outcome_text(result: SaveResult) -> str:
    mark = "✓" if result.outcome in _SAVED else "✗"
    return f"{mark} {result.message}"


SaveFn = Callable[[SecretStr], Awaitable[SaveResult]]
# Runs the provider's Connect flow (`ui.web.connect.Connector.run`): the connection, or why not.
ConnectFn = Callable[[], Awaitable["Connected | str"]]


async def _answer(asked: AskResult, save: SaveFn, connect: ConnectFn | None) -> SaveResult:
    """The key checked and stored, or the account connected."""
    if asked.outcome == "connect" and connect is not None:
        outcome = await connect()
        if isinstance(outcome, str):
            return SaveResult(outcome="rejected", message=outcome)
        return SaveResult(outcome="saved", message=outcome.message)
    try:
        return await save(asked.secret or SecretStr(""))
    except InvalidSecret as error:
        return SaveResult(outcome="rejected", message=f"{str(error).capitalize()}.")


async def collect_key(
    form: KeyForm, save: SaveFn, *, wait_s: int, attempts: int = MAX_ATTEMPTS,
    connect: ConnectFn | None = None,
) -> SaveResult | None:  # fmt: skip
    """Ask, validate and store (or connect), with the reason and a fresh field after each
    failure.

    Returns the saved result, or None when the person cancels, lets it time out, or runs
    out of attempts (the last message says which).
    """
    problem: str | None = None
    for attempt in range(1, attempts + 1):
        asked = await ask_key(replace(form, attempt=attempt, problem=problem), wait_s=wait_s)
        if asked.secret is None and asked.outcome != "connect":
            return None
        result = await _answer(asked, save, connect)
        await settle(asked.message, outcome_text(result))
        if result.outcome in _SAVED:
            return result
        problem = result.message
    await cl.Message(
        content=f"I could not store a {form.title} key after {attempts} tries. Check the key"
        f" on {form.keys_url}, then ask me again or use /keys."
    ).send()
    return None
