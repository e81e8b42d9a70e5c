"""`ui.web.http_guard.HttpGuard` in process, on a small ASGI app: the origin check, the
per-address login limit and its window (counted in a SQLite vault, with a fake clock),
cookie flags for http and https public URLs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket, WebSocketDisconnect

from tests.conftest import new_master_key
from ui.web.http_guard import HttpGuard, client_address, origin_of
from vault import Settings, Vault
from vault.logins import LoginThrottle


async def _login(request: Request) -> Response:
    form = await request.form()
    if form.get("password") == "whoami":  # what the login callback reads as the address
        return JSONResponse({"address": client_address()}, status_code=401)
    if form.get("password") != "right":
        return JSONResponse({"detail": "no"}, status_code=401)
    response = JSONResponse({"ok": True})
    # The way Chainlit sets its cookie (SameSite=Lax: Secure only with SameSite=None).
    response.set_cookie("access_token", "t", httponly=True, samesite="lax", secure=False)
    return response


async def _echo(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text("hi")
    await websocket.close()


def _app() -> Starlette:
    return Starlette(routes=[
        Route("/login", _login, methods=["POST"]),
        Route("/thing", lambda r: JSONResponse({}), methods=["GET", "PUT", "DELETE"]),
        WebSocketRoute("/ws", _echo),
    ])  # fmt: skip


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def throttle(tmp_path: Path, clock: Clock) -> AsyncIterator[LoginThrottle]:
    settings = Settings(home=tmp_path / "home", master_key=SecretStr(new_master_key()))
    vault = await Vault.open(settings)
    yield LoginThrottle(vault.sessions, clock=clock)
    await vault.close()


@pytest.fixture
def client(throttle: LoginThrottle):
    def make(url: str, attempts: int = 3) -> httpx.AsyncClient:
        async def shared() -> LoginThrottle:
            return throttle

        guard = HttpGuard(_app(), app_url=url, attempts=attempts, window_s=60, throttle=shared)
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=guard), base_url="http://app")

    return make


@pytest.mark.parametrize(
    ("url", "expected"),
    [("https://Kriptik.TEST:443/x", "https://kriptik.test"), ("http://h:80", "http://h"),
     ("http://h:8000/", "http://h:8000"), ("null", None), ("", None), ("//h", None)],
)  # fmt: skip
def test_origins_are_normalised(url: str, expected: str | None) -> None:
    assert origin_of(url) == expected


async def test_unsafe_methods_need_the_own_origin_or_none(client) -> None:
    async with client("https://kriptik.test") as http:
        assert (
            await http.put("/thing", headers={"Origin": "https://kriptik.test"})
        ).status_code == 200
        assert (await http.put("/thing")).status_code == 200  # no browser, no ambient cookie
        assert (
            await http.get("/thing", headers={"Origin": "https://evil.example"})
        ).status_code == 200
        for headers in ({"Origin": "https://evil.example"}, {"Origin": "null"},
                        {"Referer": "https://evil.example/x"}, {"Origin": "http://kriptik.test"}):  # fmt: skip
            assert (await http.delete("/thing", headers=headers)).status_code == 403


async def _no_logins() -> LoginThrottle:
    raise AssertionError("no login is made here")


def test_websocket_upgrades_from_other_origins_are_closed() -> None:
    guard = HttpGuard(_app(), app_url="https://kriptik.test", throttle=_no_logins)
    with TestClient(guard) as client:
        with client.websocket_connect("/ws", headers={"Origin": "https://kriptik.test"}) as ws:
            assert ws.receive_text() == "hi"
        with pytest.raises(WebSocketDisconnect):
            with client.websocket_connect("/ws", headers={"Origin": "https://evil.example"}):
                pass


async def test_login_attempts_per_address_are_limited_per_window(client, clock: Clock) -> None:
    async with client("http://app", attempts=3) as http:
        answer = await http.post("/login", data={"password": "whoami"})
        assert answer.json() == {"address": "127.0.0.1"}  # handed to the login callback
        for _ in range(2):
            assert (await http.post("/login", data={"password": "x"})).status_code == 401
        blocked = await http.post("/login", data={"password": "right"})
        assert blocked.status_code == 429 and blocked.headers["retry-after"] == "60"
        clock.advance(30)
        assert (await http.post("/login", data={"password": "x"})).headers["retry-after"] == "30"
        clock.advance(31)  # the window is over
        for _ in range(5):  # successes are refunded: they never fill the window
            assert (await http.post("/login", data={"password": "right"})).status_code == 200
        assert (await http.post("/login", data={"password": "x"})).status_code == 401


@pytest.mark.parametrize(
    ("url", "secure"), [("https://kriptik.test", True), ("http://127.0.0.1:8000", False)]
)
async def test_cookies_are_secure_exactly_behind_https(client, url: str, secure: bool) -> None:
    async with client(url) as http:
        answer = await http.post("/login", data={"password": "right"})
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert ("; secure" in cookie) is secure
    assert answer.headers["x-frame-options"] == "SAMEORIGIN"
