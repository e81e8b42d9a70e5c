"""The shared HTTP core: auth per request, timeouts, retries and error mapping.

Every provider client owns one `HttpApi` bound to the process-wide `httpx.AsyncClient`
that it was given. The key travels only in the `Authorization` header of each request
(never in the URL, never on the shared client), so one process serves many users.

Retries (`Retry`):
- 429 always: the provider did not act on the request. `Retry-After` is honoured exactly,
  unless it exceeds `max_retry_after_s`; then `RateLimited` reaches the caller at once.
- 5xx, timeouts and dropped connections only for idempotent requests (GET, PUT, DELETE,
  or a call marked `idempotent=True`), because a create that failed half-way may have
  happened. A 503, a refused connection and a connect timeout are retried for any method:
  the provider never acted on those.
- Otherwise capped exponential backoff with jitter. `sleep`, `clock` and `rng` are
  injectable, so tests run on a fake clock and never really sleep.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar, cast
from urllib.parse import quote

import httpx
from pydantic import BaseModel, SecretStr, ValidationError

from tools.clients import _messages
from tools.clients._messages import ProviderInfo
from tools.clients.errors import ProviderError, Upstream

__all__ = [
    "Clock",
    "HttpApi",
    "Retry",
    "Sleep",
    "as_dict",
    "path_segment",
    "sha1_hex",
    "utcnow",
    "with_retry",
]

_log = logging.getLogger("kriptik.clients")

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], datetime]
_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
_OK = frozenset({200, 201, 202, 204})
_T = TypeVar("_T")
_M = TypeVar("_M", bound=BaseModel)


def utcnow() -> datetime:
    """The current time, timezone-aware (the default clock)."""
    return datetime.now(UTC)


@dataclass(frozen=True, kw_only=True)
class Retry:
    """Retry policy plus the injectable sleep, clock and randomness.

    Attributes:
        max_attempts: Attempts in all, the first included.
        base_delay_s: Backoff before the second attempt (doubles each time).
        max_delay_s: Cap on one backoff delay.
        max_retry_after_s: Longest advised wait we sit through; longer ones raise.
        sleep: Awaitable sleep (fake in tests).
        clock: Current time, for HTTP-date `Retry-After` values.
        rng: Randomness for jitter.
    """

    max_attempts: int = 4
    base_delay_s: float = 0.5
    max_delay_s: float = 20.0
    max_retry_after_s: float = 120.0
    sleep: Sleep = asyncio.sleep
    clock: Clock = utcnow
    rng: random.Random = field(default_factory=random.SystemRandom)

    def delay_s(self, err: ProviderError, *, attempt: int, idempotent: bool) -> float | None:
        """Seconds to wait before the next attempt, or None to give up and raise `err`."""
        if attempt >= self.max_attempts or not err.retryable:
            return None
        if isinstance(err, Upstream) and not idempotent:
            never_acted = err.status == 503 or not err.request_sent
            if not never_acted:
                return None
        if err.retry_after is not None:
            return err.retry_after if err.retry_after <= self.max_retry_after_s else None
        # No advice from the provider: back off exponentially.
        ceiling = min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1))
        # "Equal jitter": at least half the ceiling, so retries never bunch at zero.
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)


async def with_retry(
    call: Callable[[], Awaitable[_T]], *, retry: Retry, idempotent: bool, label: str
) -> _T:
    """Run `call`, retrying transient `ProviderError`s as `retry` allows.

    Args:
        call: One attempt; raises `ProviderError` on failure.
        retry: The policy, sleep and clock.
        idempotent: Whether repeating the call after a half-done attempt is harmless.
        label: What is being called, for the log ("GET /v2/serverless").
    """
    attempt = 1
    while True:
        try:
            return await call()
        except ProviderError as err:
            wait = retry.delay_s(err, attempt=attempt, idempotent=idempotent)
            if wait is None:
                raise
            _log.warning(
                "%s %s: %s %s; retrying in %.2f s (attempt %d of %d)",
                err.provider,
                label,
                type(err).__name__,
                err.status or "",
                wait,
                attempt + 1,
                retry.max_attempts,
            )
            await retry.sleep(wait)
            attempt += 1


class HttpApi:
    """One provider's base URL, key and policies over a shared `httpx.AsyncClient`."""

    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        base_url: str,
        info: ProviderInfo,
        token: SecretStr | None,
        timeout_s: float = 30.0,
        retry: Retry | None = None,
        scheme: str = "Bearer",
    ) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.info = info
        self.timeout_s = timeout_s
        self.retry = retry or Retry()
        self._token = token
        self._scheme = scheme

    def __repr__(self) -> str:
        return f"HttpApi({self.info.name!r}, base_url={self.base_url!r})"

    def secrets(self) -> list[str]:
        """The plaintext secrets that must never appear in errors or logs."""
        return [self._token.get_secret_value()] if self._token else []

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send with retries and return the JSON body (None when empty). See `exchange`."""
        return (await self.exchange(method, path, **kwargs))[1]

    async def exchange(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        what: str = "the requested resource",
        ok: Collection[int] = _OK,
        parse: bool = True,
        follow_redirects: bool = False,
    ) -> tuple[httpx.Response, Any]:
        """Send one logical request, with retries, and parse its body.

        Args:
            method: HTTP method.
            path: Path below the base URL, starting with "/", segments already quoted.
            params: Query parameters.
            json: JSON body.
            content: Raw body (for uploads).
            headers: Extra headers.
            idempotent: Override the method's default idempotency for retries.
            what: The resource, for messages ("the endpoint ep_1").
            ok: Statuses that count as success.
            parse: Parse the body as JSON (a malformed body is then a retryable error).
            follow_redirects: Follow redirects (httpx drops the key on a cross-origin hop).

        Returns:
            The response and its parsed JSON body (None when empty or `parse=False`).
        """
        label = f"{method} {path}"
        idem = method in _IDEMPOTENT_METHODS if idempotent is None else idempotent

        async def once() -> tuple[httpx.Response, Any]:
            resp = await self._send(method, path, params, json, content, headers, follow_redirects)
            if resp.status_code not in ok:
                raise self.error_from(resp, what)
            return resp, (self._json(resp) if parse else None)

        return await with_retry(once, retry=self.retry, idempotent=idem, label=label)

    def model(self, cls: type[_M], data: Any, *, status: int = 200) -> _M:
        """Validate `data` as `cls`; a shape we cannot read becomes `Upstream`."""
        try:
            return cls.model_validate(data)
        except ValidationError:
            # from None: pydantic's message quotes input values, which may hold secrets.
            raise _messages.malformed(self.info, status, request_id=None) from None

    async def _send(
        self,
        method: str,
        path: str,
        params: Mapping[str, str | int] | None,
        json: Any,
        content: bytes | None,
        headers: Mapping[str, str] | None,
        follow_redirects: bool,
    ) -> httpx.Response:
        url = f"{self.base_url}{path}"
        all_headers = {"Accept": "application/json", **(headers or {})}
        if self._token is not None:
            all_headers["Authorization"] = f"{self._scheme} {self._token.get_secret_value()}"
        timeout = httpx.Timeout(self.timeout_s, connect=min(self.timeout_s, 10.0))
        host = httpx.URL(url).host
        try:
            resp = await self.http.request(
                method, url, params=params, json=json, content=content,
                headers=all_headers, timeout=timeout, follow_redirects=follow_redirects,
            )  # fmt: skip
        except (httpx.ConnectTimeout, httpx.PoolTimeout):
            raise _messages.timed_out(self.info, self.timeout_s, request_sent=False) from None
        except httpx.TimeoutException:
            raise _messages.timed_out(self.info, self.timeout_s, request_sent=True) from None
        except httpx.ConnectError:
            raise _messages.unreachable(self.info, host, request_sent=False) from None
        except httpx.TransportError:
            raise _messages.unreachable(self.info, host, request_sent=True) from None
        _log.debug("%s %s %s -> %d", self.info.name, method, path, resp.status_code)
        return resp

    def _json(self, resp: httpx.Response) -> Any:
        if not resp.content:
            return None
        try:
            return resp.json()
        except ValueError:
            rid = _messages.request_id(resp.headers)
            raise _messages.malformed(self.info, resp.status_code, request_id=rid) from None

    def error_from(self, resp: httpx.Response, what: str) -> ProviderError:
        """The `ProviderError` for an error response (its status, body and headers)."""
        body = _error_body(resp)
        # Vercel answers a bad token with 403 `{"error": {"invalidToken": true}}`.
        bad_key = _field(_field(body, "error"), "invalidToken") is True
        # GitHub signals an exhausted quota as 403 with `X-RateLimit-Remaining: 0`.
        rate_limited = resp.status_code == 403 and resp.headers.get("x-ratelimit-remaining") == "0"
        retry_after = None
        if resp.status_code in (429, 503) or rate_limited:
            retry_after = _messages.retry_after_s(resp.headers, now=self.retry.clock())
        return _messages.error_for_status(
            self.info,
            resp.status_code,
            detail=_messages.detail_of(body, self.secrets()),
            request_id=_messages.request_id(resp.headers),
            retry_after=retry_after,
            what=what,
            bad_key=bad_key,
            rate_limited=rate_limited,
        )


def _error_body(resp: httpx.Response) -> object:
    try:
        return resp.json() if resp.content else None
    except ValueError:
        return resp.text[:500]


def path_segment(value: str) -> str:
    """`value` percent-encoded as one URL path segment: a `/` or `..` in a name or id
    cannot reach another route."""
    return quote(value, safe="")


def sha1_hex(raw: bytes) -> str:
    """The SHA-1 hex digest that Vercel and Netlify name uploaded files by (not security)."""
    return hashlib.sha1(raw).hexdigest()  # noqa: S324


def as_dict(obj: object) -> dict[str, Any]:
    """`obj` if it is a JSON object, else an empty dict (for reading untrusted JSON)."""
    return cast("dict[str, Any]", obj) if isinstance(obj, dict) else {}


def as_list(obj: object) -> list[Any]:
    """`obj` if it is a JSON array, else an empty list (for reading untrusted JSON)."""
    return cast("list[Any]", obj) if isinstance(obj, list) else []


def _field(obj: object, key: str) -> object:
    return cast("dict[str, object]", obj).get(key) if isinstance(obj, dict) else None
