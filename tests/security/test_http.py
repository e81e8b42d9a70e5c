"""The chat app's HTTP surface, on a real `kriptik serve` behind an https public URL:

- CSRF and origin checks on every route Chainlit serves (the list is read from Chainlit
  itself, so a route added by an upgrade fails `test_every_route_is_classified` until it
  is looked at): CORS preflights from another origin get no grant, unsafe methods from
  another origin are refused, and the socket.io handshake refuses a foreign origin;
- login brute force: the per-address rate limit, and a stranger's wrong passwords never
  locking the owner out;
- cookie flags: HttpOnly, SameSite=Lax, Secure behind https; no framing by other sites;
- cross-user access to threads, over HTTP and the socket.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import socketio
from pydantic import SecretStr

from tests.e2e.chat_client import ChatClient
from tests.services.kriptik import Server, serve
from vault import Settings, Vault
from vault.logins import FREE_FAILURES

PUBLIC = "https://kriptik.test"
EVIL = "https://evil.example"
SIBLING = "https://evil.kriptik.test"  # same site, other origin
ATTEMPTS = 3
PASSWORD = "correct horse battery staple"
# Every route of Chainlit 2.12's app, as (method, path template): "public" routes answer
# anyone; the rest need a login. A new route fails the test below until it is classified.
ROUTES: dict[tuple[str, str], str] = {
    ("GET", "/public/{filename:path}"): "public", ("GET", "/assets/{filename:path}"): "public",
    ("GET", "/copilot/{filename:path}"): "public", ("GET", "/auth/config"): "public",
    ("POST", "/login"): "public", ("POST", "/logout"): "public", ("POST", "/auth/jwt"): "public",
    ("POST", "/auth/header"): "public", ("GET", "/auth/oauth/{provider_id}"): "public",
    ("GET", "/auth/oauth/{provider_id}/callback"): "public",
    ("POST", "/auth/oauth/azure-ad-hybrid/callback"): "public", ("GET", "/user"): "login",
    ("POST", "/set-session-cookie"): "public", ("GET", "/project/translations"): "public",
    ("GET", "/project/settings"): "login", ("PUT", "/feedback"): "login",
    ("DELETE", "/feedback"): "login", ("POST", "/project/threads"): "login",
    ("GET", "/project/thread/{thread_id}"): "login", ("GET", "/project/share/{thread_id}"): "login",
    ("GET", "/project/thread/{thread_id}/element/{element_id}"): "login",
    ("PUT", "/project/element"): "login", ("DELETE", "/project/element"): "login",
    ("PUT", "/project/thread"): "login", ("PUT", "/project/thread/share"): "login",
    ("DELETE", "/project/thread"): "login", ("POST", "/project/action"): "login",
    ("POST", "/mcp"): "login", ("DELETE", "/mcp"): "login", ("POST", "/project/file"): "login",
    ("GET", "/project/file/{file_id}"): "login", ("GET", "/favicon"): "public",
    ("GET", "/logo"): "public", ("GET", "/avatars/{avatar_id:str}"): "public",
    ("HEAD", "/"): "public", ("GET", "/health"): "public", ("GET", "/{full_path:path}"): "public",
    # FastAPI's generated API description and its viewers: read-only, no data.
    ("GET", "/openapi.json"): "public", ("HEAD", "/openapi.json"): "public",
    ("GET", "/docs"): "public", ("HEAD", "/docs"): "public", ("GET", "/redoc"): "public",
    ("HEAD", "/redoc"): "public", ("GET", "/docs/oauth2-redirect"): "public",
    ("HEAD", "/docs/oauth2-redirect"): "public",
}  # fmt: skip
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", lambda m: "x" if "path" not in m.group(0) else "a/b", path)


class Client(ChatClient):
    """The test suite's chat client, sending the origin the app is published at."""

    origin = PUBLIC

    async def login(self) -> None:
        async with httpx.AsyncClient(base_url=self.url) as http:
            reply = await http.post("/login", headers={"Origin": self.origin},
                                    data={"username": self.username, "password": self.password})  # fmt: skip
            reply.raise_for_status()
            self._token = reply.cookies["access_token"]

    async def connect(self, *, thread_id: str | None = None) -> None:
        if not self._token:
            await self.login()
        self.sio = self._client()
        await self.sio.connect(
            self.url, socketio_path="/ws/socket.io", transports=["websocket"],
            headers={"Cookie": f"access_token={self._token}", "Origin": self.origin},
            auth={"clientType": "webapp", "sessionId": self.session_id, "threadId": thread_id,
                  "userEnv": "{}"},
        )  # fmt: skip
        await self.sio.emit("connection_successful")

    def http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.url, headers={"Origin": self.origin},
            cookies={"access_token": self._token},
        )  # fmt: skip


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("http") / "home"
    with serve(home, KRIPTIK_PUBLIC_URL=PUBLIC,
               KRIPTIK_LOGIN_ATTEMPTS_PER_ADDRESS=str(ATTEMPTS)) as running:  # fmt: skip
        asyncio.run(_add_users(home, ["ann", "bob", "carol"]))
        yield running


async def _add_users(home: Path, names: list[str]) -> None:
    vault = await Vault.open(Settings(home=home))
    try:
        for name in names:
            await vault.users.create(name, SecretStr(PASSWORD))
    finally:
        await vault.close()


_ADDRESSES = itertools.count(1)


def _forwarded() -> dict[str, str]:
    """A new client address each call (uvicorn trusts X-Forwarded-For from loopback, as it
    would from a reverse proxy named in FORWARDED_ALLOW_IPS)."""
    return {"X-Forwarded-For": f"198.51.100.{next(_ADDRESSES)}"}


@pytest.fixture
async def admin(server: Server) -> AsyncIterator[Client]:
    client = Client(server.url, "admin", server.admin_password)
    await client.login()
    yield client


def test_every_route_is_classified() -> None:
    from chainlit.server import app

    seen = {
        (method, route.path)  # type: ignore[attr-defined]
        for route in app.routes
        for method in getattr(route, "methods", None) or ()
    }
    assert seen <= set(ROUTES), f"classify these routes in ROUTES: {sorted(seen - set(ROUTES))}"


async def test_preflights_from_other_origins_get_no_grant(server: Server, admin: Client) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        for (method, path), _ in ROUTES.items():
            for origin, granted in (
                (EVIL, False),
                (SIBLING, False),
                ("null", False),
                (PUBLIC, True),
            ):
                answer = await http.options(concrete(path), headers={
                    "Origin": origin, "Access-Control-Request-Method": method,
                    "Access-Control-Request-Headers": "content-type"})  # fmt: skip
                allowed = answer.headers.get("access-control-allow-origin")
                assert (allowed == origin) is granted, (method, path, origin, allowed)
                assert allowed != "*"


async def test_unsafe_methods_from_other_origins_are_refused(server: Server, admin: Client) -> None:
    async with admin.http() as http:
        for (method, path), _ in ROUTES.items():
            if method not in UNSAFE:
                continue
            for header in ({"Origin": EVIL}, {"Origin": SIBLING}, {"Origin": "null"},
                           {"Referer": f"{EVIL}/page"}, {"Origin": "http://kriptik.test"}):  # fmt: skip
                answer = await http.request(method, concrete(path), headers={"Origin": "", **header},
                                            json={})  # fmt: skip
                assert answer.status_code == 403, (method, path, header, answer.status_code)
                assert answer.text == "Cross-origin request refused."
            own = await http.request(method, concrete(path), json={})
            assert own.text != "Cross-origin request refused.", (method, path)


async def test_the_socket_handshake_refuses_a_foreign_origin(server: Server, admin: Client) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        polling = "/ws/socket.io/?EIO=4&transport=polling"
        for origin in (EVIL, SIBLING, "null"):
            answer = await http.get(polling, headers={"Origin": origin,
                                                      "Cookie": f"access_token={admin._token}"})  # fmt: skip
            assert answer.status_code in {400, 403}, (origin, answer.status_code, answer.text)
        assert (await http.get(polling, headers={"Origin": PUBLIC})).status_code == 200
    for origin in (EVIL, SIBLING):
        intruder = Client(server.url, "admin", server.admin_password)
        intruder.origin, intruder._token = origin, admin._token
        with pytest.raises(socketio.exceptions.ConnectionError):
            await intruder.connect()
    await admin.connect()  # the app's own origin connects
    await admin.disconnect()


async def test_login_cookie_flags_and_framing(server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.url, headers=_forwarded()) as http:
        answer = await http.post("/login", headers={"Origin": PUBLIC},
                                 data={"username": "admin", "password": "wrong-password-1"})  # fmt: skip
        assert answer.status_code == 401
        page = await http.get("/")
    assert page.headers["x-frame-options"] == "SAMEORIGIN"
    assert "frame-ancestors 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"


async def test_the_session_cookie_is_httponly_samesite_and_secure(server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.url, headers=_forwarded()) as http:
        answer = await http.post("/login", headers={"Origin": PUBLIC},
                                 data={"username": "ann", "password": PASSWORD})  # fmt: skip
    assert answer.status_code == 200
    cookie = next(v for v in answer.headers.get_list("set-cookie") if v.startswith("access_token="))
    flags = {
        part.strip().lower().split("=")[0]: part.strip().lower() for part in cookie.split(";")[1:]
    }
    assert "httponly" in flags and flags["samesite"] == "samesite=lax" and "secure" in flags
    assert "access_token" not in answer.text  # the token is only in the HttpOnly cookie


async def test_logins_from_one_address_are_rate_limited(server: Server) -> None:
    address = _forwarded()
    async with httpx.AsyncClient(base_url=server.url, headers={"Origin": PUBLIC}) as http:
        for n in range(ATTEMPTS):
            wrong = await http.post("/login", headers=address,
                                    data={"username": f"nobody{n}", "password": "guess-guess-1"})  # fmt: skip
            assert wrong.status_code == 401
        blocked = await http.post("/login", headers=address,
                                  data={"username": "carol", "password": PASSWORD})  # fmt: skip
        assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0
        other = _forwarded()
        assert address != other
        for _ in range(ATTEMPTS + 1):  # successes do not count against an address
            ok = await http.post(
                "/login", headers=other, data={"username": "carol", "password": PASSWORD}
            )
            assert ok.status_code == 200


async def test_a_strangers_wrong_passwords_do_not_lock_the_owner_out(server: Server) -> None:
    """The stranger's address is slowed (tests/security/test_login.py shows the delay);
    the owner, at their own address, logs in at once."""
    await _add_users(
        Path(server.log_path).parent / "home", [target := f"dave{uuid.uuid4().hex[:6]}"]
    )
    stranger = _forwarded()
    async with httpx.AsyncClient(base_url=server.url, headers={"Origin": PUBLIC}) as http:
        for _ in range(min(FREE_FAILURES, ATTEMPTS)):
            wrong = await http.post("/login", headers=stranger,
                                    data={"username": target, "password": "guess-guess-1"})  # fmt: skip
            assert wrong.status_code == 401
        right = await http.post("/login", headers=_forwarded(),
                                data={"username": target, "password": PASSWORD})  # fmt: skip
        assert right.status_code == 200


async def _thread_of(client: Client) -> tuple[str, str]:
    """Send a message and wait until its thread is stored (no model key is set, so the app
    asks for one; the question is left open). Returns (thread id, id of a stored step)."""
    await client.connect()
    await client.send("hello")
    _, first = await client.wait_for(lambda event: event[0] == "first_interaction")
    thread_id = str(first["thread_id"])
    async with client.http() as http:
        deadline = time.monotonic() + 60
        while True:
            answer = await http.get(f"/project/thread/{thread_id}")
            if answer.status_code == 200 and answer.json()["steps"]:
                return thread_id, str(answer.json()["steps"][0]["id"])
            assert time.monotonic() < deadline, "the thread was never stored"
            await asyncio.sleep(0.1)  # polling the server's stored state


async def test_another_user_cannot_read_rename_delete_or_join_a_thread(server: Server) -> None:
    ann, bob = Client(server.url, "ann", PASSWORD), Client(server.url, "bob", PASSWORD)
    thread_id, _ = await _thread_of(ann)
    await bob.login()
    async with bob.http() as http:
        assert (await http.get(f"/project/thread/{thread_id}")).status_code in {401, 403, 404}
        assert (await http.get(f"/project/thread/{thread_id}/element/x")).status_code in {
            401,
            403,
            404,
        }
        assert (await http.get(f"/project/share/{thread_id}")).status_code in {401, 403, 404}
        listed = await http.post("/project/threads", json={
            "pagination": {"first": 50}, "filter": {"userId": "ignored"}})  # fmt: skip
        assert listed.status_code == 200
        assert thread_id not in {t["id"] for t in listed.json()["data"]}
        renamed = await http.put("/project/thread", json={"threadId": thread_id, "name": "pwned"})
        deleted = await http.request("DELETE", "/project/thread", json={"threadId": thread_id})
        assert renamed.status_code in {401, 403, 404} and deleted.status_code in {401, 403, 404}
    with pytest.raises(socketio.exceptions.ConnectionError):
        await bob.connect(thread_id=thread_id)
    async with ann.http() as http:
        kept = await http.get(f"/project/thread/{thread_id}")
    assert kept.status_code == 200 and kept.json()["name"] != "pwned"
    await ann.disconnect()


async def test_another_user_cannot_leave_feedback_on_a_thread(server: Server) -> None:
    ann, bob = Client(server.url, "ann", PASSWORD), Client(server.url, "bob", PASSWORD)
    thread_id, step_id = await _thread_of(ann)
    await bob.login()
    async with bob.http() as http:
        answer = await http.put("/feedback", json={
            "sessionId": str(uuid.uuid4()),
            "feedback": {"forId": step_id, "threadId": thread_id, "value": 0, "comment": "bob was here"},
        })  # fmt: skip
    async with ann.http() as http:
        thread = (await http.get(f"/project/thread/{thread_id}")).json()
    await ann.disconnect()
    votes = [s.get("feedback") for s in thread["steps"] if s.get("feedback")]
    assert answer.status_code in {401, 403, 404} or not votes, votes


async def test_a_thread_id_on_another_users_records_cannot_be_joined(server: Server) -> None:
    """Chainlit lets a socket take any thread id that has no chat thread. One whose id is on
    another user's audit rows (a chat its owner deleted; a `kriptik chat` conversation) is
    refused, so nothing read by thread id can reach the wrong user."""
    thread_id = str(uuid.uuid4())
    vault = await Vault.open(Settings(home=Path(server.log_path).parent / "home"))
    try:
        ann = await vault.users.get("ann")
        assert ann is not None
        await vault.audit.record_tool(
            thread_id=thread_id, user_id=ann.id, tool="check_credential", tool_call_id="c1",
            args={"provider": "runpod"}, outcome="success", summary="ann's key is valid",
        )  # fmt: skip
    finally:
        await vault.close()
    bob = Client(server.url, "bob", PASSWORD)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await bob.connect(thread_id=thread_id)
    owner = Client(server.url, "ann", PASSWORD)
    await owner.connect(thread_id=thread_id)  # her own records: the id stays hers to use
    await owner.disconnect()
