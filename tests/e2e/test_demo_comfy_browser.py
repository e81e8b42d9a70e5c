"""`kriptik demo` in a real browser, with a ComfyUI workflow: the user attaches the SDXL
fixture to a message (Chainlit's attach button), the analysis card shows its checkpoint
resolved on the Hub, its inputs and the GPU memory; the endpoint's card is approved and the
web app follows. A file that is not a workflow is refused in the chat, before the agent
runs. Screenshots: tests/e2e/artifacts/demo-comfy-card.png, demo-comfy-done.png."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from tests.comfy.fixtures import SDXL
from tests.e2e.harness import ARTIFACTS
from tests.e2e.test_demo_starters import Demo, _answer_until_idle, log_in, running_demo  # pyright: ignore[reportPrivateUsage]

pytestmark = pytest.mark.browser
_LONG = 120_000
_FIXTURE = Path(__file__).parents[1] / "comfy" / "fixtures" / SDXL


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    with running_demo(tmp_path_factory.mktemp("demo-comfy")) as running:
        yield running


async def _send_with_file(page: Page, text: str, path: Path) -> None:
    """Attach `path` with the composer's file input, then send `text` with it. The chip
    shows the file at once, but Chainlit keeps the send button disabled (and Enter does
    nothing) until the upload has finished: wait for the button, then click it."""
    await page.locator("input[type=file]").first.set_input_files(str(path))
    await expect(page.get_by_text(path.name).first).to_be_visible()
    await page.get_by_role("textbox").last.fill(text)
    send = page.locator("#chat-submit")
    await expect(send).to_be_enabled()
    await send.click()
    await expect(page.get_by_role("textbox").last).to_have_value("")  # the message went


async def test_an_attached_workflow_shows_its_card_then_deploys_with_a_web_app(
    browser: Browser, demo: Demo
) -> None:
    page = await browser.new_page(viewport={"width": 1280, "height": 1100})
    await log_in(page, demo)
    await _send_with_file(page, "Build me a web app for this ComfyUI workflow", _FIXTURE)
    card = page.get_by_text("ComfyUI workflow sdxl-txt2img").first
    await expect(card).to_be_visible(timeout=_LONG)
    await expect(page.get_by_text("stabilityai/stable-diffusion-xl-base-1.0/sd_xl_base_1.0"
                                  ".safetensors, 6.46 GiB").first).to_be_visible()  # fmt: skip
    await expect(page.get_by_text("GPU memory:").first).to_be_visible()
    await card.scroll_into_view_if_needed()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "demo-comfy-card.png"), animations="disabled")
    answered = await _answer_until_idle(page, demo, final=re.compile(r"Your app is live"))
    assert answered.count("approval") == 3, answered
    await page.screenshot(path=str(ARTIFACTS / "demo-comfy-done.png"), animations="disabled")


async def test_a_json_file_that_is_not_a_workflow_is_refused_in_the_chat(
    browser: Browser, demo: Demo, tmp_path: Path
) -> None:
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    await log_in(page, demo)
    notes = tmp_path / "notes.json"
    notes.write_text('{"hello": "world"}')
    await _send_with_file(page, "Deploy this", notes)
    await expect(page.get_by_text("I could not take that workflow").first).to_be_visible(
        timeout=_LONG
    )
    await expect(page.get_by_text("API format").first).to_be_visible()
