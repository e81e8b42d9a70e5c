"""A minimal Chainlit socket client for the benchmarks: log in, connect as the browser
does, send a message, and wait for the end of ITS run (no sleeping, no polling).

How a run is recognised (Chainlit 2.12): `task_start` and `task_end` carry no id, and the
server sends one `task_end` on connecting and another when `on_chat_start` ends, so
counting them desynchronises the client from its messages. Instead, `on_message` runs
inside a step of type "run" named "on_message" whose `parentId` is the user message's
id; everything the turn shows (its reply, notices, tool steps) is a step under that run.
A turn has ended when that run step is updated with its `end` and the `task_end` that
follows it has arrived.

A turn that ends without a reply, with an error shown, with the app's "thread changed in
another window" notice (a conversation conflict), with a question the benchmark cannot
answer, or not within its time limit, is recorded as a problem rather than as a time.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import socketio

# What KripTik shows when a turn fails (agent/turn.py `_failure` through ui/web/render.py's
# notice, ui/web/turns.py `_next_step`, ui/web/app.py): an error shown as an ordinary message.
_CONFLICT = "changed in another window"
_ERROR_STARTS = (
    "**Could not continue:**",
    "**Heads up:**",
    "Something went wrong",
    "I could not reach the language model",
    "Your session has ended",
    "Did not finish",
    "Task manually stopped",
)


@dataclass
class _Run:
    """One run being waited for: the user message (or chat start) it belongs to, every
    step id under it, its reply texts, and what went wrong."""

    name: str
    parent_id: str | None
    ids: set[str] = field(default_factory=set)
    texts: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    ended: bool = False
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def owns(self, step: dict[str, Any]) -> bool:
        if step.get("type") == "run" and step.get("name") == self.name:
            return step.get("parentId") == self.parent_id
        return step.get("parentId") in self.ids


@dataclass(frozen=True)
class Outcome:
    """How one message's turn ended: `problem` is None for a turn that streamed a reply."""

    problem: str | None
    conflict: bool = False


class Session:
    def __init__(self, url: str, username: str, password: str) -> None:
        self.url, self.username, self.password = url, username, password
        self.token = ""
        self.turns = 0
        self.errors = 0  # turns that did not end with a reply (conflicts included)
        self.conflicts = 0  # turns that ended in a conversation conflict
        self.problems: list[str] = []  # one line per failed turn
        self._run: _Run | None = None
        self._connected = asyncio.Event()
        self.sio = socketio.AsyncClient(reconnection=False)
        # Plain (not async) handlers: socket.io runs each packet's handler as a task in
        # arrival order, and a handler that never awaits keeps that order.
        for event in ("new_message", "update_message", "stream_start"):
            self.sio.on(event, self._step)
        self.sio.on("stream_token", self._token)
        self.sio.on("task_end", self._task_end)
        self.sio.on("ask", self._ask)
        self.sio.on("call_fn", self._ask)

    def _step(self, step: Any = None) -> None:
        run = self._run
        if run is None or not isinstance(step, dict):
            return
        if not run.owns(step):
            return
        step_id = str(step.get("id"))
        run.ids.add(step_id)
        if step.get("type") == "run" and step.get("name") == run.name and step.get("end"):
            run.ended = True
        if step.get("isError"):
            run.problems.append(f"error shown: {step.get('name')}: {_line(step.get('output'))}")
        if step.get("type") == "assistant_message":
            run.texts[step_id] = str(step.get("output") or "")

    def _token(self, data: Any = None) -> None:
        run = self._run
        if run is None or not isinstance(data, dict) or data.get("isInput"):
            return
        step_id = str(data.get("id"))
        if step_id in run.texts:
            token = str(data.get("token") or "")
            run.texts[step_id] = token if data.get("isSequence") else run.texts[step_id] + token

    def _task_end(self, data: Any = None) -> None:
        self._connected.set()
        if self._run is not None and self._run.ended:
            self._run.done.set()

    def _ask(self, data: Any = None) -> None:
        """A question or approval: the benchmark answers none (the app then goes on as if
        the person had not answered), and the turn counts as failed."""
        if self._run is not None:
            self._run.problems.append("the app asked a question the benchmark cannot answer")

    async def login(self) -> str:
        async with httpx.AsyncClient(base_url=self.url) as http:
            reply = await http.post(
                "/login", data={"username": self.username, "password": self.password}
            )
            reply.raise_for_status()
            self.token = reply.cookies["access_token"]
        return self.token

    async def connect(self, *, chat_start: bool, within_s: float = 60) -> None:
        """Connect as the browser does, and return when the session is idle: after the
        connection's own `task_end` and, for an app with `on_chat_start`, that run's end."""
        if not self.token:
            await self.login()
        await self.sio.connect(
            self.url, socketio_path="/ws/socket.io", transports=["websocket"],
            headers={"Cookie": f"access_token={self.token}", "Origin": self.url},
            auth={"clientType": "webapp", "sessionId": str(uuid.uuid4()), "threadId": None,
                  "userEnv": "{}"},
        )  # fmt: skip
        run = self._run = _Run("on_chat_start", None) if chat_start else None
        try:
            await self.sio.emit("connection_successful")
            async with asyncio.timeout(within_s):
                await self._connected.wait()
                if run is not None:
                    await run.done.wait()
        finally:
            self._run = None

    async def ask(self, text: str, *, within_s: float = 60) -> Outcome:
        """Send one message and return when its own run has ended, or after `within_s`
        (then the outcome is a timeout, and the session must not be used for timing)."""
        message_id = str(uuid.uuid4())
        message = {"id": message_id, "threadId": "", "name": self.username,
                   "type": "user_message", "output": text,
                   "createdAt": datetime.now(UTC).isoformat()}  # fmt: skip
        run = self._run = _Run("on_message", message_id)
        try:
            await self.sio.emit("client_message", {"message": message, "fileReferences": None})
            async with asyncio.timeout(within_s):
                await run.done.wait()
        except TimeoutError:
            run.problems.insert(0, f"no end within {within_s:g} s")
        finally:
            self._run = None
        return self._record(run)

    def _record(self, run: _Run) -> Outcome:
        replies = [t for t in run.texts.values() if t.strip()]
        conflict = any(_CONFLICT in t for t in replies)
        problems = list(run.problems)
        problems += [f"shown: {_line(t)}" for t in replies if t.lstrip().startswith(_ERROR_STARTS)]
        if conflict and not any(_CONFLICT in p for p in problems):
            problems.append("conversation conflict")
        if run.ended and not replies:
            problems.append("no reply")
        self.turns += 1
        if not problems:
            return Outcome(None)
        self.errors += 1
        self.conflicts += conflict
        self.problems.append("; ".join(problems))
        return Outcome(problems[0], conflict)

    async def close(self) -> None:
        await self.sio.disconnect()


def _line(text: object, limit: int = 100) -> str:
    flat = " ".join(str(text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."
