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
answer, or not within its time limit, is recorded as a problem rather than as a time. A
turn whose connection closes before it ends (its server died) is recorded as `lost`.

For the load test (`benchmarks/load.py`) a session can also act as a person would: with
`answers=True` it approves an approval card (it acks the `ask` with the card's Approve
action, as the browser's button does) and declines a key question (it has no such key);
it remembers its thread (`first_interaction`), logs in to another server and resumes the
thread there (`move_to`: Chainlit's thread resume through the data layer, as reopening
the page does), and keeps the latest props of each custom element it was shown
(`elements`; Progress panels by deployment id in `progress`), so it can wait for one to
reach a state (`wait_until`).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
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
    lost: bool = False  # the connection closed before the run ended
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
    lost: bool = False  # the connection closed mid-turn (its server died)


class Session:
    def __init__(self, url: str, username: str, password: str, *, answers: bool = False) -> None:
        self.url, self.username, self.password = url, username, password
        self.answers = answers  # approve approval cards, decline key questions
        self.token = ""
        self.turns = 0
        self.errors = 0  # turns that did not end with a reply (conflicts included)
        self.conflicts = 0  # turns that ended in a conversation conflict
        self.problems: list[str] = []  # one line per failed turn
        self.last_reply = ""  # the replies of the latest turn, joined
        self.thread_id: str | None = None  # the thread of this session's messages
        self.resumed: dict[str, Any] | None = None  # the thread as `resume` got it back
        self.approved = 0  # approval cards approved
        self.declined = 0  # key questions declined
        self.elements: dict[str, dict[str, Any]] = {}  # custom element name -> latest props
        self.progress: dict[str, dict[str, Any]] = {}  # deployment id -> Progress props
        self._actions: dict[str, dict[str, Any]] = {}  # "<forId>/<name>" -> action
        self._waiters: list[tuple[Callable[[], bool], asyncio.Future[None]]] = []
        self._run: _Run | None = None
        self._connected = asyncio.Event()
        self.sio = self._socket()

    def _socket(self) -> socketio.AsyncClient:
        self._closed = False  # this socket's server has closed it (or died)
        sio = socketio.AsyncClient(reconnection=False)
        # Plain (not async) handlers: socket.io runs each packet's handler as a task in
        # arrival order, and a handler that never awaits keeps that order.
        for event in ("new_message", "update_message", "stream_start"):
            sio.on(event, self._step)
        sio.on("stream_token", self._token)
        sio.on("task_end", self._task_end)
        sio.on("ask", self._ask)
        sio.on("call_fn", self._ask)
        sio.on("action", self._action)
        sio.on("element", self._element)
        sio.on("first_interaction", self._first)
        sio.on("resume_thread", self._resume)
        sio.on("resume_thread_error", self._resume_error)
        sio.on("disconnect", self._disconnected)
        return sio

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
        if step.get("isError") and not self._declined_step(step):
            run.problems.append(f"error shown: {step.get('name')}: {_line(step.get('output'))}")
        if step.get("type") == "assistant_message":
            run.texts[step_id] = str(step.get("output") or "")

    def _declined_step(self, step: dict[str, Any]) -> bool:
        """The key question's step, failed because this session declined it on purpose."""
        metadata = step.get("metadata")
        tool = metadata.get("tool") if isinstance(metadata, dict) else None
        return self.answers and self.declined > 0 and tool == "request_api_key"

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

    def _ask(self, data: Any = None) -> Any:
        """A question or approval. A plain session answers none (the app then goes on as
        if the person had not answered), and the turn counts as failed. With `answers`, a
        card is approved and a key question declined, as a person without that key would."""
        spec = data.get("spec") if isinstance(data, dict) else None
        kind = spec.get("type") if isinstance(spec, dict) else None
        ask_id = str(data.get("msg", {}).get("id")) if isinstance(data, dict) else ""
        if self.answers and kind == "action" and f"{ask_id}/approve" in self._actions:
            self.approved += 1
            return self._actions[f"{ask_id}/approve"]
        if self.answers and kind == "element":
            self.declined += 1
            return {"submitted": False}
        if self._run is not None:
            self._run.problems.append("the app asked a question the benchmark cannot answer")
        return None

    def _action(self, data: Any = None) -> None:
        if isinstance(data, dict):
            self._actions[f"{data.get('forId')}/{data.get('name')}"] = data

    def _element(self, data: Any = None) -> None:
        if not isinstance(data, dict) or not isinstance(data.get("props"), dict):
            return
        props: dict[str, Any] = data["props"]
        self.elements[str(data.get("name"))] = props
        if data.get("name") == "Progress" and props.get("deployment_id"):
            self.progress[str(props["deployment_id"])] = props
        self._wake()

    def _first(self, data: Any = None) -> None:
        if isinstance(data, dict) and data.get("thread_id"):
            self.thread_id = str(data["thread_id"])

    def _resume(self, data: Any = None) -> None:
        self.resumed = data if isinstance(data, dict) else {}
        self._wake()

    def _resume_error(self, data: Any = None) -> None:
        self.resumed = {"error": str(data)}
        self._wake()

    def _disconnected(self, *_reason: Any) -> None:
        """The server closed the connection (or died): the turn under way is lost.
        (python-socketio calls this before it marks the client disconnected.)"""
        self._closed = True
        run = self._run
        if run is not None and not run.done.is_set():
            run.lost = True
            run.problems.append("the connection closed before the turn ended")
            run.done.set()
        self._wake()

    def _wake(self) -> None:
        for check, future in list(self._waiters):
            if not future.done() and check():
                future.set_result(None)

    async def wait_until(self, check: Callable[[], bool], *, within_s: float = 60) -> None:
        """Return once `check()` holds, looked at again after each element, resume or
        disconnect this session sees (TimeoutError after `within_s`)."""
        if check():
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (check, future)
        self._waiters.append(entry)
        try:
            async with asyncio.timeout(within_s):
                await future
        finally:
            self._waiters.remove(entry)

    @property
    def connected(self) -> bool:
        return bool(self.sio.connected) and not self._closed

    async def login(self, *, within_s: float = 60) -> str:
        async with httpx.AsyncClient(base_url=self.url, timeout=within_s) as http:
            reply = await http.post(
                "/login", data={"username": self.username, "password": self.password}
            )
            reply.raise_for_status()
            self.token = reply.cookies["access_token"]
        return self.token

    async def connect(
        self, *, chat_start: bool, within_s: float = 60, thread_id: str | None = None
    ) -> None:
        """Connect as the browser does, and return when the session is idle: after the
        connection's own `task_end` and, for an app with `on_chat_start`, that run's end.
        With `thread_id`, the browser reopening that thread: return once the server has
        sent it back (`resumed`: the thread with its steps and elements, or an error)."""
        if not self.token:
            await self.login()
        if self.connected or self._connected.is_set():  # a second connection: a new socket
            self.sio, self._connected, self.resumed = self._socket(), asyncio.Event(), None
        await self.sio.connect(
            self.url, socketio_path="/ws/socket.io", transports=["websocket"],
            headers={"Cookie": f"access_token={self.token}", "Origin": self.url},
            auth={"clientType": "webapp", "sessionId": str(uuid.uuid4()), "threadId": thread_id,
                  "userEnv": "{}"},
            # python-socketio waits 1 s for the server's answer by default; a busy server
            # (Chainlit reads the session and the user first) takes longer.
            wait_timeout=int(within_s),
        )  # fmt: skip
        resuming = thread_id is not None
        run = self._run = _Run("on_chat_start", None) if chat_start and not resuming else None
        try:
            await self.sio.emit("connection_successful")
            async with asyncio.timeout(within_s):
                await self._connected.wait()
                if run is not None:
                    await run.done.wait()
            if resuming:
                await self.wait_until(lambda: self.resumed is not None, within_s=within_s)
                if "error" not in (self.resumed or {}):
                    self.thread_id = thread_id
        finally:
            self._run = None

    async def move_to(self, url: str, *, within_s: float = 60) -> None:
        """Log in to the server at `url` and reopen this session's thread there (a fresh
        chat if it has none yet), as a person does whose server went away."""
        self.url, self.token = url, ""
        await self.login()
        await self.connect(chat_start=self.thread_id is None, within_s=within_s,
                           thread_id=self.thread_id)  # fmt: skip

    def resumed_messages(self) -> list[str]:
        """The user messages of the thread as `connect(thread_id=...)` got it back."""
        steps: list[dict[str, Any]] = (self.resumed or {}).get("steps") or []
        return [str(s.get("output") or "") for s in steps if s.get("type") == "user_message"]

    async def ask(self, text: str, *, within_s: float = 60) -> Outcome:
        """Send one message and return when its own run has ended, or after `within_s`
        (then the outcome is a timeout, and the session must not be used for timing)."""
        message_id = str(uuid.uuid4())
        run = self._run = _Run("on_message", message_id)
        if not self.connected:  # the server went away between two turns
            self._run = None
            run.lost = True
            run.problems.append("not connected")
            return self._record(run)
        message = {"id": message_id, "threadId": "", "name": self.username,
                   "type": "user_message", "output": text,
                   "createdAt": datetime.now(UTC).isoformat()}  # fmt: skip
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
        self.last_reply = "\n".join(replies)
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
        return Outcome(problems[0], conflict, run.lost)

    async def close(self) -> None:
        await self.sio.disconnect()


def _line(text: object, limit: int = 100) -> str:
    flat = " ".join(str(text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."
