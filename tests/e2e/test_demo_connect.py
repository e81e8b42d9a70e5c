"""`kriptik demo` in a real browser, connecting accounts instead of pasting keys: the demo
registers the simulated providers' apps, so a newcomer's GitHub and Vercel cards offer
Connect. GitHub goes through its App's web flow (the demo's registry needs no GHCR
scope) and Vercel through "Sign in with Vercel", each in a new tab that the simulated
provider approves; only RunPod's key (RunPod has no OAuth) is pasted. The deploy starter
then ends with the app live, and the keys panel says how each account was connected."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.async_api import Browser, Page, expect

from tests.e2e.chat_page import asking, ready
from tests.e2e.harness import ARTIFACTS
from tests.e2e.test_demo_starters import Demo, log_in, running_demo

pytestmark = pytest.mark.browser
_LONG = 120_000  # ms: the deploy runs the durable pipeline end to end (simulated)
_TITLES = {"GitHub API key": "GitHub", "Vercel API key": "Vercel", "RunPod API key": "RunPod"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """A demo of this module's own: its admin has no keys yet."""
    with running_demo(tmp_path_factory.mktemp("demo-connect")) as running:
        yield running


async def _connect(page: Page, title: str) -> None:
    """Press Connect on the key card, open the provider from the flow card in a new tab
    (as a person would), and wait for the card to say connected."""
    card = page.locator("form.kt-card").filter(has_text=f"Add your {title} key")
    await card.get_by_role("button", name=f"Connect {title}").click()
    flow = page.locator(f"section[aria-label='Connect {title}']").last
    async with page.context.expect_page() as opened:
        await flow.get_by_role("link", name=f"Open {title}").click()
    tab = await opened.value
    await expect(tab.get_by_role("heading")).to_have_text("Connected. You can close this tab.")
    await tab.close()
    await expect(flow).to_have_attribute("data-state", "connected", timeout=_LONG)


async def _answer(page: Page, demo: Demo, final: re.Pattern[str]) -> list[str]:
    """Paste RunPod's key, connect GitHub and Vercel, approve every card, until `final`."""
    answered: list[str] = []
    key_field = page.locator("input[type=password]:not([disabled])")
    approve = page.get_by_role("button", name="Approve")
    done = page.get_by_text(final).last
    while True:
        await key_field.or_(approve).or_(done).first.wait_for(timeout=_LONG)
        if await done.is_visible():
            await ready(page)
            return answered
        if await approve.count() and await approve.first.is_visible():
            await approve.first.click()
            approvals = answered.count("approval")
            await expect(page.get_by_text("Approved by admin").nth(approvals)).to_be_visible()
            answered.append("approval")
            continue
        await asking(page)
        field_id = await key_field.first.get_attribute("id")
        title = _TITLES[(await page.locator(f"label[for='{field_id}']").inner_text()).strip()]
        if title == "RunPod":
            await key_field.first.fill(demo.keys["runpod"])
            await key_field.first.press("Enter")
        else:
            await _connect(page, title)
        await expect(page.locator(f"[id='{field_id}']")).to_have_count(0, timeout=_LONG)
        answered.append(title)


async def test_a_newcomer_connects_github_and_vercel_and_gets_the_app(
    browser: Browser, demo: Demo
) -> None:
    page = await browser.new_page(viewport={"width": 1280, "height": 1000})
    await log_in(page, demo)
    await page.get_by_text("Deploy Qwen2.5-7B-Instruct as an API").click()
    answered = await _answer(page, demo, re.compile(r"Your app is live|its check failed"))
    assert answered.count("approval") == 3
    assert [a for a in answered if a != "approval"] == ["RunPod", "GitHub", "Vercel"]
    await expect(page.get_by_text("Your app is live")).to_be_visible()
    await expect(page.get_by_text(re.compile(r"App: https://[\w-]+\.vercel\.app"))).to_be_visible()

    await page.locator("#chat-input").fill("/keys")
    await page.get_by_role("option").filter(has_text="keys").first.wait_for()
    await page.keyboard.press("Enter")  # choose the command
    await page.keyboard.press("Enter")  # send it
    panel = page.locator("section[aria-label='Your keys']")
    await expect(panel.locator("[data-provider='github']")).to_contain_text("Connected via")
    await expect(panel.locator("[data-provider='vercel']")).to_contain_text("Connected via")
    await ready(page)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "demo-connect.png"), animations="disabled")
    await page.close()
