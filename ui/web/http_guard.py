"""HTTP guards in front of the Chainlit app (an ASGI middleware the app module installs).

- **Origin check.** A request with an unsafe method (POST, PUT, PATCH, DELETE), or a
  WebSocket upgrade, whose `Origin` (or, lacking one, `Referer`) is another site's, is
  refused with 403 before Chainlit sees it. The login cookie is SameSite=Lax, which
  already keeps other sites' forms from using it; this also stops a sibling subdomain
  (same site, other origin) and browsers that ignore SameSite. Requests that carry
  neither header (curl, the CLI) are not from a browser and pass.
- **Login rate limit per client address.** At most `LOGIN_ATTEMPTS` login attempts per
  address in `LOGIN_WINDOW_S` seconds; beyond that, 429 with `Retry-After`, before the
  password is hashed. A successful login does not count. The address is the peer's, or
  `X-Forwarded-For` from a proxy that uvicorn trusts (`FORWARDED_ALLOW_IPS`). Counts are
  kept in the database (`vault.logins`), so they hold across instances; so is the
  per-account-and-address delay after wrong passwords, for which the login callback
  reads the address from `client_address()`.
- **Cookies and framing.** Behind an https public URL every cookie gets `Secure`
  (Chainlit sets it only with SameSite=None). Every answer forbids framing by other
  sites (clickjacking an approval button) and content-type sniffing.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Iterable
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import Final
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vault.logins import LoginThrottle

__all__ = ["LOGIN_ATTEMPTS", "LOGIN_WINDOW_S", "HttpGuard", "client_address", "origin_of"]

LOGIN_ATTEMPTS: Final = 20
LOGIN_WINDOW_S: Final = 15 * 60.0
_SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
# The client address of the login request being handled (the login callback gets none).
_address: ContextVar[str] = ContextVar("kriptik_client_address", default="")
_FRAMING: Final = [
    (b"x-frame-options", b"SAMEORIGIN"),
    (b"content-security-policy", b"frame-ancestors 'self'"),
    (b"x-content-type-options", b"nosniff"),
]


def origin_of(url: str) -> str | None:
    """`scheme://host[:port]` of a URL, lowercased; None when it has no host."""
    parts = urlsplit(url.strip())
    if not parts.scheme or not parts.netloc:
        return None
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    port = f":{parts.port}" if parts.port is not None and parts.port != default else ""
    return f"{parts.scheme.lower()}://{(parts.hostname or '').lower()}{port}"


def client_address() -> str:
    """The address of the client whose password login is being handled ("" outside one)."""
    return _address.get()


def _header(scope: Scope, name: bytes) -> str | None:
    headers: Iterable[tuple[bytes, bytes]] = scope.get("headers", [])
    for key, value in headers:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


class HttpGuard:
    """The ASGI middleware described in the module docstring.

    Args:
        app: The app to guard (Chainlit's FastAPI app).
        app_url: The app's own public URL (`Settings.app_url`).
        login_path: Chainlit's password login route.
        attempts: Login attempts allowed per address per window.
        window_s: The window, in seconds.
        throttle: The shared login counts (the app root's vault, `ui/web/app.py`; tests
            pass their own, with a fake clock).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        app_url: str,
        login_path: str = "/login",
        attempts: int = LOGIN_ATTEMPTS,
        window_s: float = LOGIN_WINDOW_S,
        throttle: Callable[[], Awaitable[LoginThrottle]],
    ) -> None:
        self.app = app
        self.origin = origin_of(app_url)
        self.secure = urlsplit(app_url).scheme.lower() == "https"
        self.login_path = login_path
        self.attempts = attempts
        self.window = timedelta(seconds=window_s)
        self.throttle = throttle

    def _foreign(self, scope: Scope) -> bool:
        claimed = _header(scope, b"origin") or _header(scope, b"referer")
        if claimed is None:
            return False
        return claimed == "null" or origin_of(claimed) != self.origin

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "websocket":
            if self._foreign(scope):
                await send({"type": "websocket.close", "code": 1008})
                return
            await self.app(scope, receive, send)
            return
        if kind != "http":
            await self.app(scope, receive, send)
            return
        method: str = scope["method"]
        if method not in _SAFE_METHODS and self._foreign(scope):
            await _plain(send, 403, "Cross-origin request refused.", [])
            return
        window: datetime | None = None
        if method == "POST" and scope["path"] == self.login_path:
            client = scope.get("client")
            _address.set(address := str(client[0]) if client else "unknown")
            admission = await (await self.throttle()).admit_address(
                address, attempts=self.attempts, window=self.window
            )
            if admission.wait_s is not None:
                retry = str(max(1, math.ceil(admission.wait_s))).encode()
                text = "Too many login attempts from this address; try again later."
                await _plain(send, 429, text, [(b"retry-after", retry)])
                return
            window = admission.window
        statuses: list[int] = []

        async def guarded_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                statuses.append(int(message["status"]))
                message["headers"] = self._headers(message.get("headers", []))
            await send(message)

        await self.app(scope, receive, guarded_send)
        if window is not None and statuses == [200]:
            await (await self.throttle()).refund_address(_address.get(), window)

    def _headers(self, headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
        out: list[tuple[bytes, bytes]] = []
        present: set[bytes] = set()
        for key, value in headers:
            name = key.lower()
            present.add(name)
            if self.secure and name == b"set-cookie" and not _has_secure(value):
                value += b"; Secure"
            out.append((key, value))
        out += [(k, v) for k, v in _FRAMING if k not in present]
        return out


def _has_secure(cookie: bytes) -> bool:
    return any(part.strip().lower() == b"secure" for part in cookie.split(b";")[1:])


async def _plain(send: Send, status: int, text: str, headers: list[tuple[bytes, bytes]]) -> None:
    body = text.encode()
    await send({
        "type": "http.response.start", "status": status,
        "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                    (b"content-length", str(len(body)).encode()), *headers, *_FRAMING],
    })  # fmt: skip
    await send({"type": "http.response.body", "body": body})
