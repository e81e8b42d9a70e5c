"""GitHub sign-in in a real browser (Debian's Chromium): `kriptik serve` with GitHub OAuth
pointed at the GitHub fake, driven through the login page's "Continue with GitHub"
button, the fake's authorize redirect and Chainlit's callback. An account on the
allow-list reaches the chat; one that is not is sent back to the login page with a
refusal that says what to do, and no account is made for it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy import select

from tests.services.kriptik import Server, serve
from tools.simulator.all import FakeStack
from tools.simulator.github import OAUTH_CLIENT_ID, GitHubUser
from tools.simulator.github_oauth import OAUTH_CLIENT_SECRET
from vault import Settings, Vault
from vault.models import User

pytestmark = pytest.mark.browser
SLOW_MS = 90_000
ALLOWED = GitHubUser(login="allowed-gh", id=6101, scopes=None)
STRANGER = GitHubUser(login="stranger-gh", id=6202, scopes=None)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, fake_stack: FakeStack) -> Iterator[Server]:
    github = fake_stack.url("github")
    home = tmp_path_factory.mktemp("oauth") / "home"
    with serve(
        home,
        KRIPTIK_GITHUB_WEB_BASE_URL=github,
        KRIPTIK_GITHUB_API_BASE_URL=github,
        KRIPTIK_GITHUB_OAUTH_CLIENT_ID=OAUTH_CLIENT_ID,
        KRIPTIK_GITHUB_OAUTH_CLIENT_SECRET=OAUTH_CLIENT_SECRET,
        KRIPTIK_GITHUB_ALLOWED_USERS=f"someone-else,{ALLOWED.login}",
    ) as running:
        yield running


async def _continue_with_github(browser: Browser, server: Server) -> Page:
    page = await browser.new_page(viewport={"width": 1280, "height": 800})
    await page.goto(server.url)
    await page.get_by_role("button", name="Continue with GitHub").click()
    return page


async def _github_users(server: Server) -> list[tuple[str, int | None]]:
    vault = await Vault.open(Settings(home=Path(server.log_path).parent / "home"))
    try:
        async with vault.sessions() as session:
            rows = await session.execute(
                select(User.name, User.github_id).where(User.github_id.is_not(None))
            )
            return [(name, github_id) for name, github_id in rows]
    finally:
        await vault.close()


async def test_an_allowed_account_signs_in(
    browser: Browser, server: Server, fakes: FakeStack
) -> None:
    fakes.github.sign_in_as(ALLOWED)
    page = await _continue_with_github(browser, server)
    # Generous: the first sign-in also starts the app's services on a shared CI machine.
    await page.wait_for_url(lambda url: "/login" not in url, timeout=SLOW_MS)
    await expect(page.locator("#chat-input")).to_be_visible(timeout=SLOW_MS)
    asked = [c.query for c in fakes.github.calls_to("GET /login/oauth/authorize")]
    assert dict(asked[0])["scope"] == "read:user"  # no org on the list: no read:org
    assert ("github.allowed-gh", ALLOWED.id) in await _github_users(server)
    await page.close()


async def test_an_account_not_on_the_allow_list_is_refused_with_the_next_step(
    browser: Browser, server: Server, fakes: FakeStack
) -> None:
    fakes.github.sign_in_as(STRANGER)
    page = await _continue_with_github(browser, server)
    await page.wait_for_url("**/login?error=githubNotInvited", timeout=SLOW_MS)
    refusal = page.get_by_text("This GitHub account is not invited to this KripTik")
    await expect(refusal).to_be_visible()
    await expect(refusal).to_contain_text("kriptik users invite --github")
    await expect(page.locator("#chat-submit")).to_have_count(0)
    assert fakes.github.calls_to("POST /login/oauth/access_token")  # GitHub vouched for them
    assert all(github_id != STRANGER.id for _, github_id in await _github_users(server))
    await page.close()
