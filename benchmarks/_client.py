"""A minimal Chainlit socket client for the benchmarks: log in, connect as the browser
does, send a message, and wait for the end of its run (no sleeping, no polling)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import socketio


class Session:
    def __init__(self, url: str, username: str, password: str) -> None:
        self.url, self.username, self.password = url, username, password
        self.token = ""
        self.ended = 0  # runs that ended (task_end), counted as they arrive
        self.errors = 0
        self._changed = asyncio.Condition()
        self.sio = socketio.AsyncClient(reconnection=False)
        self.sio.on("task_end", self._task_end)
        self.sio.on("new_message", self._message)

    async def _task_end(self, data: Any = None) -> None:
        async with self._changed:
            self.ended += 1
            self._changed.notify_all()

    async def _message(self, data: Any = None) -> None:
        if isinstance(data, dict) and data.get("isError"):
            self.errors += 1

    async def login(self) -> str:
        async with httpx.AsyncClient(base_url=self.url) as http:
            reply = await http.post(
                "/login", data={"username": self.username, "password": self.password}
            )
            reply.raise_for_status()
            self.token = reply.cookies["access_token"]
        return self.token

    async def connect(self) -> None:
        if not self.token:
            await self.login()
        await self.sio.connect(
            self.url, socketio_path="/ws/socket.io", transports=["websocket"],
            headers={"Cookie": f"access_token={self.token}", "Origin": self.url},
            auth={"clientType": "webapp", "sessionId": str(uuid.uuid4()), "threadId": None,
                  "userEnv": "{}"},
        )  # fmt: skip
        async with self._changed:
            before = self.ended
            await self.sio.emit("connection_successful")
            # The connection's own runs (on_chat_start) end before the first message.
            await asyncio.wait_for(self._changed.wait_for(lambda: self.ended > before), 60)

    async def ask(self, text: str, *, within_s: float = 60) -> None:
        """Send one message and return when its run has ended."""
        message = {"id": str(uuid.uuid4()), "threadId": "", "name": self.username,
                   "type": "user_message", "output": text,
                   "createdAt": datetime.now(UTC).isoformat()}  # fmt: skip
        async with self._changed:
            before = self.ended
            await self.sio.emit("client_message", {"message": message, "fileReferences": None})
            await asyncio.wait_for(self._changed.wait_for(lambda: self.ended > before), within_s)

    async def close(self) -> None:
        await self.sio.disconnect()
