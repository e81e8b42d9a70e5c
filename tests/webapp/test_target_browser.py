"""The generated page on a Hugging Face Inference Endpoint, on a private Cloud Run service and
on a SageMaker endpoint running KripTik's worker, in headless Chromium against `node
dev-server.mjs` and the simulator fakes: a model scaled to zero shows "waking the model up…"
(not an error) and then the answer; a Cloud Run job completes; the image page, unchanged,
gets the worker's image and shows the worker's refusal; a SageMaker endpoint scaled to zero
(made by the real target) shows that it is waking, then the answer once the fake's alarm
started a copy. Nothing the browser receives holds the token, the key, a minted ID token or
an AWS credential."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, Response, expect

from tests.webapp.conftest import dev_server, write_project
from tests.webapp.media import png_data_url
from tests.webapp.target_fakes import (
    HF_NAME,
    HF_TOKEN,
    RUN_INVOKE,
    cloud_run_service,
    hf_endpoint,
    target_spec,
)
from tests.webapp.test_sagemaker_app import (
    KEY_ID,
    SECRET,
    TOKEN,
    function_env,
    model_error,
    sagemaker_endpoint,
    sagemaker_spec,
)
from tests.webapp.test_sagemaker_zero_app import copies, zero_endpoint, zero_spec
from tools.simulator.all import FakeStack

pytestmark = pytest.mark.browser


class Watch:
    """Every body the page received from the app, and the errors it logged."""

    def __init__(self, page: Page) -> None:
        self.bodies: list[tuple[str, bytes]] = []
        self.errors: list[str] = []
        page.on("response", self._response)
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))

    async def _response(self, response: Response) -> None:
        try:
            self.bodies.append((response.url, await response.body()))
        except Exception:  # noqa: S110 (a body the page already consumed)
            pass

    def assert_clean(self, secrets: list[str], *, allowed: tuple[str, ...] = ()) -> None:
        forms = [f for s in secrets for f in (s, base64.b64encode(s.encode()).decode()[:40])]
        for url, body in self.bodies:
            assert not any(form.encode() in body for form in forms), f"a secret served at {url}"
        assert not [e for e in self.errors if not any(a in e for a in allowed)], self.errors


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    await context.route("https://**/*", lambda route: route.abort())
    opened = await context.new_page()
    yield opened
    await context.close()


async def _run(page: Page, job: dict[str, object]) -> None:
    await page.fill("#input", json.dumps(job))
    await expect(page.locator("#json-state")).to_have_attribute("data-ok", "true")
    await page.click("#run")


async def test_hf_page_shows_the_model_waking_then_the_answer(
    page: Page, stack: FakeStack, tmp_path: Path
) -> None:
    url = hf_endpoint(stack, wake_requests=10_000)
    root = write_project(target_spec("generic", "huggingface", url, project="hf-page"), tmp_path)
    env = {"HF_TOKEN": HF_TOKEN, "HF_ENDPOINT_URL": url, "WAKE_WAIT_S": "0"}
    with dev_server(root, stack, **env) as app:
        watch = Watch(page)
        await page.goto(app.url)
        await expect(page.locator("#health")).to_have_text("Hugging Face endpoint")
        await _run(page, {"prompt": "Hello"})
        await expect(page.locator("#toast")).to_contain_text("Waking the model up…")
        await expect(page.locator("#health")).to_have_text("Waking the model up…")
        assert await page.locator("#status").get_attribute("data-status") != "FAILED"
        stack.hf_endpoints.endpoints[("ada", HF_NAME)].raw["status"]["state"] = "running"
        await expect(page.locator("#status")).to_contain_text("Completed")
        await expect(page.locator("#output")).to_contain_text("Hello and so on.")
        await expect(page.locator("#health")).to_have_text("Model awake")
    watch.assert_clean([HF_TOKEN], allowed=("503",))


async def test_cloud_run_page_runs_a_job(page: Page, stack: FakeStack, tmp_path: Path) -> None:
    url, key = cloud_run_service(stack)
    root = write_project(target_spec("generic", "cloudrun", url, project="cr-page"), tmp_path)
    with dev_server(root, stack, GCP_SERVICE_ACCOUNT_JSON=key, CLOUD_RUN_URL=url) as app:
        watch = Watch(page)
        await page.goto(app.url)
        await expect(page.locator("#health")).to_have_text("Google Cloud Run")
        await _run(page, {"prompt": "Hello"})
        await expect(page.locator("#status")).to_contain_text("Completed")
        await expect(page.locator("#output")).to_contain_text('"path": "/runsync"')
    id_token = stack.cloudrun.calls_to(RUN_INVOKE)[0].headers["authorization"][7:]
    watch.assert_clean([key, json.loads(key)["private_key"][40:120], id_token])


async def test_sagemaker_worker_image_page_shows_the_image_and_the_worker_s_refusal(
    page: Page, stack: FakeStack, tmp_path: Path
) -> None:
    url = sagemaker_endpoint(stack)
    root = write_project(sagemaker_spec(url, "image", "worker"), tmp_path)
    # The fake echoes the body the container got: a prompt that is a PNG comes back in the
    # output as the worker's image would.
    image = png_data_url(3)
    refusal = '{"error": "invalid input: prompt must be at most 2000 characters"}'
    with dev_server(root, stack, **function_env(url)) as app:
        watch = Watch(page)
        await page.goto(app.url)
        await expect(page.locator("#health")).to_have_text("Amazon SageMaker")
        await page.fill("#prompt", image)
        await page.click("#generate")
        await expect(page.locator(".card img").first).to_have_attribute("src", image)
        stack.aws.fail_op("sagemaker-runtime:InvokeEndpoint", "ModelError", status=424,
                          message=model_error(400, refusal))  # fmt: skip
        await page.fill("#prompt", "A lighthouse at dawn")
        await page.click("#generate")
        await expect(page.locator(".card-error").first).to_have_text(
            "The model's worker refused the input: prompt must be at most 2000 characters. "
            "Change the input as it says, then run it again."
        )
    calls = [c for c in stack.aws.calls if c.path.endswith("/invocations")]
    assert json.loads(calls[0].body) == {"prompt": image, "num_inference_steps": 30,
                                         "guidance_scale": 7, "width": 1024, "height": 1024}  # fmt: skip
    assert [c.status for c in calls] == [200, 424]
    watch.assert_clean([KEY_ID, SECRET, TOKEN], allowed=("400",))


async def test_sagemaker_page_shows_the_endpoint_waking_from_zero_then_the_answer(
    page: Page, stack: FakeStack, tmp_path: Path
) -> None:
    zero = await zero_endpoint(stack, tmp_path)
    root = write_project(zero_spec(zero.url, "generic", "tgi"), tmp_path)
    with dev_server(root, stack, **function_env(zero.url)) as app:
        watch = Watch(page)
        await page.goto(app.url)
        await expect(page.locator("#health")).to_have_text("Amazon SageMaker")
        await _run(page, {"prompt": "Hello"})
        await expect(page.locator("#toast")).to_contain_text(
            "Waking the model up… The SageMaker endpoint scaled to zero while idle and is "
            "starting the model again, which takes several minutes."
        )
        await expect(page.locator("#health")).to_have_text("Waking the model up…")
        assert await page.locator("#status").get_attribute("data-status") != "FAILED"
        # The request set off the alarm; its copy starts, and the page's next try is answered.
        assert await asyncio.to_thread(copies, stack) == (1, 1)
        await expect(page.locator("#status")).to_contain_text("Completed")
        await expect(page.locator("#output")).to_contain_text("Hello [simulated answer]")
        await expect(page.locator("#health")).to_have_text("Model awake")
    statuses = [c.status for c in stack.aws.calls if c.path.endswith("/invocations")]
    assert statuses[0] == 400 and statuses[-1] == 200
    watch.assert_clean([KEY_ID, SECRET, TOKEN], allowed=("503",))
    assert await zero.target.teardown("u1", zero.plan) is True
