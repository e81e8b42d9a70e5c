"""What the simulated assistant reads in one chat-completions request: the user's request
(its repo id and what they want), every tool call made since, with its result, and the
tools on offer. Everything comes from the request, so the assistant keeps no state.

Tool results arrive as pydantic-ai's OpenAI mapping sends them (`role: tool`, matched to
the assistant's `tool_calls` by id): a returned model as its JSON text, a plain string as
it is ("RUNPOD_API_KEY stored"), a failed or retried call as `{"error": ...}`, and a
denied approval as the denial's own sentence ("The user denied ...").
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Final, Literal, cast

__all__ = [
    "Intent", "ToolEvent", "Transcript", "as_dict", "as_list", "find_repo", "read_transcript",
]  # fmt: skip

Intent = Literal["app", "deploy", "size", "teardown", "status", "help"]
Outcome = Literal["ok", "error", "denied"]

# owner/name as the Hub allows it; the owner never starts after a dot or slash, so the
# path of another site's URL ("github.com/a/b") is not taken for a repo.
_REPO: Final = re.compile(r"(?<![\w./-])([A-Za-z0-9][\w-]{0,95})/([A-Za-z0-9][\w.-]{0,95})")
_NOT_REPOS: Final = frozenset({"and/or", "input/output", "read/write", "yes/no", "on/off", "w/o"})
_INTENTS: Final[tuple[tuple[Intent, re.Pattern[str]], ...]] = (
    ("teardown", re.compile(r"\b(tear\s+(\w+\s+){0,2}down|teardown|delete|destroy|shut\s+(\w+\s+)?down)\b")),
    ("app", re.compile(r"\b(web\s*app|app|website|web\s*site|ui|front\s*end|web\s*page)\b")),
    ("deploy", re.compile(r"\b(deploy|api|endpoint|serve|host|launch|put (it )?online)\b")),
    ("status", re.compile(r"\b(status|is it (up|ready|running|live)|still (starting|deploying))\b")),
    ("size", re.compile(r"\b(how much|memory|vram|gpu|cost|price|size|sizing|fit|need)\b")),
)  # fmt: skip
_WORKFLOW: Final = re.compile(r"\[ComfyUI workflow attached: [^\]]*workflow id ([0-9a-f-]{36})")
_ANSWER: Final = re.compile(r"[\w.+-]+\s+(?:is|=|->)\s+[\w.-]+/[\w.-]+/[\w./+-]*\w")
_DENIED: Final = ("The user denied", "KripTik did not ask the user")


@dataclass(frozen=True)
class ToolEvent:
    """One tool call and what came back for it.

    Attributes:
        seq: Its place among every call of the conversation (calls made together keep
            their order).
        data: The returned object, when the result was a JSON object.
        text: The error or denial sentence, or a plain-string result.
        this_turn: Made after the user's latest message.
    """

    seq: int
    tool: str
    args: dict[str, Any]
    outcome: Outcome
    data: dict[str, Any]
    text: str
    this_turn: bool


@dataclass(frozen=True)
class Transcript:
    """The conversation, as the assistant needs it."""

    text: str
    repo: str | None
    intent: Intent
    events: tuple[ToolEvent, ...]
    history: tuple[ToolEvent, ...]
    tools: dict[str, dict[str, Any]] = field(default_factory=dict[str, dict[str, Any]])
    steps_this_turn: int = 0
    # A ComfyUI workflow the user attached (the chat's marker names its id).
    workflow_id: str | None = None

    def last(self, tool: str, *, ok: bool | None = None, **args: Any) -> ToolEvent | None:
        """The latest call of `tool` since the request, with these arguments."""
        for event in reversed(self.events):
            if event.tool != tool or any(event.args.get(k) != v for k, v in args.items()):
                continue
            if ok is None or (event.outcome == "ok") == ok:
                return event
        return None

    def since(self, seq: int) -> tuple[ToolEvent, ...]:
        return tuple(e for e in self.events if e.seq > seq)


def as_dict(value: object) -> dict[str, Any]:
    """A JSON object from untrusted JSON, or {} for anything else."""
    return cast("dict[str, Any]", value) if isinstance(value, dict) else {}


def as_list(value: object) -> list[Any]:
    """A JSON array from untrusted JSON, or [] for anything else."""
    return cast("list[Any]", value) if isinstance(value, list) else []


def _text(message: dict[str, Any]) -> str:
    content: object = message.get("content")
    if isinstance(content, str):
        return content
    # Content parts: keep the text ones.
    return " ".join(str(as_dict(p).get("text", "")) for p in as_list(content))


def find_repo(text: str) -> str | None:
    """The first Hugging Face repo id in `text` (a huggingface.co URL counts)."""
    text = re.sub(r"https?://(www\.)?huggingface\.co/(models/)?", " ", text)
    for match in _REPO.finditer(text):
        repo = f"{match.group(1)}/{match.group(2).rstrip('.-')}"
        if repo.lower() not in _NOT_REPOS:
            return repo
    return None


def find_workflow(text: str) -> str | None:
    """The id of a ComfyUI workflow the chat's attachment marker names in `text`."""
    match = _WORKFLOW.search(text)
    return match.group(1) if match else None


def _answered_workflow(text: str, user_texts: list[str]) -> str | None:
    """The workflow whose questions `text` answers ("FILE is owner/repo/path"): the latest
    one an earlier message attached."""
    if not _ANSWER.search(text):
        return None
    return next((w for t in reversed(user_texts) if (w := find_workflow(t))), None)


def _intent(text: str) -> Intent | None:
    lowered = text.lower()
    return next((name for name, pattern in _INTENTS if pattern.search(lowered)), None)


def _result(content: str) -> tuple[Outcome, dict[str, Any], str]:
    try:
        value: object = json.loads(content)
    except ValueError:
        value = None
    data = as_dict(value)
    if data or value == {}:
        if set(data) == {"error"}:
            error = data["error"]
            return "error", {}, error if isinstance(error, str) else json.dumps(error)
        return "ok", data, ""
    if content.startswith(_DENIED):
        return "denied", {}, content
    return "ok", {}, content


def _events(messages: list[dict[str, Any]], latest_user: int) -> list[tuple[int, ToolEvent]]:
    """Every answered tool call, with the index of the message that made it."""
    results = {str(m.get("tool_call_id")): _text(m) for m in messages if m.get("role") == "tool"}
    found: list[tuple[int, ToolEvent]] = []
    for index, message in enumerate(messages):
        for call in map(as_dict, as_list(message.get("tool_calls"))):
            call_id = str(call.get("id"))
            if message.get("role") != "assistant" or call_id not in results:
                continue
            function = as_dict(call.get("function"))
            try:
                args = as_dict(json.loads(function.get("arguments") or "{}"))
            except ValueError:
                args = {}
            outcome, data, text = _result(results[call_id])
            event = ToolEvent(
                seq=len(found), tool=str(function.get("name")),
                args=args, outcome=outcome, data=data,
                text=text, this_turn=index > latest_user,
            )  # fmt: skip
            found.append((index, event))
    return found


def read_transcript(body: dict[str, Any]) -> Transcript:
    """Read one chat-completions request body (`messages`, `tools`)."""
    messages = [as_dict(m) for m in as_list(body.get("messages"))]
    users = [i for i, m in enumerate(messages) if m.get("role") == "user"]
    latest = users[-1] if users else -1
    text = _text(messages[latest]) if users else ""
    # The request this turn continues: the latest user message that names a repo ("yes, go
    # ahead" continues the one before it).
    anchor = next(
        (i for i in reversed(users)
         if find_repo(_text(messages[i])) or find_workflow(_text(messages[i]))),
        latest,
    )  # fmt: skip
    anchor_text = _text(messages[anchor]) if anchor >= 0 else ""
    workflow = find_workflow(text) or _answered_workflow(text, [_text(messages[i]) for i in users])
    if workflow and not find_workflow(text):  # answers to a workflow's questions
        anchor = next(i for i in reversed(users) if find_workflow(_text(messages[i])))
        anchor_text = _text(messages[anchor])
    elif workflow is None:
        workflow = find_workflow(anchor_text)
    repo = None if workflow else find_repo(text) or find_repo(anchor_text)
    default = "deploy" if workflow else "size" if repo else "help"
    intent = _intent(text) or _intent(anchor_text) or default
    found = _events(messages, latest)
    tools: dict[str, dict[str, Any]] = {}
    for tool in as_list(body.get("tools")):
        function = as_dict(as_dict(tool).get("function"))
        tools[str(function.get("name"))] = as_dict(function.get("parameters"))
    steps = sum(1 for m in messages[latest + 1 :] if m.get("role") == "assistant")
    return Transcript(
        text=text, repo=repo, intent=intent,
        events=tuple(e for i, e in found if i > anchor), history=tuple(e for _, e in found),
        tools=tools, steps_this_turn=steps, workflow_id=workflow,
    )  # fmt: skip
