"""`kriptik demo` in a real browser, deploying on a cloud beside RunPod: the user names
Google Cloud Run in the chat, pastes the Google key the card asks for in the secure field,
sees the approval card priced from Cloud Run's catalog, approves, and the service comes up;
the web app follows, with Cloud Run's variables, and its check passes; "tear it down"
removes it all. The same for Amazon SageMaker with a diffusion model (our worker image,
pushed to ECR; an endpoint that scales to zero), after the AWS key card. Screenshots are
saved in tests/e2e/artifacts/ (demo-card-cloudrun.png, demo-app-cloudrun.png,
demo-key-aws.png, demo-card-sagemaker.png, demo-app-sagemaker.png). Hugging Face's chat
path is covered without a browser (tests/simulator/test_demo_chat_three_targets.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from tests.e2e.chat_page import asking
from tests.e2e.harness import ARTIFACTS
from tests.e2e.test_demo_starters import Demo, _answer_until_idle, log_in, running_demo  # pyright: ignore[reportPrivateUsage]

pytestmark = pytest.mark.browser
_LONG = 120_000  # ms: a deploy runs the durable pipeline end to end (simulated)
QWEN = "Qwen/Qwen2.5-0.5B-Instruct"
# The web app that follows the endpoint is published, and its integration check passes
# through the simulated host's function against the target's own fake.
_APP_DONE = re.compile(r"Your app is live")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    with running_demo(tmp_path_factory.mktemp("demo-targets")) as running:
        yield running


def _gcp_key(demo: Demo) -> str:
    """The simulator's service-account key: the banner names the file that holds it."""
    found = re.search(r"gcp\s+the whole file (\S+)", demo.log.read_text())
    assert found, demo.log.read_text()
    return Path(found.group(1)).read_text()


async def _answer_key(page: Page, key: str) -> None:
    """Paste `key` in the pending secure field; done once that field is gone (answered)."""
    field = page.locator("input[type=password]:not([disabled])").first
    await asking(page)  # the field takes a key only once its question is pending
    field_id = await field.get_attribute("id")
    await field.fill(key)
    await field.press("Enter")
    await expect(page.locator(f"[id='{field_id}']")).to_have_count(0)


async def _approve_card(page: Page, shot: str) -> str:
    """Screenshot the pending card, approve it; the page's text while it was pending."""
    approve = page.get_by_role("button", name="Approve").first
    await approve.wait_for(timeout=_LONG)
    await approve.scroll_into_view_if_needed()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"demo-card-{shot}.png"), animations="disabled")
    text = await page.locator("body").inner_text()  # the card is the newest message
    approved = await page.get_by_text("Approved by admin").count()
    await approve.click()
    await expect(page.get_by_text("Approved by admin")).to_have_count(approved + 1)
    return text


async def _app_answered(page: Page, demo: Demo) -> None:
    """The web app's turn answered: its two cards approved, and GitHub's and Vercel's keys
    pasted unless an earlier test of this demo stored them (the tests run in any order)."""
    answered = await _answer_until_idle(page, demo, final=_APP_DONE)
    assert answered.count("approval") == 2 and set(answered) <= {"approval", "github", "vercel"}


async def _tear_down(page: Page, shot: str) -> None:
    """ "tear it down" in the chat, its card approved, and the chat saying it is done."""
    composer = page.get_by_role("textbox").last
    await composer.fill("tear it down")
    await composer.press("Enter")
    await _approve_card(page, f"{shot}-teardown")
    await expect(page.get_by_text(re.compile(r"[Tt]orn down|[Rr]emoved")).last).to_be_visible(
        timeout=_LONG
    )


async def test_a_deploy_on_cloud_run_asks_for_the_google_key_then_prices_the_l4(
    browser: Browser, demo: Demo
) -> None:
    page = await browser.new_page(viewport={"width": 1280, "height": 1000})
    await log_in(page, demo)
    composer = page.get_by_role("textbox").last
    await composer.fill(f"Deploy {QWEN} on Google Cloud Run")
    await composer.press("Enter")
    await expect(page.get_by_text("Google Cloud API key").first).to_be_visible(timeout=_LONG)
    await expect(page.get_by_text("roles/run.admin").first).to_be_visible()
    await _answer_key(page, _gcp_key(demo))
    card = await _approve_card(page, "cloudrun")
    assert "Google Cloud Run" in card and "$1.0465/h per running instance" in card, card
    assert "cloud.google.com/run/pricing" in card
    await expect(page.get_by_text("on Google Cloud Run. You can close this page")).to_be_visible(
        timeout=_LONG
    )
    # Then the web app: the GitHub and Vercel keys asked and their cards approved.
    await _app_answered(page, demo)
    await expect(page.get_by_text(re.compile(r"CLOUD_RUN_URL")).first).to_be_visible()
    await page.screenshot(path=str(ARTIFACTS / "demo-app-cloudrun.png"), animations="disabled")
    html = await page.content()
    assert "private_key" not in html and "BEGIN PRIVATE KEY" not in html

    await _tear_down(page, "cloudrun")
    await page.close()


SDXL = "stabilityai/stable-diffusion-xl-base-1.0"


async def test_a_diffusion_model_on_sagemaker_asks_for_aws_then_builds_our_worker_for_ecr(
    browser: Browser, demo: Demo
) -> None:
    """The AWS key card shows the role first (external id, template); the demo's key pair
    is pasted instead; the card says our worker goes to ECR and the endpoint scales to
    zero; the deployment comes up, its web app follows and passes its check, and "tear it
    down" removes it all."""
    page = await browser.new_page(viewport={"width": 1280, "height": 1000})
    await log_in(page, demo)
    composer = page.get_by_role("textbox").last
    await composer.fill(f"Deploy {SDXL} on SageMaker")
    await composer.press("Enter")
    await expect(
        page.get_by_text("Role ARN, or ACCESS_KEY_ID SECRET_ACCESS_KEY").first
    ).to_be_visible(timeout=_LONG)
    await page.screenshot(path=str(ARTIFACTS / "demo-key-aws.png"), animations="disabled")
    await _answer_key(page, demo.keys["aws"])
    card = await _approve_card(page, "sagemaker")
    assert "Amazon SageMaker" in card and "pushed to ECR in your AWS account" in card, card
    assert "after 10 minutes without requests" in card and "AWS Price List API" in card, card
    await expect(page.get_by_text("on Amazon SageMaker. You can close this page")).to_be_visible(
        timeout=_LONG
    )
    # Then the web app, signing its calls to SageMaker server-side with the key pair.
    await _app_answered(page, demo)
    await expect(page.get_by_text(re.compile(r"SAGEMAKER_ENDPOINT_URL")).first).to_be_visible()
    # Its check reached the endpoint through the function (SageMaker reports no workers).
    await expect(page.get_by_text("api/infer reaches the endpoint; job").last).to_be_visible()
    await page.screenshot(path=str(ARTIFACTS / "demo-app-sagemaker.png"), animations="disabled")
    html = await page.content()
    assert demo.keys["aws"].split()[1] not in html  # the secret key never reaches the page

    await _tear_down(page, "sagemaker")
    await page.close()
