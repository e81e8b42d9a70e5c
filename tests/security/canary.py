"""A loopback server that records every request it receives: the place an SSRF would land.

    with Canary.serving() as canary:
        ...  # hand canary.url to whatever must never fetch it
        assert canary.requests == []

With `redirect_to`, it answers every request with a 302 there (a provider that bounces
the client elsewhere).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from starlette.types import Receive, Scope, Send

from tools.simulator.server import ServedApp


@dataclass(frozen=True)
class Seen:
    method: str
    path: str  # as sent, still percent-encoded
    headers: dict[str, str]


@dataclass
class Canary:
    redirect_to: str | None = None
    url: str = ""
    requests: list[Seen] = field(default_factory=list[Seen])
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        headers = {k.decode().lower(): v.decode("latin-1") for k, v in scope["headers"]}
        with self._lock:
            raw = scope.get("raw_path") or scope["path"].encode()
            self.requests.append(Seen(scope["method"], raw.decode("latin-1"), headers))
        if self.redirect_to:
            location = self.redirect_to + scope["path"]
            start = {"type": "http.response.start", "status": 302,
                     "headers": [(b"location", location.encode())]}  # fmt: skip
        else:
            start = {"type": "http.response.start", "status": 404, "headers": []}
        await send(start)
        await send({"type": "http.response.body", "body": b""})

    @classmethod
    @contextmanager
    def serving(cls, *, redirect_to: str | None = None) -> Iterator[Canary]:
        canary = cls(redirect_to=redirect_to)
        served = ServedApp(canary)
        canary.url = served.url
        try:
            yield canary
        finally:
            served.stop()
