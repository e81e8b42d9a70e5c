"""The chat in a real browser (Debian's Chromium), against the provider fakes and a
scripted LLM: log in, deploy from a starter while the reply streams, enter a planted key
in the secure field, approve the price, see the answer, reload, open /keys, /audit and
/usage, log out. Then prove the page talked only to the app and the key went nowhere."""

from __future__ import annotations

import re
from urllib.parse import urlparse

import pytest
from playwright.async_api import Browser, Locator, Page, expect

from tests.e2e.chat_page import THREAD_URL, asking, ready
from tests.e2e.harness import ARTIFACTS, App, planted_key
from tests.e2e.llm_script import DEPLOY_REPO, INTRO
from tools.onboarding import ONBOARDING

pytestmark = pytest.mark.browser
ASK_TIMEOUT_S = 180
FINAL = "That is all for now."


async def _shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    # Finished animations: the welcome screen fades in, and a shot taken mid-fade shows a
    # blank page that no user sees once it has settled.
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), animations="disabled")


async def _log_in(page: Page, app: App) -> None:
    await page.goto(app.url)
    # Signed out, the app sends the page on to /login (a new document): fill in that one.
    await expect(page).to_have_url(f"{app.url}/login")
    await page.get_by_label("User name").fill("admin")
    await page.get_by_label("Password").fill(app.server.admin_password)
    await page.get_by_label("Password").press("Enter")  # keyboard submit
    await ready(page)


async def _command(page: Page, name: str, shows: Locator) -> None:
    """Pick a slash command from the composer's menu, send it, and wait until what it
    shows is there and its task has ended (so its panel stays as it is)."""
    await ready(page)
    await page.locator("#chat-input").fill(f"/{name}")
    await page.get_by_role("option").filter(has_text=name).first.wait_for()
    await page.keyboard.press("Enter")  # choose it
    await page.keyboard.press("Enter")  # send it
    await expect(shows).to_be_visible()
    await ready(page)


async def test_login_page_is_labelled_and_local(browser: Browser, chat_app: App) -> None:
    page = await browser.new_page(viewport={"width": 1280, "height": 800})
    # The page itself moves on from / to /login (a new document), so the HTML is read
    # apart from it: the same bytes, from the same server.
    html = await (await page.request.get(chat_app.url)).text()
    assert "fonts.googleapis.com" not in html and "cdn.jsdelivr.net" not in html
    await page.goto(chat_app.url)
    await expect(page).to_have_url(f"{chat_app.url}/login")
    await expect(page.get_by_label("User name")).to_be_visible()
    await expect(page.get_by_label("Password")).to_be_visible()
    await _shot(page, "login")
    await page.close()


async def test_deploy_journey(browser: Browser, chat_app: App) -> None:
    key = planted_key()
    chat_app.add_runpod_key(key)
    page = await browser.new_page(viewport={"width": 1280, "height": 1000})
    hosts: set[str] = set()
    page.on("request", lambda request: hosts.add(urlparse(request.url).netloc))
    await _log_in(page, chat_app)
    await expect(page.get_by_text("Deploy Qwen2.5-7B-Instruct as an API")).to_be_visible()
    await _shot(page, "chat-empty")

    # The starter sends the deploy request; the reply streams in, word by word. The model
    # holds its last word until the page has shown the first ones.
    last_word = INTRO.split()[-1]
    held = chat_app.llm.hold(before=last_word)
    await page.get_by_text("Deploy Qwen2.5-7B-Instruct as an API").click()
    await expect(page).to_have_url(THREAD_URL)  # the chat moved to its thread's page
    await expect(page.get_by_text("I'll size")).to_be_visible()
    await expect(page.locator("body")).not_to_contain_text(last_word)
    await _shot(page, "streaming")
    held.release()
    await expect(page.get_by_text(INTRO)).to_be_visible()
    await expect(page.get_by_text(f"Estimated VRAM for {DEPLOY_REPO}")).to_be_visible()
    chart = page.locator("figure[aria-label*='needs about']")
    await expect(chart).to_be_visible()
    # The chart shades the band where the real peak is expected, and says GPUs are chosen
    # for its upper end.
    await expect(chart).to_have_attribute("aria-label", re.compile(r"GPU chosen for"))
    await expect(chart.locator(".kt-band").first).to_be_visible()
    await expect(chart).to_contain_text("GPU chosen for")

    # The secure key form: labelled, focused, with the onboarding links and scopes. It
    # takes a key only once the question is pending (and is mounted anew when it is).
    await asking(page)
    # Shot only now: Chainlit draws the custom elements anew when a question is asked, so
    # before it, the chart could be detached between finding it and shooting it.
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await chart.screenshot(path=str(ARTIFACTS / "vram-chart.png"), animations="disabled")
    field = page.get_by_label("RunPod API key")
    await expect(field).to_be_visible()
    await expect(field).to_be_focused()
    runpod = ONBOARDING["runpod"]
    await expect(page.get_by_role("link", name="Sign up")).to_have_attribute(
        "href", runpod.signup_url
    )
    keys_link = page.get_by_role("link", name="Open your RunPod key page")
    await expect(keys_link).to_have_attribute("href", runpod.keys_url)
    await expect(page.get_by_label("Permissions to tick")).to_contain_text(runpod.scopes[0])
    await _shot(page, "secret-form")
    await page.keyboard.type(key)
    await page.keyboard.press("Enter")  # keyboard submit
    await expect(
        page.get_by_text(f"RunPod key saved, ends in {key[-4:]}, validated")
    ).to_be_visible()

    # The approval card shows what will be created and its price; nothing runs before a click.
    card = page.locator("section[aria-label^='Approval:']")
    await expect(card).to_be_visible()
    for fact in ("Provider", "GPU pool", "VRAM", "Workers", "Running", "Idle", "1,000 requests"):
        await expect(card.get_by_text(fact, exact=True)).to_be_visible()
    await expect(card).to_contain_text(re.compile(r"needs [\d.]+ GiB \(expected .*GPU chosen for"))
    await expect(card).to_contain_text("$")
    approve = page.get_by_role("button", name="Approve")
    await expect(approve).to_be_visible()  # shown only while the question is pending
    await asking(page)
    await approve.scroll_into_view_if_needed()
    await _shot(page, "approval")
    await approve.click()
    await expect(page.get_by_text("Approved by admin")).to_be_visible()

    # The deployment runs (DBOS, against the RunPod fake) with live stages.
    progress = page.locator(f"section[aria-label='Deploying {DEPLOY_REPO}']")
    await expect(progress).to_be_visible(timeout=60_000)
    await expect(progress.get_by_label("Create the endpoint: done")).to_be_visible(timeout=60_000)
    await expect(progress).to_contain_text("Done", timeout=60_000)
    await expect(page.get_by_text(FINAL)).to_be_visible(timeout=60_000)
    await ready(page)  # the turn has ended: its messages and panels are drawn for good
    await page.get_by_text(FINAL).scroll_into_view_if_needed()
    await _shot(page, "final")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await progress.screenshot(path=str(ARTIFACTS / "progress.png"))

    # Reload: the thread comes back from the database, chart included.
    await page.reload()
    await expect(page.get_by_text(FINAL)).to_be_visible()
    await expect(page.get_by_text(INTRO)).to_be_visible()
    await expect(page.locator("figure[aria-label*='needs about']")).to_be_visible()
    await expect(progress).to_contain_text("Done")
    await _shot(page, "reloaded")

    panel = page.locator("section[aria-label='Your keys']")
    await _command(page, "keys", shows=panel)
    await expect(panel).to_contain_text(f"••••{key[-4:]}")
    await expect(panel).to_contain_text("Validated")
    await panel.get_by_role("button", name="Re-validate").click()
    await expect(panel.get_by_role("status")).not_to_be_empty()
    await _shot(page, "keys")

    audit = page.locator("section[aria-label='Audit transcript']")
    await _command(page, "audit", shows=audit)
    await expect(audit).to_contain_text("Chain intact")
    await expect(audit).to_contain_text("Got your RunPod key")
    await expect(audit).to_contain_text("approved by admin")
    await expect(page.get_by_text(".jsonl").last).to_be_visible()
    await _shot(page, "audit")

    await _command(page, "usage", shows=page.get_by_text("This chat:", exact=True))
    # The GPU endpoint's running cost is there too (never $0 where unknown).
    await expect(page.get_by_text("GPU, this chat:")).to_be_visible()

    # /deployments lists the endpoint with its idle cost; teardown takes a second click.
    running = page.locator("section[aria-label='Your deployments']")
    await _command(page, "deployments", shows=running)
    await expect(running).to_contain_text(DEPLOY_REPO)
    await expect(running).to_contain_text("Idle: $0.00/h (scales to zero)")
    await running.get_by_role("button", name="Tear down").click()
    await running.get_by_role("button", name="Tear down").click()  # the confirmation
    await expect(running.get_by_role("status")).to_contain_text("Removed", timeout=30_000)
    await expect(running).to_contain_text("Nothing is running.")
    await _shot(page, "deployments")

    await page.locator("#theme-toggle").click()
    await page.get_by_role("menuitem", name="Light").click()
    await _shot(page, "light")

    await page.locator("#user-nav-button").click()
    await page.get_by_role("menuitem", name="Logout").click()
    await expect(page.get_by_text("Sign in to KripTik AI")).to_be_visible()

    assert hosts == {urlparse(chat_app.url).netloc}, f"the page talked to {hosts}"
    assert chat_app.leaks(key) == []
    await page.close()
