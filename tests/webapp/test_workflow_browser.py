"""The ComfyUI workflow page in headless Chromium, served by its own `node dev-server.mjs`
against the RunPod job fake running a fake ComfyUI worker: type a prompt, set the inputs,
press Generate, and see what the workflow made. Checks what reached the endpoint, that
errors read well and stay text, and that the page logs no error and never holds the key.
Screenshots: tests/e2e/artifacts/webapp-workflow*.png."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from tests.webapp.comfy_fakes import ComfyWorkerFake, sdxl_inputs, workflow_spec
from tests.webapp.conftest import DevServer, dev_server, write_project
from tests.webapp.media import png
from tests.webapp.test_browser import SHOTS, Watch, _webm
from tools.simulator.all import FakeStack

pytestmark = pytest.mark.browser
RUN = "POST /v2/{endpoint_id}/run"
DEFAULT_PROMPT = "a bottle of wine on a wooden table, studio light"


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(
        viewport={"width": 1280, "height": 860}, color_scheme="light"
    )
    await context.route("https://**/*", lambda route: route.abort())  # No internet here.
    opened = await context.new_page()
    yield opened
    await context.close()


@pytest.fixture
def worker(stack: FakeStack) -> ComfyWorkerFake:
    fake = ComfyWorkerFake(sdxl_inputs())
    stack.runpod.state.handler = fake
    return fake


@pytest.fixture
def served(stack: FakeStack, projects: Path, worker: ComfyWorkerFake) -> Iterator[DevServer]:
    with dev_server(write_project(workflow_spec(), projects), stack) as server:
        yield server


def _data_url(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


async def _shot(page: Page, name: str) -> None:
    """The whole page from its top (the header is sticky), once the run has settled."""
    await expect(page.locator("#generate")).to_be_enabled()
    await page.evaluate("window.scrollTo(0, 0)")
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=SHOTS / f"webapp-{name}.png", full_page=True)


async def _set_inputs(page: Page, prompt: str, reference: Path) -> int:
    """Fill the form as a person would; returns the seed the "Random" button chose."""
    await expect(page.locator("#field-prompt")).to_have_value(DEFAULT_PROMPT)
    await page.fill("#field-prompt", prompt)
    await page.fill("#field-steps", "28")
    before = await page.input_value("#field-seed")
    await page.click("button[data-random=seed]")
    seed = await page.input_value("#field-seed")
    assert seed != before and 0 <= int(seed) <= 2**53 - 1
    await page.set_input_files("#field-image", str(reference))
    await expect(page.locator("#preview-image")).to_be_visible()
    return int(seed)


async def test_typed_prompt_reaches_the_worker_and_the_image_shows(
    page: Page, served: DevServer, stack: FakeStack, worker: ComfyWorkerFake, tmp_path: Path
) -> None:
    watch = Watch(page)
    await page.goto(served.url)
    await expect(page.locator("#health")).to_have_text("1 worker ready")
    reference = tmp_path / "reference.png"
    reference.write_bytes(png(5))
    prompt = "A red fox in fresh snow, golden hour, 85mm"
    seed = await _set_inputs(page, prompt, reference)
    async with page.expect_request(
        lambda r: r.url.endswith("/api/infer") and r.method == "POST"
    ) as caught:
        await page.click("#generate")
    shown = _data_url("image/png", png(3))
    await expect(page.locator("#outputs .card img")).to_have_attribute("src", shown)
    await page.wait_for_function("document.querySelector('#outputs .card img').naturalWidth > 0")
    download = page.locator("#outputs .card a[download]")
    await expect(download).to_have_attribute("download", "ComfyUI_00001_.png")
    await expect(download).to_have_attribute("href", shown)
    await expect(page.locator("#steps li[data-step=COMPLETED]")).to_have_attribute(
        "data-state", "done"
    )
    await expect(page.locator("#count")).to_have_text("1 file")
    expected = {"prompt": prompt, "negative_prompt": "blurry, watermark", "seed": seed,
                "steps": 28, "cfg": 7.5, "width": 1024,
                "image": _data_url("image/png", png(5))}  # fmt: skip
    assert json.loads((await caught.value).post_data or "{}") == {"input": expected}
    # What RunPod received, through the server-side function that holds the key.
    assert json.loads(stack.runpod_jobs.calls_to(RUN)[-1].body) == {"input": expected}
    assert worker.received == [expected]
    await _shot(page, "workflow")
    watch.assert_clean()


async def test_errors_read_well_and_stay_text(
    page: Page, served: DevServer, stack: FakeStack, worker: ComfyWorkerFake
) -> None:
    watch = Watch(page)
    await page.goto(served.url)
    # Out of range: the browser's own check stops the form; no job is sent.
    await page.fill("#field-steps", "500")
    await page.click("#generate")
    assert await page.eval_on_selector("#field-steps", "e => !e.validity.valid")
    assert stack.runpod_jobs.calls_to(RUN) == []
    await page.fill("#field-steps", "20")
    # The worker refuses a field its workflow does not take, naming the ones it does.
    worker.inputs = tuple(i for i in worker.inputs if i.name != "cfg")
    await page.click("#generate")
    error = page.locator("#outputs .run-error")
    await expect(error).to_have_text(
        "The workflow failed: Unknown input 'cfg'; this workflow takes: prompt, "
        "negative_prompt, seed, steps, width, image."
    )
    await expect(page.locator("#steps li[data-step=COMPLETED]")).to_have_attribute(
        "data-state", "failed"
    )
    await expect(page.locator("#toast")).to_contain_text("Unknown input 'cfg'")
    await _shot(page, "workflow-error")

    def crash(job: Any) -> Any:
        raise RuntimeError("CUDA out of memory in node 3 (KSampler); try a smaller width")

    stack.runpod.state.handler = crash  # RunPod reports the job FAILED, with the message.
    await page.click("#generate")
    await expect(error).to_contain_text("The workflow failed: RuntimeError: CUDA out of memory")
    stack.runpod.state.handler = lambda job: {"error": "<img src=x onerror=window.hacked=1>"}
    await page.click("#generate")
    await expect(error).to_have_text("The workflow failed: <img src=x onerror=window.hacked=1>")
    assert await page.locator("#outputs img").count() == 0
    assert await page.evaluate("window.hacked === undefined")
    await expect(page.locator("#generate")).to_be_enabled()
    watch.assert_clean()


async def test_videos_and_uploaded_urls_show_with_their_downloads(
    page: Page, served: DevServer, worker: ComfyWorkerFake
) -> None:
    await page.goto(served.url)
    clip = base64.b64decode(await _webm(page))
    worker.outputs = [("video/webm", clip), ("image/png", png(9))]
    watch = Watch(page)
    await page.click("#generate")
    video = page.locator("#outputs .card video")
    await expect(video).to_have_attribute("src", _data_url("video/webm", clip))
    await page.wait_for_function("document.querySelector('#outputs .card video').readyState >= 2")
    await expect(page.locator("#outputs .card img")).to_have_attribute(
        "src", _data_url("image/png", png(9))
    )
    await expect(page.locator("#count")).to_have_text("2 files")
    await _shot(page, "workflow-video")
    # A large output comes back as a URL (the worker uploaded it); here the page's own host.
    (served.root / "public/out").mkdir(exist_ok=True)
    (served.root / "public/out/ComfyUI_00001_.png").write_bytes(png(11))
    worker.outputs, worker.delivery = [("image/png", png(11))], "url"
    worker.url_base = f"{served.url.rstrip('/')}/out"
    await page.click("#generate")
    url = f"{worker.url_base}/ComfyUI_00001_.png"
    await expect(page.locator("#outputs .card img")).to_have_attribute("src", url)
    await page.wait_for_function("document.querySelector('#outputs .card img').naturalWidth > 0")
    await expect(page.locator("#outputs .card a[download]")).to_have_attribute("href", url)
    watch.assert_clean()
