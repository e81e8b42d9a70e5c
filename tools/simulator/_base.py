"""Machinery shared by the loopback fakes: routing, faults, the call log, contract checks.

A fake is a `FakeProvider` subclass whose handler methods carry `@route(METHOD, TEMPLATE)`.
Its `app` is a plain ASGI callable. Every request goes through the same pipeline:

1. record the call;
2. check it against the provider's published contract (a violation is recorded, and the
   client gets the provider's own 400/422, so the test fails with the validator's text);
3. apply an injected fault for the route, if any (status, slow, drop, malformed);
4. authenticate the key and run the handler;
5. check the response against the same contract, so the fake cannot drift from it.

Templates use `{name}` for one path segment and `{name:path}` for one or more (matched
lazily, so `/api/models/{repo:path}/revision/{rev}` works). Fault and call keys are
"METHOD /template" with the converters removed, e.g. `"GET /v2/serverless/{id}"`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from tools.simulator._wire import (
    FAULT_TEXT,
    Call,
    Contract,
    DroppedConnection,
    Exchange,
    FakeRequest,
    Fault,
    FaultKind,
    Handler,
    compile_template,
    json_response,
    route,
)

__all__ = [
    "Call", "Contract", "Exchange", "FakeProvider", "FakeRequest", "Fault", "FaultKind",
    "Refused", "bearer", "json_response", "route",
]  # fmt: skip


def bearer(request: Request, *, schemes: tuple[str, ...] = ("Bearer",)) -> str | None:
    """The token of an `Authorization: <scheme> <token>` header, or None."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token if scheme in schemes else None


_Row = TypeVar("_Row")


class Refused(Exception):
    """Raised by a handler, or a lookup it calls, to answer at once with `response`: the
    provider's 404 for a missing resource, its 403 for a key without the scope."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


class FakeProvider:
    """Base class of one provider's fake: subclasses add state and `@route` handlers."""

    name = "fake"
    request_id_header = "x-request-id"

    def __init__(self, contract: Contract | None = None) -> None:
        self.contract = contract
        self.faults: dict[str, list[Fault]] = {}
        self.calls: list[Call] = []
        self.violations: list[str] = []
        self._ids = itertools.count(1)
        self._routes: list[tuple[str, str, re.Pattern[str], Handler]] = []
        self._unchecked: set[str] = set()
        for attr in dir(type(self)):
            fn = getattr(type(self), attr)
            for method, template, checked in getattr(fn, "__fake_route__", ()):
                key = re.sub(r"\{(\w+):path\}", r"{\1}", template)
                self._routes.append((method, key, compile_template(template), fn))
                if not checked:
                    self._unchecked.add(f"{method} {key}")
        # Longest literal prefix first, so specific routes win over catch-alls.
        self._routes.sort(key=lambda r: -len(r[1].split("{")[0]) * 1000 - len(r[1]))

    # ---- hooks for subclasses -------------------------------------------------------
    def error(
        self, status: int, message: str, *, headers: dict[str, str] | None = None
    ) -> Response:
        """The provider's own error response."""
        body = json.dumps({"message": message})
        return Response(body, status, headers=headers, media_type="application/json")

    def found(self, rows: Mapping[Any, _Row], key: object, missing: str) -> _Row:
        """The row `key` names in `rows`, or `Refused` with the provider's own 404 saying
        `missing` (how every fake answers a path that names nothing)."""
        row = rows.get(key)
        if row is None:
            raise Refused(self.error(404, missing))
        return row

    def authenticate(self, request: Request) -> Any:
        """The account behind the request's key, or None for a bad key."""
        return True

    def reset_state(self) -> None:
        """Forget created resources (subclasses)."""

    # ---- test-facing API ------------------------------------------------------------
    def fail(
        self,
        route_key: str,
        kind: FaultKind,
        *,
        times: int | None = 1,
        retry_after: float | str | None = None,
        delay_s: float = 3.0,
        message: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Inject a fault on "METHOD /template" ("*" for every route). See `Fault`."""
        if route_key != "*" and route_key not in {f"{m} {k}" for m, k, _, _ in self._routes}:
            raise KeyError(f"{self.name} fake has no route {route_key!r}")
        fault = Fault(kind, times, retry_after, delay_s, message, headers)
        self.faults.setdefault(route_key, []).append(fault)

    def reset(self) -> None:
        """Clear faults, calls, violations and state, between tests."""
        self.faults.clear()
        self.calls.clear()
        self.violations.clear()
        self.reset_state()

    def calls_to(self, route_key: str) -> list[Call]:
        return [c for c in self.calls if c.route == route_key]

    def assert_clean(self) -> None:
        """Fail with every contract violation seen (requests and responses)."""
        if self.violations:
            found, self.violations = self.violations, []
            raise AssertionError(f"{self.name} contract violations:\n" + "\n".join(found))

    # ---- the pipeline ---------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        response = await self._handle(request)
        await response(scope, receive, send)

    def _match(self, method: str, path: str) -> tuple[str, dict[str, str], Handler] | None:
        for r_method, key, pattern, fn in self._routes:
            if r_method == method and (m := pattern.match(path)):
                return key, m.groupdict(), fn
        return None

    async def _handle(self, request: Request) -> Response:
        method, path = request.method, request.url.path
        found = self._match(method, path)
        if found is None:
            return self.error(404, f"no route for {method} {path}")
        key, params, fn = found
        body = await request.body()
        route_key = f"{method} {key}"
        headers = {k.lower(): v for k, v in request.headers.items()}
        query = parse_qsl(request.url.query, keep_blank_values=True)
        raw_path = request.scope.get("raw_path", b"").decode("latin-1")
        call = Call(method, route_key, path, params, query, headers, body, raw_path)
        self.calls.append(call)
        ex = Exchange(method, key, params, query, headers, body, headers.get("content-type", ""))
        response = await self._respond(request, ex, fn, call, route_key not in self._unchecked)
        call.status = response.status_code
        response.headers.setdefault(self.request_id_header, f"req-{next(self._ids):06d}")
        return response

    def _check(self, check: Callable[[], list[str]]) -> list[str]:
        try:
            return check()
        except Exception as err:  # A crashing checker must fail the test, not the fake.
            return [f"contract checker crashed: {type(err).__name__}: {err}"]

    async def _respond(
        self, request: Request, ex: Exchange, fn: Handler, call: Call, checked: bool
    ) -> Response:
        contract = self.contract if checked else None
        if contract and (problems := self._check(lambda: contract.check_request(ex))):
            self.violations += [f"{call.route}: {p}" for p in problems]
            return self.error(422 if ex.body else 400, "; ".join(problems))
        fault = self._take_fault(call.route)
        if fault is not None and fault.kind != "slow":
            return self._fault_response(fault, ex, contract)
        response = await self._route_answer(request, ex, fn, call, contract)
        if fault is not None:
            # Acted at once, answered late: when the late answer lands is then irrelevant to
            # what exists, so a test's outcome never depends on how loaded the machine is.
            await asyncio.sleep(fault.delay_s)
        return response

    async def _route_answer(
        self, request: Request, ex: Exchange, fn: Handler, call: Call, contract: Contract | None
    ) -> Response:
        """The route's own answer (or a 401), checked against the contract."""
        account = self.authenticate(request)
        if account is None:
            return self.error(401, "invalid credentials")
        try:
            response = await fn(self, FakeRequest(request, ex.params, ex.body, account))
        except Refused as refused:
            response = refused.response
        if contract and not isinstance(response, DroppedConnection):
            body = bytes(response.body) if hasattr(response, "body") else b""
            resp_headers = {k.lower(): v for k, v in response.headers.items()}
            status = response.status_code
            problems = self._check(lambda: contract.check_response(ex, status, resp_headers, body))
            self.violations += [f"{call.route} -> {response.status_code}: {p}" for p in problems]
        return response

    def _take_fault(self, route_key: str) -> Fault | None:
        for key in (route_key, "*"):
            queue = self.faults.get(key, [])
            if queue:
                fault = queue[0]
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        queue.pop(0)
                return fault
        return None

    def _fault_response(self, fault: Fault, ex: Exchange, contract: Contract | None) -> Response:
        if fault.kind == "drop":
            return DroppedConnection()
        if fault.kind == "malformed":
            return Response(b'{"data": [unterminated', 200, media_type="application/json")
        assert isinstance(fault.kind, int)
        headers = dict(fault.headers or {})
        if fault.retry_after is not None:
            headers["retry-after"] = str(fault.retry_after)
        text = fault.message or FAULT_TEXT.get(fault.kind, "injected fault")
        response = self.error(fault.kind, text, headers=headers)
        if contract:
            body = bytes(response.body)
            resp_headers = {k.lower(): v for k, v in response.headers.items()}
            status = fault.kind
            problems = self._check(lambda: contract.check_response(ex, status, resp_headers, body))
            self.violations += [
                f"injected {fault.kind}: {p}" for p in problems if "undocumented" not in p
            ]
        return response
