"""An endpoint's lifetime in a real browser (Debian's Chromium) against `kriptik serve`: the
/deployments panel shows the warning the lifetime workflow left on a ready deployment
("Stops in 12 min: idle for 2 h"), and its Extend button gives the endpoint its full
time-to-live again, clears the warning, and writes an audit row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import Browser, Page, expect

from tests.e2e.chat_page import ready
from tests.e2e.harness import App
from tools.pipeline.lifetime import LIFETIME_THREAD
from vault import Settings, Vault
from vault.deployments import DeploymentCaps, DeploymentStore, DeploymentView

pytestmark = pytest.mark.browser


async def _warned_deployment(vault: Vault, user_id: str) -> DeploymentView:
    """A ready deployment as the lifetime workflow leaves it once it has warned: idle for
    1 h 48 min of its 2 h limit, warned 3 minutes ago."""
    store = DeploymentStore(vault.sessions)
    now = datetime.now(UTC)
    caps = DeploymentCaps.model_validate({"max_live": 5, "max_workers": 3, "max_gpus": 2})
    view = await store.create(
        user_id, caps=caps, repo_id="kriptik-test/idle-llm", revision="main",
        kind="vllm", name="kriptik-idle", gpu_pools=["ADA_24"], ttl_s=24 * 3600,
        idle_limit_s=2 * 3600,
    )  # fmt: skip
    return await store.update(
        view.id, state="ready", stage="ready", endpoint_id="ep-idle", ready_at=now,
        expires_at=now + timedelta(hours=20), last_active_at=now - timedelta(minutes=108),
        warned_at=now - timedelta(minutes=3),
    )  # fmt: skip


async def _log_in(page: Page, app: App) -> None:
    await page.goto(app.url)
    await expect(page).to_have_url(f"{app.url}/login")
    await page.get_by_label("User name").fill("admin")
    await page.get_by_label("Password").fill(app.server.admin_password)
    await page.get_by_label("Password").press("Enter")
    await ready(page)


async def test_the_panel_warns_before_the_endpoint_stops_and_extend_keeps_it(
    browser: Browser, chat_app: App
) -> None:
    vault = await Vault.open(Settings(home=chat_app.home), migrate=False)
    try:
        admin = await vault.users.get("admin")
        assert admin is not None
        view = await _warned_deployment(vault, admin.id)
        page = await browser.new_page(viewport={"width": 1280, "height": 1000})
        await _log_in(page, chat_app)
        await page.locator("#chat-input").fill("/deployments")
        await page.get_by_role("option").filter(has_text="deployments").first.wait_for()
        await page.keyboard.press("Enter")  # choose it
        await page.keyboard.press("Enter")  # send it
        panel = page.locator("section[aria-label='Your deployments']")
        warning = panel.locator(f"[data-expiry-warning='{view.id}']")
        await expect(warning).to_have_text("Stops in 12 min: idle for 2 h")
        await ready(page)

        await panel.get_by_role("button", name="Extend").click()
        await expect(panel.get_by_role("status")).to_contain_text("extended", timeout=30_000)
        await expect(warning).to_have_count(0)
        await expect(panel).to_contain_text("Stops by itself by")
        await page.close()

        row = await DeploymentStore(vault.sessions).get(view.id, user_id=admin.id)
        assert row.warned_at is None and row.state == "ready"
        assert row.expires_at is not None
        assert row.expires_at - datetime.now(UTC) > timedelta(hours=23)
        records = await vault.audit.records(thread_id=LIFETIME_THREAD, user_id=admin.id)
        assert [r.tool for r in records] == ["endpoint_extended"]
    finally:
        await vault.close()
