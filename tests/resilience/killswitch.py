"""Kill a process at an exact point of its conversation with the provider fakes.

The fakes run in the test process; the process under test talks to them over loopback.
A `KillSwitch` watches every request the fakes receive and, at the planned point, sends
SIGKILL to the process:

- `before` a route: the request arrived and the provider has not acted (the process dies
  at the start of a step, or between two steps);
- `after` a route: the provider acted and its answer is on the way (the process dies
  inside a step whose output DBOS has not recorded: the step will run again).

Points fire in order; `fired` is set for each, so the test waits on events, not time.
"""

from __future__ import annotations

import os
import signal
import threading
from dataclasses import dataclass, field
from typing import Any, Literal

from starlette.requests import Request
from starlette.responses import Response

from tests.fakes._base import FakeProvider

When = Literal["before", "after"]


@dataclass(frozen=True)
class Point:
    fake: str
    route: str
    when: When

    def __str__(self) -> str:
        return f"{self.when} {self.route}"


@dataclass
class KillSwitch:
    fakes: dict[str, FakeProvider]
    points: list[Point]
    pid: int = 0
    fired: list[threading.Event] = field(default_factory=list[threading.Event])
    _next: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.fired = [threading.Event() for _ in self.points]
        for name, fake in self.fakes.items():
            fake._handle = self._wrap(name, fake)  # type: ignore[method-assign]

    def remove(self) -> None:
        for fake in self.fakes.values():
            fake.__dict__.pop("_handle", None)

    def _due(self, name: str, route: str, when: When) -> int | None:
        with self._lock:
            if self._next >= len(self.points):
                return None
            point = self.points[self._next]
            if (point.fake, point.route, point.when) != (name, route, when):
                return None
            self._next += 1
            return self._next - 1

    def _kill(self, index: int) -> None:
        os.kill(self.pid, signal.SIGKILL)
        self.fired[index].set()

    def _wrap(self, name: str, fake: FakeProvider) -> Any:
        original = type(fake)._handle  # pyright: ignore[reportPrivateUsage]

        async def handle(request: Request) -> Response:
            found = fake._match(request.method, request.url.path)  # pyright: ignore[reportPrivateUsage]
            route = f"{request.method} {found[0]}" if found else ""
            if (index := self._due(name, route, "before")) is not None:
                self._kill(index)
                return Response(status_code=503)  # nobody is listening any more
            response = await original(fake, request)
            if (index := self._due(name, route, "after")) is not None:
                self._kill(index)
            return response

        return handle
