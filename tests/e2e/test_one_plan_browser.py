"""One source of truth for the plan, in a real browser (headless Chromium) against the
simulator: the provider simulator and the simulated assistant (`DemoStack`) behind
`kriptik serve`, with the cheapest 24 GB pool out of stock at RunPod.

A deploy turn reaches its approval card; the card, the VRAM chart beside it and the
`kriptik deploy` plan printed by the CLI (same home, same simulated RunPod) must name the
same pool at the same price, and the card and the CLI must say why it is not the cheapest.
A screenshot of the card and the chart is saved in tests/e2e/artifacts/one-plan.png.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.async_api import Browser, Locator, Page, expect

from tests.e2e.chat_page import asking, ready
from tests.e2e.harness import ARTIFACTS
from tests.services.kriptik import Server, cli_env, kriptik, serve
from tools.simulator.demo import DemoStack

pytestmark = pytest.mark.browser
_LONG = 120_000  # ms: sizing and planning run against the simulator end to end
REPO = "Qwen/Qwen2.5-7B-Instruct"
# What every view must say: AMPERE_24 is the cheapest pool that holds the model at the
# plan's context, and the simulated RunPod reports none of its cards in stock.
POOL = "24 GB PRO (ADA_24)"
PRICE = "$1.12/h"
WHY = "24 GB (AMPERE_24) has no capacity now; using 24 GB PRO (ADA_24) at $1.12/h"


@dataclass
class World:
    demo: DemoStack
    server: Server
    env: dict[str, str]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    demo = DemoStack().start()
    demo.providers.runpod.state.no_capacity = {"AMPERE_24"}
    demo.providers.runpod.state.ready_after = 0
    home = tmp_path_factory.mktemp("one-plan") / "home"
    env = {f"KRIPTIK_{name.upper()}": str(value) for name, value in demo.settings_fields().items()}
    # A 24 h time-to-live of a $1.12/h worker is above the default per-deployment cap; this
    # test is about the plan's pool and price, not the budget, so the operator raises it.
    env |= {"KRIPTIK_DEPLOYMENT_CAP_USD": "100", "HF_HUB_OFFLINE": "0"}
    try:
        with serve(home, **env) as server:
            yield World(demo, server, cli_env(home, **env))
    finally:
        demo.stop()


async def _log_in(page: Page, world: World) -> None:
    await page.goto(world.server.url)
    await expect(page).to_have_url(f"{world.server.url}/login")
    await page.get_by_label("User name").fill("admin")
    await page.get_by_label("Password").fill(world.server.admin_password)
    await page.get_by_label("Password").press("Enter")
    await ready(page)


async def _enter_runpod_key(page: Page, world: World) -> None:
    await asking(page)  # the field takes a key only once its question is pending
    field = page.get_by_label("RunPod API key")
    await expect(field).to_be_visible(timeout=_LONG)
    await field.fill(world.demo.keys["runpod"])
    await field.press("Enter")


async def _shot(page: Page, card: Locator, chart: Locator) -> Path:
    """One picture holding the card and the chart, from their boxes on the page."""
    await chart.scroll_into_view_if_needed()
    boxes = [await x.bounding_box() for x in (chart, card)]
    assert all(boxes), "the card and the chart are both on screen"
    left = min(b["x"] for b in boxes if b)
    top = min(b["y"] for b in boxes if b)
    right = max(b["x"] + b["width"] for b in boxes if b)
    bottom = max(b["y"] + b["height"] for b in boxes if b)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / "one-plan.png"
    await page.screenshot(
        path=str(path), animations="disabled",
        clip={"x": left - 8, "y": top - 8, "width": right - left + 16, "height": bottom - top + 16},
    )  # fmt: skip
    return path


async def test_the_card_the_chart_and_the_cli_name_one_pool_at_one_price(
    browser: Browser, world: World
) -> None:
    page = await browser.new_page(viewport={"width": 1280, "height": 2400})
    await _log_in(page, world)
    await page.locator("#chat-input").fill(f"Deploy {REPO} as an API I can call")
    await page.keyboard.press("Enter")
    await _enter_runpod_key(page, world)

    card = page.locator("section[aria-label^='Approval:']")
    await expect(card).to_be_visible(timeout=_LONG)
    await asking(page)  # the approval waits: nothing on the page changes any more
    facts = {
        await row.locator("dt").inner_text(): await row.locator("dd").inner_text()
        for row in await card.locator(".kt-fact").all()
    }
    assert facts["GPU pool"] == f"{POOL} x 1 GPU"
    assert facts["Pool choice"] == WHY
    assert facts["Running"] == "$1.12/hour per worker while it runs"
    assert "8,192-token context" in facts["VRAM"]

    # The chart was drawn anew from the plan the card shows: same pool, price, context.
    chart = page.locator("figure[aria-label*='needs about']").last
    await expect(chart).to_contain_text("From the deployment plan on the approval card")
    await expect(chart).to_have_attribute(
        "aria-label", re.compile(re.escape(f"Chosen: 1 x {POOL} at {PRICE} per worker"))
    )
    chosen = chart.locator(".kt-chosen")
    await expect(chosen).to_have_count(1)
    await expect(chosen).to_contain_text(POOL)
    await expect(chosen).to_contain_text(PRICE)
    full = chart.locator(".kt-chart-row", has_text="24 GB (AMPERE_24)")
    await expect(full).to_contain_text("no capacity now")
    await expect(chart).to_contain_text("8,192-token context")
    await expect(chart).to_contain_text(WHY)
    need = re.search(r"needs ([\d.]+) GiB", facts["VRAM"])
    assert need is not None
    await expect(chart.locator(".kt-badge")).to_have_text(f"{need.group(1)} GiB needed")
    # The assistant's own words do not call the full pool the cheapest choice either.
    await expect(page.get_by_text("holds it and has capacity now is ADA_24")).to_be_visible()
    shot = await _shot(page, card, chart)

    await page.get_by_role("button", name="Deny").click()
    await expect(page.get_by_text("Denied by admin")).to_be_visible()
    await ready(page)
    await page.close()

    # The CLI plans the same deployment for the same user: same pool, same price, same why.
    result = kriptik("deploy", REPO, "--user", "admin", env=world.env, timeout=180)
    assert result.returncode == 3, result.stdout + result.stderr  # planned, nothing created
    [plan] = [line for line in result.stdout.splitlines() if line.startswith("Plan: ")]
    assert f"on 1 x {POOL}," in plan and f"({PRICE})" in plan and WHY in plan
    assert shot.stat().st_size > 0
