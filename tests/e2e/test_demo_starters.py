"""`kriptik demo` in a real browser: the command a newcomer runs first. Log in with the
printed password, then drive each starter on the empty chat to its final answer: key
prompts answered with the simulator's printed keys, approvals approved. A screenshot of
each final state is saved in tests/e2e/artifacts/.

Nothing is scripted here: the replies come from the simulated assistant reading real tool
results over the real OpenAI wire, and every provider is the loopback simulator."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from tests.e2e.chat_page import asking, ready
from tests.e2e.harness import ARTIFACTS
from tests.services.kriptik import PROJECT_ROOT, cli_env, free_port

pytestmark = pytest.mark.browser
_LONG = 120_000  # ms: a deploy runs the durable pipeline end to end (simulated)


@dataclass
class Demo:
    url: str
    password: str
    keys: dict[str, str]
    log: Path


def _wait_for_login(process: subprocess.Popen[str], log: Path, url: str) -> str:
    """The first-run password, once the app answers /health (polls the app's own state)."""
    import time

    deadline = time.monotonic() + 90
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"kriptik demo exited:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/health", timeout=5).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"kriptik demo did not answer:\n{log.read_text()}")
        time.sleep(0.1)  # polling the server's health, not a fixed wait
    match = re.search(r"shown only once\):\s*\n\s*(\S+)", log.read_text())
    assert match, log.read_text()
    return match.group(1)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    with running_demo(tmp_path_factory.mktemp("demo")) as running:
        yield running


@contextmanager
def running_demo(root: Path) -> Iterator[Demo]:
    """`kriptik demo` on a free port, from `root` (its log there), until the block ends."""
    port, log = free_port(), root / "demo.log"
    # Whatever the developer's own settings are, the demo must not use them.
    env = cli_env(root / "not-used", KRIPTIK_LLM_BASE_URL="http://192.0.2.1/v1")
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "ui.cli", "demo", "--port", str(port)],
            env=env, cwd=PROJECT_ROOT, stdout=out, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        password = _wait_for_login(process, log, url)
        # A key is the rest of its line: AWS's is a pair ("ACCESS_KEY_ID SECRET").
        keys = dict(
            re.findall(r"^\s{6}(\w+)\s+(\S(?:.*\S)?)$", log.read_text(), flags=re.MULTILINE)
        )
        assert {"runpod", "github", "vercel"} <= keys.keys(), log.read_text()
        yield Demo(url, password, keys, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
    assert not (root / "not-used").exists()  # the demo never touched KRIPTIK_HOME


async def log_in(page: Page, demo: Demo) -> None:
    await page.goto(demo.url)
    # Signed out, the app sends the page on to /login (a new document): fill in that one.
    await expect(page).to_have_url(f"{demo.url}/login")
    await expect(page.get_by_role("note", name="Simulation")).to_contain_text("SIMULATION")
    await page.get_by_label("User name").fill("admin")
    await page.get_by_label("Password").fill(demo.password)
    await page.get_by_label("Password").press("Enter")
    await ready(page)


_PROVIDER_BY_LABEL = {
    f"{title} API key": provider
    for title, provider in (("RunPod", "runpod"), ("GitHub", "github"), ("Vercel", "vercel"),
                            ("Netlify", "netlify"), ("Hugging Face", "huggingface"),
                            ("OpenRouter", "openrouter"), ("Google Cloud", "gcp"))
}  # fmt: skip


async def _answer_until_idle(page: Page, demo: Demo, *, final: re.Pattern[str]) -> list[str]:
    """Answer key prompts and approvals as they come, until the final answer shows.
    Returns what was answered, in order. Each wait is on the page's own state."""
    answered: list[str] = []
    key_field = page.locator("input[type=password]:not([disabled])")
    approve = page.get_by_role("button", name="Approve")
    done = page.get_by_text(final).last
    decided = await page.get_by_text("Approved by admin").count()  # cards approved before
    while True:
        ask = key_field.or_(approve).or_(done).first
        await ask.wait_for(timeout=_LONG)
        if await done.is_visible():
            await ready(page)  # the turn has ended: its messages are drawn for good
            return answered
        if await approve.count() and await approve.first.is_visible():
            await approve.first.click()
            approvals = decided + answered.count("approval")
            await expect(page.get_by_text("Approved by admin").nth(approvals)).to_be_visible()
            answered.append("approval")
            continue
        await asking(page)  # the field takes a key only once its question is pending
        field_id = await key_field.first.get_attribute("id")
        label = await page.locator(f"label[for='{field_id}']").inner_text()
        provider = _PROVIDER_BY_LABEL[label.strip()]
        await key_field.first.fill(demo.keys[provider])
        await key_field.first.press("Enter")
        await expect(page.locator(f"[id='{field_id}']")).to_have_count(0)
        answered.append(provider)


async def _starter(browser: Browser, demo: Demo, label: str, final: str, shot: str) -> Page:
    page = await browser.new_page(viewport={"width": 1280, "height": 1000})
    hosts: set[str] = set()
    page.on("request", lambda request: hosts.add(urlparse(request.url).netloc))
    await log_in(page, demo)
    await page.get_by_text(label).click()
    answered = await _answer_until_idle(page, demo, final=re.compile(final))
    await page.get_by_text(re.compile(final)).last.scroll_into_view_if_needed()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"demo-{shot}.png"), animations="disabled")
    assert hosts == {urlparse(demo.url).netloc}, f"the page talked to {hosts}"
    page.set_default_timeout(10_000)
    setattr(page, "answered", answered)  # noqa: B010 - read by the test
    return page


async def test_deploy_starter_ends_with_a_ready_endpoint_and_a_web_app(
    browser: Browser, demo: Demo
) -> None:
    page = await _starter(
        browser, demo, "Deploy Qwen2.5-7B-Instruct as an API",
        final=r"Your app is live|its check failed", shot="deploy",
    )  # fmt: skip
    answered: list[str] = getattr(page, "answered")  # noqa: B009
    # Keys asked in the secure field, and three cards: the endpoint, the repo, the site.
    assert answered.count("approval") == 3
    assert {"runpod", "github", "vercel"} <= set(answered)
    await expect(page.get_by_text("Your app is live")).to_be_visible()
    # The deploy's closing summary, shown as the tool wrote it: the endpoint, costs, teardown.
    await expect(page.get_by_text(re.compile(r"Endpoint: http\S+/v2/\w+"))).to_be_visible()
    await expect(page.get_by_text(re.compile(r"kriptik deployments teardown"))).to_be_visible()
    await expect(page.get_by_text(re.compile(r"https://[\w-]+\.vercel\.app")).last).to_be_visible()
    await expect(page.locator("section[aria-label^='Deploying']")).to_contain_text("Done")
    await page.close()


async def test_web_app_starter_reaches_its_final_answer(browser: Browser, demo: Demo) -> None:
    page = await _starter(
        browser, demo, "Build a web app on HunyuanWorld-Voyager",
        final=r"Nothing was created", shot="webapp",
    )  # fmt: skip
    # KripTik has no worker for this kind of repo yet: it says so, and spends nothing.
    await expect(page.get_by_text(re.compile("cannot serve yet")).last).to_be_visible()
    answered: list[str] = getattr(page, "answered")  # noqa: B009
    assert "approval" not in answered
    await page.close()


async def test_sizing_starter_answers_without_deploying(browser: Browser, demo: Demo) -> None:
    page = await _starter(
        browser,
        demo,
        "How much GPU does FLUX.1-dev need?",
        final=r"Say .deploy it.",
        shot="sizing",
    )
    answered: list[str] = getattr(page, "answered")  # noqa: B009
    assert "approval" not in answered
    await expect(page.locator("figure[aria-label*='needs about']")).to_be_visible()
    await page.close()
