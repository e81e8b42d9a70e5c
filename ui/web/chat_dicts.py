"""Chainlit's dict shapes (`StepDict`, `ElementDict`, `ThreadDict`) to and from the rows of
`vault.chat`. Chainlit speaks camelCase ISO-timestamped dicts; the store speaks columns."""

from __future__ import annotations

# Chainlit's TypedDicts use literal types our stored strings cannot prove.
# pyright: reportUnknownMemberType=false, reportUnknownVariableType=false
# pyright: reportUnknownArgumentType=false
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from chainlit.element import ElementDict
from chainlit.step import StepDict
from chainlit.types import ThreadDict

from agent.guard import mask
from vault.chat import ChatElement, ChatStep, ChatThread, ThreadBundle

_STEP_KEYS: Final = {
    "parentId": "parent_id", "name": "name", "type": "type", "input": "input",
    "output": "output", "isError": "is_error", "streaming": "streaming",
    "waitForAnswer": "wait_for_answer", "language": "language", "defaultOpen": "default_open",
    "autoCollapse": "auto_collapse", "command": "command", "icon": "icon", "metadata": "meta",
    "tags": "tags", "modes": "modes", "generation": "generation",
}  # fmt: skip
_TIME_KEYS: Final = {"createdAt": "created_at", "start": "start_at", "end": "end_at"}


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def stamp(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def step_values(step: Mapping[str, Any]) -> dict[str, Any]:
    values = {column: step[key] for key, column in _STEP_KEYS.items() if key in step}
    if step.get("type") == "user_message":
        # A key pasted into the chat by mistake is never stored (the agent refuses it too).
        values |= {k: mask(v) for k in ("input", "output") if isinstance(v := values.get(k), str)}
    values |= {
        column: _parse_time(step.get(key)) for key, column in _TIME_KEYS.items() if key in step
    }
    if "showInput" in step:
        show = step["showInput"]
        values["show_input"] = show if isinstance(show, str) else str(bool(show)).lower()
    return values


def _show_input(value: str | None) -> bool | str:
    if value in (None, "false"):
        return False
    return True if value == "true" else str(value)


def _step_dict(row: ChatStep, bundle: ThreadBundle) -> StepDict:
    step: StepDict = {
        "id": row.id, "threadId": row.thread_id, "parentId": row.parent_id, "name": row.name,
        "type": row.type,  # pyright: ignore[reportAssignmentType] - stored from a StepType
        "input": row.input, "output": row.output, "isError": row.is_error,
        "streaming": False, "waitForAnswer": False, "showInput": _show_input(row.show_input),
        "language": row.language, "defaultOpen": row.default_open,
        "autoCollapse": row.auto_collapse, "command": row.command, "icon": row.icon,
        "metadata": row.meta, "tags": row.tags, "modes": row.modes,
        "generation": row.generation, "createdAt": stamp(row.created_at),
        "start": stamp(row.start_at), "end": stamp(row.end_at),
    }  # fmt: skip
    if (vote := bundle.feedback.get(row.id)) is not None:
        step["feedback"] = {
            "id": vote.id, "forId": vote.for_id, "value": 1 if vote.value else 0,
            "comment": vote.comment,
        }  # fmt: skip
    return step


def element_dict(row: ChatElement) -> ElementDict:
    return ElementDict(
        id=row.id, threadId=row.thread_id, type=row.type,  # pyright: ignore[reportArgumentType]
        name=row.name, display=row.display,  # pyright: ignore[reportArgumentType]
        props=row.props, forId=row.for_id, mime=row.mime, url=row.url,
        chainlitKey=row.chainlit_key, objectKey=row.object_key, language=row.language,
        size=row.size, page=row.page,  # pyright: ignore[reportArgumentType]
    )  # fmt: skip


def thread_dict(thread: ChatThread, author: str | None, bundle: ThreadBundle | None) -> ThreadDict:
    return ThreadDict(
        id=thread.id, createdAt=stamp(thread.created_at) or "", name=thread.name,
        userId=thread.user_id, userIdentifier=author, tags=thread.tags, metadata=thread.meta,
        steps=[_step_dict(s, bundle) for s in bundle.steps] if bundle else [],
        elements=[element_dict(e) for e in bundle.elements] if bundle else [],
    )  # fmt: skip
