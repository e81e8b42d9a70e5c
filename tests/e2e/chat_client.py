"""A chat session spoken to over socket.io, as the browser does (see the reference's
handshake): log in, connect with a session id, send messages, answer asks, and wait for
events by condition, never by sleeping."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import socketio

Event = tuple[str, Any]
AskHandler = Callable[["ChatClient", dict[str, Any]], Awaitable[Any]]
# How long a connect may wait for the server's answer (namespace joined, or refused).
# python-socketio's default is 1 s, which a busy machine exceeds: Chainlit's connect
# handler reads the session and the user before it answers. A refusal still ends the
# wait at once.
CONNECT_WAIT_S = 60.0


class _Socket(socketio.AsyncClient):
    """python-socketio's client, waiting for the server's answer to a connect."""

    async def connect(self, url: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("wait_timeout", CONNECT_WAIT_S)
        await super().connect(url, *args, **kwargs)


async def no_answer(_client: ChatClient, _ask: dict[str, Any]) -> Any:
    """Leave every question unanswered (the server's timeout decides)."""
    await asyncio.Event().wait()


class ChatClient:
    def __init__(
        self, url: str, username: str, password: str, *, on_ask: AskHandler = no_answer
    ) -> None:
        self.url = url
        self.username = username
        self.password = password
        self.on_ask = on_ask
        self.session_id = str(uuid.uuid4())
        self.events: list[Event] = []
        self.asks: list[dict[str, Any]] = []
        self._changed = asyncio.Condition()
        self._token = ""
        self.sio = self._client()

    def _client(self) -> socketio.AsyncClient:
        client = _Socket(reconnection=False)

        @client.on("*")
        async def _any(event: str, data: Any = None) -> None:
            await self._record(event, data)

        @client.on("ask")
        async def _ask(data: dict[str, Any]) -> Any:
            self.asks.append(data)
            await self._record("ask", data)
            return await self.on_ask(self, data)

        return client

    async def _record(self, event: str, data: Any) -> None:
        async with self._changed:
            self.events.append((event, data))
            self._changed.notify_all()

    async def login(self) -> None:
        async with httpx.AsyncClient(base_url=self.url) as http:
            reply = await http.post(
                "/login", data={"username": self.username, "password": self.password}
            )
            reply.raise_for_status()
            self._token = reply.cookies["access_token"]

    async def connect(self, *, thread_id: str | None = None, fresh: bool = True) -> None:
        """Connect with this client's session id; a new socket each time. `fresh=False`
        rejoins a session the server still holds (nothing is started again)."""
        if not self._token:
            await self.login()
        self.sio = self._client()
        await self.sio.connect(
            self.url, socketio_path="/ws/socket.io", transports=["websocket"],
            headers={"Cookie": f"access_token={self._token}", "Origin": self.url},
            auth={"clientType": "webapp", "sessionId": self.session_id, "threadId": thread_id, "userEnv": "{}"},
        )  # fmt: skip
        mark = len(self.events)
        await self.sio.emit("connection_successful")
        if not fresh:
            return
        # Ready once the app has started (or resumed) the chat: it sends the commands then.
        # Sending earlier races Chainlit's own start-up task for the session's "current
        # task", which is the one Stop cancels.
        await self.wait_for(lambda e: e[0] == "set_commands", after=mark)

    async def disconnect(self) -> None:
        await self.sio.disconnect()

    async def send(self, text: str) -> None:
        message = {
            "id": str(uuid.uuid4()), "threadId": "", "name": self.username, "type": "user_message",
            "output": text, "createdAt": datetime.now(UTC).isoformat(),
        }  # fmt: skip
        await self.sio.emit("client_message", {"message": message, "fileReferences": None})

    async def wait_for(
        self, match: Callable[[Event], bool], *, after: int = 0, within_s: float = 60
    ) -> Event:
        """The first event from index `after` on that matches (waits for it to arrive)."""

        def found() -> Event | None:
            return next((e for e in self.events[after:] if match(e)), None)

        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: found() is not None), within_s)
            event = found()
        assert event is not None
        return event

    def messages(self, *, after: int = 0) -> list[dict[str, Any]]:
        """The latest version of each message or step seen, by id, in first-seen order."""
        latest: dict[str, dict[str, Any]] = {}
        for name, data in self.events[after:]:
            if name in ("new_message", "update_message") and isinstance(data, dict):
                latest[data["id"]] = data
        return list(latest.values())

    def text(self, *, after: int = 0) -> str:
        """Everything shown as message or step output, plus streamed tokens."""
        parts = [str(m.get("output", "")) for m in self.messages(after=after)]
        parts += [str(d.get("token", "")) for n, d in self.events[after:] if n == "stream_token"]
        return "\n".join(parts)


def task_ended(event: Event) -> bool:
    return event[0] == "task_end"


def said(fragment: str) -> Callable[[Event], bool]:
    """A final message (or step) whose output contains `fragment`."""

    def match(event: Event) -> bool:
        name, data = event
        return name in ("new_message", "update_message") and fragment in str(data.get("output", ""))

    return match
