"""`kriptik serve` as a user meets it: first-run admin, login, origin checks, and the
login page in a real browser."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import expect

from tests.conftest import need_service
from tests.e2e.chat_page import asking, ready
from tests.services import browser
from tests.services.kriptik import Server, serve

SCREENSHOTS = Path(__file__).resolve().parents[2] / "out" / "screenshots"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("serve") / "home"
    with serve(home) as running:
        yield running


def test_first_run_creates_admin_and_prints_the_password_once(server: Server) -> None:
    assert len(server.admin_password) >= 20
    home = Path(server.log_path).parent / "home"
    assert stat.S_IMODE((home / "master.key").stat().st_mode) == 0o600
    database = (home / "kriptik.db").read_bytes()
    assert server.admin_password.encode() not in database
    assert b"$argon2id$" in database


def test_login_works_at_once_with_the_printed_password(server: Server) -> None:
    ok = httpx.post(
        f"{server.url}/login", data={"username": "admin", "password": server.admin_password}
    )
    assert ok.status_code == 200
    assert "access_token" in ok.cookies
    bad = httpx.post(
        f"{server.url}/login", data={"username": "admin", "password": "wrong-password"}
    )
    assert bad.status_code == 401
    config = httpx.get(f"{server.url}/auth/config").json()
    assert config["passwordAuth"] is True and config["oauthProviders"] == []


def test_other_origins_are_not_allowed(server: Server) -> None:
    evil = httpx.options(
        f"{server.url}/login",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert evil.headers.get("access-control-allow-origin") != "https://evil.example"
    own = httpx.options(
        f"{server.url}/login",
        headers={"Origin": server.url, "Access-Control-Request-Method": "POST"},
    )
    assert own.headers.get("access-control-allow-origin") == server.url


@pytest.mark.browser
async def test_login_page_in_chromium(server: Server) -> None:
    if not browser.available():
        need_service("Chromium", "install Debian's `chromium` package")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    async with browser.chromium() as chromium:
        page = await chromium.new_page(viewport={"width": 1280, "height": 800})
        await page.goto(server.url)
        await expect(page).to_have_url(f"{server.url}/login")  # signed out: sent on
        await expect(page.get_by_text("Sign in to KripTik AI")).to_be_visible()
        await page.screenshot(path=str(SCREENSHOTS / "login.png"))
        await page.locator("#email").fill("admin")
        await page.locator("#password").fill(server.admin_password)
        await page.get_by_role("button", name="Sign In").click()
        await ready(page)
        await page.locator("#chat-input").fill("hello")
        submit = page.locator("#chat-submit")
        await expect(submit).to_be_enabled()
        await submit.click()
        # With no OpenRouter key the chat asks for one in the secure field; cancelling it
        # (once the question is pending: before, the field has nobody to answer) leaves
        # the notice that says how to add one.
        await asking(page)
        await expect(page.get_by_label("OpenRouter API key")).to_be_visible()
        await page.get_by_role("button", name="Cancel").click()
        await expect(page.get_by_text("To chat I need an OpenRouter API key")).to_be_visible()
        await page.screenshot(path=str(SCREENSHOTS / "chat-no-key.png"))


def test_github_login_is_offered_when_configured(tmp_path: Path) -> None:
    with serve(
        tmp_path / "home",
        KRIPTIK_GITHUB_OAUTH_CLIENT_ID="Iv1.test",
        KRIPTIK_GITHUB_OAUTH_CLIENT_SECRET="oauth-client-secret-value",
    ) as server:
        config = httpx.get(f"{server.url}/auth/config").json()
        assert config["oauthProviders"] == ["github"]
        start = httpx.get(f"{server.url}/auth/oauth/github")
        assert start.status_code in {302, 307}
        location = start.headers["location"]
        assert location.startswith("https://github.com/login/oauth/authorize")
        assert "client_id=Iv1.test" in location
        assert "oauth-client-secret-value" not in location + server.log()
