"""The fakes' vocabulary: faults, the call log, requests as contracts see them, the
`@route` marker, and response helpers. `_base.FakeProvider` puts them to work."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

FaultKind = int | Literal["slow", "drop", "malformed"]
Handler = Callable[[Any, "FakeRequest"], Awaitable[Response]]


@dataclass
class Fault:
    """A failure to inject on a route.

    Attributes:
        kind: An HTTP status (401, 403, 404, 409, 422, 429, 500, 503...), "slow" (act at
            once, answer after `delay_s`: a client that gives up first must look for what
            the provider made), "drop" (close the connection mid-body) or "malformed"
            (200 with a body that is not JSON).
        times: How many requests it hits; None for every one.
        retry_after: `Retry-After` value sent with the status.
        delay_s: Delay for "slow".
        message: The provider's error text (default: a stock phrase for the status).
        headers: Extra response headers (e.g. `x-ratelimit-remaining: 0`).
    """

    kind: FaultKind
    times: int | None = 1
    retry_after: float | str | None = None
    delay_s: float = 3.0
    message: str | None = None
    headers: dict[str, str] | None = None


@dataclass
class Call:
    """One request as the fake received it."""

    method: str
    route: str
    path: str
    params: dict[str, str]
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes
    raw_path: str = ""
    status: int = 0

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class Exchange:
    """What a contract checker needs to know about one request (and its response)."""

    method: str
    template: str
    params: dict[str, str]
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes
    content_type: str

    def spec_path(self) -> str:
        """The path with each parameter percent-encoded (`heads/main` -> `heads%2Fmain`)."""
        return re.sub(
            r"\{(\w+)\}", lambda m: quote(self.params[m.group(1)], safe=""), self.template
        )


class Contract(Protocol):
    """Checks requests and responses against a provider's published description."""

    def check_request(self, ex: Exchange) -> list[str]: ...

    def check_response(
        self, ex: Exchange, status: int, headers: dict[str, str], body: bytes
    ) -> list[str]: ...


class FakeRequest:
    """The handler's view of a request."""

    def __init__(self, request: Request, params: dict[str, str], body: bytes, account: Any):
        self.raw = request
        self.params = params
        self.body = body
        self.account = account
        self.query = request.query_params
        self.headers = request.headers
        self.base_url = f"{request.url.scheme}://{request.url.netloc}"

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


def route(method: str, template: str, *, checked: bool = True) -> Callable[[Handler], Handler]:
    """Mark a `FakeProvider` method as the handler of METHOD TEMPLATE (stack several to
    serve more than one route).

    `checked=False` exempts a route from the contract (e.g. GitHub's OAuth routes, which
    the REST description does not cover).
    """

    def mark(fn: Handler) -> Handler:
        routes = getattr(fn, "__fake_route__", ())
        fn.__fake_route__ = (*routes, (method, template, checked))  # type: ignore[attr-defined]
        return fn

    return mark


def compile_template(template: str) -> re.Pattern[str]:
    out, pos = "", 0
    for m in re.finditer(r"\{(\w+)(:path)?\}", template):
        out += re.escape(template[pos : m.start()])
        out += f"(?P<{m.group(1)}>.+?)" if m.group(2) else f"(?P<{m.group(1)}>[^/]+)"
        pos = m.end()
    return re.compile(out + re.escape(template[pos:]) + "$")


class DroppedConnection(Response):
    """Announce a body, send a fragment, then stop: the server closes the connection."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"application/json"), (b"content-length", b"4096")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b'{"partial": ', "more_body": True})


FAULT_TEXT = {
    400: "bad request",
    401: "invalid credentials",
    403: "forbidden for this key",
    404: "not found",
    409: "already exists",
    422: "unprocessable entity",
    429: "rate limit exceeded",
    500: "internal server error",
    502: "bad gateway",
    503: "service unavailable",
}


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A compact JSON response."""
    return Response(
        json.dumps(data, separators=(",", ":")),
        status,
        headers=headers,
        media_type="application/json",
    )
