"""Each generated app kind, served by its own `node dev-server.mjs` against the RunPod job
fake, used in headless Chromium like a person would: submit, watch the job, see the
result. Every file and answer the browser receives is checked for the RunPod key, the page
must log no error (a CSP violation included), and a screenshot of each kind is saved to
tests/e2e/artifacts/webapp-<kind>.png."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, Response, expect

from tests.webapp.conftest import ENDPOINT_ID, dev_server, spec_for, write_project
from tests.webapp.media import glb_cube, png_data_url, wav_bytes
from tools.artifacts.client import EndpointInfo
from tools.simulator.all import FakeStack
from tools.simulator.runpod import DEFAULT_KEY

pytestmark = pytest.mark.browser
SHOTS = Path(__file__).resolve().parents[1] / "e2e" / "artifacts"
KEY_FORMS = (DEFAULT_KEY, base64.b64encode(DEFAULT_KEY.encode()).decode()[:40])


class Watch:
    """What a page received and logged while a test used it."""

    def __init__(self, page: Page) -> None:
        self.bodies: list[tuple[str, bytes]] = []
        self.errors: list[str] = []
        page.on("response", self._response)
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))

    async def _response(self, response: Response) -> None:
        if response.url.startswith("http://127.0.0.1"):
            try:
                self.bodies.append((response.url, await response.body()))
            except Exception:  # noqa: S110 (a streamed body the page already consumed)
                pass

    def assert_clean(self, *, allowed: tuple[str, ...] = ()) -> None:
        for url, body in self.bodies:
            assert not any(form.encode() in body for form in KEY_FORMS), (
                f"RunPod key served at {url}"
            )
        errors = [e for e in self.errors if not any(a in e for a in allowed)]
        assert not errors, errors


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(
        viewport={"width": 1280, "height": 800}, color_scheme="light"
    )
    # No internet here: the CDN (model-viewer) fails fast and deterministically.
    await context.route("https://**/*", lambda route: route.abort())
    opened = await context.new_page()
    yield opened
    await context.close()


@pytest.fixture
def served(stack: FakeStack, projects: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    kind, media, env = request.param
    if kind == "llm-job":  # A chat app on a worker without the OpenAI route.
        spec = spec_for("llm", project="demo-llm-job")
        spec = spec.model_copy(
            update={"endpoint": spec.endpoint.model_copy(update={"openai_compatible": False})}
        )
    elif kind in SERVED_BY_GENERIC:  # No page of their own: the generic JSON form serves them.
        model_id, title, example = SERVED_BY_GENERIC[kind]
        endpoint = EndpointInfo(endpoint_id=ENDPOINT_ID, model_id=model_id)
        spec = spec_for("generic", project=f"demo-{kind}", title=title, endpoint=endpoint,
                        example_input=example)  # fmt: skip
    else:
        spec = spec_for(kind, media=media)
    root = write_project(spec, projects)
    with dev_server(root, stack, **env) as server:
        yield server.url


# The page kinds that `spec_from_deployment` maps to the generic form today: embeddings
# (feature-extraction, sentence-similarity) and speech recognition (transformers workers).
SERVED_BY_GENERIC: dict[str, tuple[str, str, dict[str, Any]]] = {
    "embeddings": ("BAAI/bge-small-en-v1.5", "Embeddings", {"input": ["a sentence"]}),
    "transcription": ("openai/whisper-tiny", "Transcribe", {"audio": "<base64 WAV or URL>"}),
}


def _shot(name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS / f"webapp-{name}.png"


@pytest.mark.parametrize("served", [("llm", None, {})], indirect=True)
async def test_chat_streams_a_reply(page: Page, served: str, stack: FakeStack) -> None:
    watch = Watch(page)
    await page.goto(served)
    await expect(page.locator("#health")).to_have_text("1 worker ready")
    await page.fill("#prompt", "What is a serverless GPU?")
    await page.keyboard.press("Enter")
    reply = page.locator(".message.assistant .bubble-text").last
    await expect(reply).to_have_text(
        "Echo from Qwen/Qwen2.5-0.5B-Instruct: What is a serverless GPU?"
    )
    await page.click("#reset")
    await expect(page.locator(".message")).to_have_count(0)
    await page.locator(".suggestion").nth(0).click()
    await expect(page.locator(".message.assistant .bubble-text").last).to_contain_text(
        "two sentences"
    )
    await page.fill("#prompt", "And how much does one cost when idle?")
    await page.click("#send")
    await expect(page.locator(".message.assistant .bubble-text").last).to_contain_text("when idle?")
    assert [m["role"] for m in stack.runpod_jobs.chats[-1]["messages"]] == [
        "user",
        "assistant",
        "user",
    ]
    await page.screenshot(path=_shot("llm"))
    watch.assert_clean()


@pytest.mark.parametrize("served", [("llm-job", None, {})], indirect=True)
async def test_chat_on_a_transformers_worker_runs_jobs(
    page: Page, served: str, stack: FakeStack
) -> None:
    def pipeline(job: dict[str, Any]) -> dict[str, Any]:
        reply = {"role": "assistant", "content": f"{len(job['inputs'])} message(s) seen"}
        return {"output": [{"generated_text": [*job["inputs"], reply]}]}

    stack.runpod.state.handler = pipeline
    watch = Watch(page)
    await page.goto(served)
    await page.fill("#prompt", "Hello")
    await page.keyboard.press("Enter")
    await expect(page.locator(".message.assistant .bubble-text").last).to_have_text(
        "1 message(s) seen"
    )
    await page.fill("#prompt", "Again")
    await page.keyboard.press("Enter")
    await expect(page.locator(".message.assistant .bubble-text").last).to_have_text(
        "3 message(s) seen"
    )
    watch.assert_clean()


@pytest.mark.parametrize("served", [("image", None, {})], indirect=True)
async def test_image_prompt_fills_the_gallery(page: Page, served: str, stack: FakeStack) -> None:
    jobs: list[Any] = []
    stack.runpod.state.handler = lambda job: (
        jobs.append(job) or {"images": [png_data_url(len(jobs))]}
    )
    watch = Watch(page)
    await page.goto(served)
    for prompt in (
        "A lighthouse at dawn",
        "Neon koi in a rainy alley",
        "Desert dunes under two moons",
    ):
        await page.fill("#prompt", prompt)
        await page.click("#generate")
        await expect(page.locator(".card img").first).to_have_attribute("alt", prompt)
    await expect(page.locator("#count")).to_have_text("3 images")
    assert jobs[0] == {"prompt": "A lighthouse at dawn", "num_inference_steps": 30, "guidance_scale": 7,
                       "width": 1024, "height": 1024}  # fmt: skip
    await page.screenshot(path=_shot("image"))
    watch.assert_clean()


async def _sent_input(page: Page, guidance: str) -> Any:
    """The job input the page POSTs to `api/infer` with the guidance field set to `guidance`."""
    await page.fill("#guidance", guidance)
    await page.fill("#prompt", f"guidance {guidance or 'empty'}")
    async with page.expect_request(
        lambda r: r.url.endswith("/api/infer") and r.method == "POST"
    ) as caught:
        await page.click("#generate")
    await expect(page.locator(".card img").first).to_have_attribute(
        "alt", f"guidance {guidance or 'empty'}"
    )
    return json.loads((await caught.value).post_data or "{}")["input"]


@pytest.mark.parametrize("served", [("image", None, {})], indirect=True)
async def test_image_page_keeps_a_guidance_of_zero(
    page: Page, served: str, stack: FakeStack
) -> None:
    """0 is a valid guidance scale (turns classifier-free guidance off); empty means default."""
    jobs: list[Any] = []
    stack.runpod.state.handler = lambda job: jobs.append(job) or {"images": [png_data_url(1)]}
    await page.goto(served)
    await page.click("details.advanced summary")
    sent = await _sent_input(page, "0")
    assert sent["guidance_scale"] == 0 and jobs[-1]["guidance_scale"] == 0
    assert (await _sent_input(page, "3.5"))["guidance_scale"] == 3.5
    assert (await _sent_input(page, ""))["guidance_scale"] == 7


@pytest.mark.parametrize("served", [("media", "model3d", {})], indirect=True)
async def test_3d_job_shows_status_and_model(
    page: Page, served: str, stack: FakeStack, tmp_path: Path
) -> None:
    glb = "data:model/gltf-binary;base64," + base64.b64encode(glb_cube()).decode()
    stack.runpod.state.handler = lambda job: {"glb": glb, "seconds": 84}
    reference = tmp_path / "toy.png"
    reference.write_bytes(base64.b64decode(png_data_url(7).split(",", 1)[1]))
    watch = Watch(page)
    await page.goto(served)
    await page.fill("#prompt", "A small wooden robot toy")
    await page.set_input_files("#image", str(reference))
    await expect(page.locator("#preview")).to_be_visible()
    await page.click("#generate")
    await expect(page.locator("#steps li[data-step=COMPLETED]")).to_have_attribute(
        "data-state", "done"
    )
    await expect(page.locator("#download")).to_have_attribute("href", glb)
    # Offline, the pinned model-viewer script cannot load: the page says so and offers the file.
    await expect(page.locator("#viewer")).to_contain_text("Your 3D model is ready.")
    sent = next(iter(stack.runpod.state.endpoints.values())).jobs
    assert next(iter(sent.values())).input["image"].startswith("data:image/png;base64,")
    await page.screenshot(path=_shot("model3d"))
    watch.assert_clean(allowed=("net::ERR_FAILED",))


async def _webm(page: Page) -> str:
    """A real two-second WebM clip, recorded from a canvas by Chromium itself."""
    return await page.evaluate("""async () => {
      const canvas = Object.assign(document.createElement("canvas"), { width: 320, height: 240 });
      const ctx = canvas.getContext("2d");
      const recorder = new MediaRecorder(canvas.captureStream(25), { mimeType: "video/webm" });
      const parts = [];
      recorder.ondataavailable = (e) => parts.push(e.data);
      const done = new Promise((resolve) => { recorder.onstop = resolve; });
      recorder.start();
      for (let frame = 0; frame < 40; frame++) {
        const g = ctx.createLinearGradient(0, 0, 320, 240);
        g.addColorStop(0, `hsl(${200 + frame * 3}, 80%, 55%)`); g.addColorStop(1, "#1b1240");
        ctx.fillStyle = g; ctx.fillRect(0, 0, 320, 240);
        ctx.fillStyle = "#fff"; ctx.beginPath(); ctx.arc(40 + frame * 6, 120 + 30 * Math.sin(frame / 4), 22, 0, 7); ctx.fill();
        await new Promise((r) => setTimeout(r, 40));
      }
      recorder.stop();
      await done;
      const bytes = new Uint8Array(await new Blob(parts, { type: "video/webm" }).arrayBuffer());
      let text = ""; for (const b of bytes) text += String.fromCharCode(b);
      return btoa(text);
    }""")


@pytest.mark.parametrize("served", [("media", "video", {})], indirect=True)
async def test_video_job_plays_the_result(page: Page, served: str, stack: FakeStack) -> None:
    await page.goto(served)
    clip = await _webm(page)
    stack.runpod.state.handler = lambda job: {"video_base64": clip, "fps": 25}
    watch = Watch(page)
    await page.fill("#prompt", "A paper boat drifting down a rainy street")
    await page.click("#generate")
    video = page.locator("#viewer video")
    await expect(video).to_have_attribute("src", f"data:video/webm;base64,{clip}")
    await page.wait_for_function("document.querySelector('#viewer video').readyState >= 2")
    await page.evaluate("document.querySelector('#viewer video').pause()")
    await expect(page.locator("#download")).to_have_text("Download .webm")
    await page.screenshot(path=_shot("video"))
    watch.assert_clean()


@pytest.mark.parametrize(
    "served", [("generic", None, {"APP_PASSCODE": "open sesame"})], indirect=True
)
async def test_generic_json_form_behind_a_passcode(
    page: Page, served: str, stack: FakeStack
) -> None:
    watch = Watch(page)
    await page.goto(served)
    dialog = page.locator("#passcode-dialog")
    await expect(dialog).to_be_visible()  # The health check asked for it.
    await dialog.locator("input").fill("open sesame")
    await dialog.locator("button[value=ok]").click()
    await expect(page.locator("#health")).to_have_text("1 worker ready")
    await page.fill("#input", '{"prompt": "Hello", "temperature": 0.2')
    await expect(page.locator("#json-state")).to_have_attribute("data-ok", "false")
    await page.fill(
        "#input",
        json.dumps(
            {
                "prompt": "Summarise: serverless GPUs scale to zero.",
                "max_new_tokens": 64,
                "temperature": 0.2,
            },
            indent=2,
        ),
    )
    await page.click("#run")
    await expect(page.locator("#status")).to_contain_text("Completed")
    await expect(page.locator("#output")).to_contain_text('"temperature": 0.2')
    await page.screenshot(path=_shot("generic"))
    watch.assert_clean(allowed=("401",))


async def _run_generic(page: Page, served: str, job_input: dict[str, Any]) -> None:
    await page.goto(served)
    await page.fill("#input", json.dumps(job_input, indent=2))
    await expect(page.locator("#json-state")).to_have_attribute("data-ok", "true")
    await page.click("#run")
    await expect(page.locator("#status")).to_contain_text("Completed")


@pytest.mark.parametrize("served", [("embeddings", None, {})], indirect=True)
async def test_embeddings_on_the_generic_form(page: Page, served: str, stack: FakeStack) -> None:
    def embed(job: dict[str, Any]) -> dict[str, Any]:
        data = [{"object": "embedding", "index": i, "embedding": [0.125] * 384}
                for i, _ in enumerate(job["inputs"])]  # fmt: skip
        return {"object": "list", "model": "BAAI/bge-small-en-v1.5", "data": data}

    stack.runpod.state.handler = embed
    watch = Watch(page)
    # The generated embeddings worker's own input shape (tests/workloads/test_embeddings.py).
    await _run_generic(page, served, {"inputs": ["serverless GPUs", "scale to zero"]})
    shown = json.loads(await page.locator("#output").text_content() or "null")
    assert [(d["index"], len(d["embedding"])) for d in shown["data"]] == [(0, 384), (1, 384)]
    await page.screenshot(path=_shot("embeddings"))
    watch.assert_clean()


@pytest.mark.parametrize("served", [("transcription", None, {})], indirect=True)
async def test_transcription_on_the_generic_form(page: Page, served: str, stack: FakeStack) -> None:
    heard: list[bytes] = []

    def transcribe(job: dict[str, Any]) -> dict[str, Any]:
        heard.append(base64.b64decode(job["audio_base64"]))
        return {"text": "hello from a real wav", "language": "en"}

    stack.runpod.state.handler = transcribe
    watch = Watch(page)
    wav = wav_bytes()
    # The generated speech worker's own input shape (tests/workloads/test_speech.py).
    await _run_generic(page, served, {"audio_base64": base64.b64encode(wav).decode()})
    await expect(page.locator("#output")).to_contain_text('"text": "hello from a real wav"')
    assert heard == [wav]  # The page sent the audio through api/infer byte for byte.
    await page.screenshot(path=_shot("transcription"))
    watch.assert_clean()
