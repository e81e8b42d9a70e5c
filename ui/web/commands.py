"""Slash commands: /keys, /deployments, /audit and /usage, and the starters on the empty
chat. A command is answered by the app itself; it never reaches the model."""

from __future__ import annotations

# Chainlit's command and starter types are only partly annotated.
# pyright: reportUnknownMemberType=false
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal, assert_never

import chainlit as cl
from chainlit.types import CommandDict

from ui.web import panels, reports

if TYPE_CHECKING:
    from ui.root import Root

Command = Literal["keys", "deployments", "audit", "usage"]
COMMANDS: Final[list[CommandDict]] = [
    {"id": "keys", "icon": "key-round", "description": "Your keys: check, replace, remove",
     "button": False, "persistent": False, "selected": False},
    {"id": "deployments", "icon": "server", "description": "Deployments, idle cost, teardown",
     "button": False, "persistent": False, "selected": False},
    {"id": "audit", "icon": "scroll-text", "description": "This chat's audit transcript",
     "button": False, "persistent": False, "selected": False},
    {"id": "usage", "icon": "gauge", "description": "Tokens and $ of this chat and of today",
     "button": False, "persistent": False, "selected": False},
]  # fmt: skip
_NAMES: Final[frozenset[str]] = frozenset(c["id"] for c in COMMANDS)

STARTERS: Final = [
    cl.Starter(
        label="Deploy Qwen2.5-7B-Instruct as an API",
        message="Deploy Qwen/Qwen2.5-7B-Instruct as an API I can call.",
        icon="/public/starters/rocket.svg",
    ),
    cl.Starter(
        label="Build a web app on HunyuanWorld-Voyager",
        message="Build a web app on tencent/HunyuanWorld-Voyager.",
        icon="/public/starters/app.svg",
    ),
    cl.Starter(
        label="How much GPU does FLUX.1-dev need?",
        message=(
            "How much GPU memory does black-forest-labs/FLUX.1-dev need, and what would it cost?"
        ),
        icon="/public/starters/gauge.svg",
    ),
]


@dataclass(frozen=True)
class SessionUser:
    id: str
    name: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def parse(message: cl.Message) -> Command | None:
    """The command a message invokes: chosen in the composer, or typed as "/keys"."""
    chosen = (message.command or "").strip().lower()
    if not chosen:
        text = message.content.strip()
        if text.startswith("/") and " " not in text:
            chosen = text[1:].lower()
    return chosen if chosen in _NAMES else None  # pyright: ignore[reportReturnType] - checked


async def run(root: Root, command: Command, user: SessionUser, *, thread_id: str) -> None:
    """Answer `command` for `user`, on the app's services."""
    match command:
        case "keys":
            await panels.show_keys(root, user.id)
        case "deployments":
            await panels.show_deployments(root, user.id)
        case "audit":
            await reports.show_audit(
                root.audit, thread_id=thread_id, is_admin=user.is_admin, user_id=user.id
            )
        case "usage":
            await reports.show_usage(
                root.vault, user_id=user.id, thread_id=thread_id,
                deployments=await panels.deployments_now(root, user.id),
            )  # fmt: skip
        case _:
            assert_never(command)
