"""Connecting accounts in a real browser (Debian's Chromium), against the provider fakes:
a new user connects GitHub through the device flow (the fake approves after two polls)
and Vercel by redirect (declined once, then approved), and deploys the web app with both
connections; OpenRouter connects by its PKCE key exchange (cancelled once, then approved;
then reconnected from the keys panel) and shows the key's limit and credit; a provider
with no registered app says how the operator enables it. Nothing is pasted but the
RunPod key (RunPod has no OAuth). Screenshots of each state of the cards go to
tests/e2e/artifacts/connect-*.png; no token reaches the page, the LLM, a log or a file
unencrypted."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.async_api import Browser, Locator, Page, expect
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from tests.e2e import llm_script
from tests.e2e.chat_page import asking, ready
from tests.e2e.harness import ARTIFACTS, App, planted_key
from tests.e2e.llm_script import DEPLOY_REPO, MODEL, Say, ScriptedLLM, Tool
from tests.services.kriptik import serve
from tools.simulator import hf_repos
from tools.simulator.all import FakeStack
from tools.simulator.server import ServedApp

pytestmark = pytest.mark.browser
ASK = "e2e connect and deploy"
APP_NAME = "qwen-connected"
FINAL = "Deployed with your connected accounts."
_LONG = 90_000  # ms: the endpoint's pipeline, and the device flow's polls (5 s apart)


# ---- the model's script: keys asked, endpoint, push, deploy --------------------------
def _result_of(messages: list[dict[str, Any]], tool: str) -> dict[str, Any]:
    """The JSON result of the last call of `tool` in this conversation."""
    ids = {
        call["id"]
        for m in messages if m.get("role") == "assistant"
        for call in m.get("tool_calls") or [] if call["function"]["name"] == tool
    }  # fmt: skip
    results = [m for m in messages if m.get("role") == "tool" and m.get("tool_call_id") in ids]
    try:
        return json.loads(str(results[-1]["content"])) if results else {}
    except ValueError:
        return {}


def _connect_and_deploy(messages: list[dict[str, Any]]) -> Say:
    """What a good model does for ASK, one step per reply (see llm_script's scheme)."""
    endpoint = str(_result_of(messages, "create_runpod_endpoint").get("endpoint_id", ""))
    steps = [
        Say("First the GPU endpoint.", (Tool("request_api_key", {"provider": "runpod",
            "reason": "to create the endpoint on your RunPod account"}),)),
        Say("", (Tool("create_runpod_endpoint", {"repo_id": DEPLOY_REPO, "pool": "ADA_24",
            "gpu_count": 1, "workers_min": 0, "workers_max": 1}),)),
        Say("", (Tool("request_api_key", {"provider": "github",
            "reason": "to push the app's code to your GitHub"}),)),
        Say("", (Tool("push_to_github", {"endpoint_id": endpoint, "repo_name": APP_NAME}),)),
        Say("", (Tool("request_api_key", {"provider": "vercel", "reason": "to host the app"}),)),
        Say("", (Tool("deploy_vercel", {"endpoint_id": endpoint, "project_name": APP_NAME}),)),
    ]  # fmt: skip
    step = llm_script._assistant_turns(messages)  # pyright: ignore[reportPrivateUsage]
    return steps[step] if step < len(steps) else Say(FINAL)


class ConnectLLM(ScriptedLLM):
    """The UI tests' scripted model, plus the connect-and-deploy scenario."""

    async def completions(self, request: Request) -> Response:
        body = json.loads(await request.body())
        messages = body.get("messages", [])
        if llm_script._user_text(messages) != ASK:  # pyright: ignore[reportPrivateUsage]
            return await super().completions(request)
        with self._lock:
            self.bodies.append(json.dumps(body) + "\n" + json.dumps(dict(request.headers)))
        say = _connect_and_deploy(messages)
        stream = llm_script._stream(say, self._holds_for)  # pyright: ignore[reportPrivateUsage]
        if body.get("stream"):
            return StreamingResponse(stream, media_type="text/event-stream")
        return JSONResponse(llm_script._whole(say))  # pyright: ignore[reportPrivateUsage]


@pytest.fixture(scope="module")
def chat_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    """The chat app with the fakes' OAuth apps registered (Netlify's aside)."""
    stack = FakeStack().start()
    llm = ConnectLLM()
    llm_server = ServedApp(llm.app())
    stack.huggingface.add_repo(
        hf_repos.safetensors_repo(
            DEPLOY_REPO, hidden=3584, layers=28, vocab=152064, intermediate=18944, heads=28,
            kv_heads=4, max_pos=32768,
        )
    )  # fmt: skip
    stack.runpod.state.ready_after = 0
    # Every app registered but Netlify's: its card shows how an operator enables it.
    fields = stack.settings_fields() | stack.oauth_settings_fields()
    fields = {k: v for k, v in fields.items() if not k.startswith("netlify_oauth_")}
    env = {f"KRIPTIK_{name.upper()}": str(value) for name, value in fields.items()}
    env |= {"KRIPTIK_LLM_BASE_URL": f"{llm_server.url}/v1", "KRIPTIK_MODEL": MODEL,
            "KRIPTIK_ASK_TIMEOUT_S": "180", "HF_HUB_OFFLINE": "0"}  # fmt: skip
    home = tmp_path_factory.mktemp("connect") / "home"
    try:
        with serve(home, **env) as server:
            yield App(server, home, stack, llm)
    finally:
        llm.release_all()
        llm_server.stop()
        stack.stop()


# ---- the page -------------------------------------------------------------------------
async def _shot(target: Page | Locator, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await target.screenshot(path=str(ARTIFACTS / f"connect-{name}.png"), animations="disabled")


async def _new_page(browser: Browser, app: App) -> Page:
    page = await browser.new_page(viewport={"width": 1280, "height": 1000})
    await page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=app.url)
    await page.goto(app.url)
    await expect(page).to_have_url(f"{app.url}/login")
    await page.get_by_label("User name").fill("admin")
    await page.get_by_label("Password").fill(app.server.admin_password)
    await page.get_by_label("Password").press("Enter")
    await ready(page)
    return page


async def _send(page: Page, text: str) -> None:
    await ready(page)
    await page.locator("#chat-input").fill(text)
    await page.keyboard.press("Enter")


def _key_card(page: Page, title: str) -> Locator:
    return page.locator("form.kt-card").filter(has_text=f"Add your {title} key")


def _flow_card(page: Page, title: str) -> Locator:
    return page.locator(f"section[aria-label='Connect {title}']").last


async def _press_connect(page: Page, title: str, shot: str | None = None) -> Locator:
    """The key card offers Connect with the scopes it asks; press it. The flow's card."""
    card = _key_card(page, title)
    await expect(card.get_by_role("button", name=f"Connect {title}")).to_be_visible(timeout=_LONG)
    await asking(page)
    if shot:
        await card.scroll_into_view_if_needed()
        await _shot(card, shot)
    await card.get_by_role("button", name=f"Connect {title}").click()
    flow = _flow_card(page, title)
    await expect(flow).to_have_attribute("data-state", "waiting")
    return flow


async def _redirect(page: Page, flow: Locator, title: str) -> Page:
    """Open the provider from the card, as a person would (a new tab), and return that
    tab once the app's callback page has answered."""
    link = flow.get_by_role("link", name=f"Open {title}")
    await expect(link).to_have_attribute("href", re.compile(r"^/connect/\w+/start\?flow="))
    async with page.context.expect_page() as opened:
        await link.click()
    tab = await opened.value
    await tab.wait_for_load_state()
    return tab


async def _at_rest_at_the_next_approval(page: Page) -> None:
    """The turn has moved on to its next approval card, and waits there: Chainlit draws the
    custom elements anew when a question is asked, so a card is shot only after that."""
    await expect(page.get_by_role("button", name="Approve")).to_be_visible(timeout=_LONG)
    await asking(page)


async def _approve(page: Page, nth: int) -> None:
    approve = page.get_by_role("button", name="Approve")
    await expect(approve).to_be_visible(timeout=_LONG)
    await asking(page)
    await approve.click()
    await expect(page.get_by_text("Approved by admin").nth(nth)).to_be_visible()


# ---- the tests ------------------------------------------------------------------------
async def _endpoint_with_a_pasted_runpod_key(page: Page, key: str) -> None:
    """RunPod has no OAuth: its card offers no Connect, and takes the pasted key."""
    runpod = _key_card(page, "RunPod")
    await expect(runpod.get_by_label("RunPod API key")).to_be_visible()
    await asking(page)
    await expect(runpod.get_by_role("button", name=re.compile("^Connect"))).to_have_count(0)
    await page.keyboard.type(key)
    await page.keyboard.press("Enter")
    await _approve(page, 0)
    progress = page.locator(f"section[aria-label='Deploying {DEPLOY_REPO}']")
    await expect(progress).to_contain_text("Done", timeout=_LONG)


async def _github_by_device_flow(page: Page, stack: FakeStack) -> None:
    """The device flow in the chat: code, copy, link, scopes, live wait, then connected."""
    asked = _key_card(page, "GitHub").get_by_label("Permissions Connect asks for")
    await expect(asked).to_contain_text("write:packages", timeout=_LONG)
    flow = await _press_connect(page, "GitHub", shot="card-github")
    code = flow.get_by_label("Your code")
    await expect(code).to_have_text(re.compile(r"^[A-Z]{4}-[A-Z]{4}$"))
    verify = f"{stack.url('github')}/login/device"  # GitHub's page, where the code is typed
    await expect(flow.get_by_role("link", name=f"Open {verify}")).to_have_attribute("href", verify)
    await expect(flow.get_by_label("Permissions asked")).to_contain_text("write:packages")
    await flow.get_by_role("button", name="Copy the code").click()
    await expect(flow.get_by_role("button", name="Copy the code")).to_contain_text("Copied")
    assert await page.evaluate("navigator.clipboard.readText()") == await code.inner_text()
    await _shot(flow, "device-waiting")
    await expect(flow).to_have_attribute("data-state", "connected", timeout=_LONG)
    await expect(flow).to_contain_text("GitHub connected")
    await _at_rest_at_the_next_approval(page)
    await _shot(flow, "device-connected")


async def _vercel_by_redirect(page: Page, stack: FakeStack) -> None:
    """Declined at Vercel first: the card says so and offers it again; then approved."""
    stack.vercel.oauth.deny_next = True
    flow = await _press_connect(page, "Vercel", shot="card-vercel")
    await _shot(flow, "redirect-waiting")
    tab = await _redirect(page, flow, "Vercel")
    await expect(tab.get_by_role("heading")).to_have_text("Vercel was not connected")
    await tab.close()
    await expect(flow).to_have_attribute("data-state", "failed")
    await expect(flow).to_contain_text("you declined")
    await expect(_key_card(page, "Vercel").get_by_role("alert")).to_contain_text("declined")
    await asking(page)  # the card, asked again: nothing moves until it is answered
    await _shot(flow, "redirect-failed")
    flow = await _press_connect(page, "Vercel")
    tab = await _redirect(page, flow, "Vercel")
    await expect(tab.get_by_role("heading")).to_have_text("Connected. You can close this tab.")
    await _shot(tab, "callback-page")
    await tab.close()
    await expect(flow).to_have_attribute("data-state", "connected")
    await _at_rest_at_the_next_approval(page)
    await _shot(flow, "redirect-connected")


async def _keys_panel(page: Page) -> Locator:
    panel = page.locator("section[aria-label='Your keys']")
    await ready(page)
    await page.locator("#chat-input").fill("/keys")
    await page.get_by_role("option").filter(has_text="keys").first.wait_for()
    await page.keyboard.press("Enter")  # choose the command
    await page.keyboard.press("Enter")  # send it
    await expect(panel).to_be_visible()
    await ready(page)
    return panel


async def test_a_new_user_connects_github_and_vercel_then_deploys(
    browser: Browser, chat_app: App
) -> None:
    stack, key = chat_app.stack, planted_key()
    chat_app.add_runpod_key(key)
    page = await _new_page(browser, chat_app)
    await _send(page, ASK)
    await _endpoint_with_a_pasted_runpod_key(page, key)
    await _github_by_device_flow(page, stack)
    await _approve(page, 1)  # the push, with the connected token
    await _vercel_by_redirect(page, stack)
    await _approve(page, 2)  # the deploy, with the connected Vercel token
    await expect(page.get_by_text(FINAL)).to_be_visible(timeout=_LONG)
    await ready(page)
    await _shot(page, "chat")

    # What the fakes saw: the repo pushed and the app deployed with the connected tokens.
    github_tokens = [row for row in stack.github.oauth.issued if row.access.startswith("gho_")]
    vercel_tokens = [row for row in stack.vercel.oauth.issued if row.access.startswith("vca_")]
    assert len(github_tokens) == 1 and set(github_tokens[0].scopes) >= {"repo", "write:packages"}
    assert any(name == APP_NAME for _, name in stack.github.repos)
    assert any(d["name"] == APP_NAME for d in stack.vercel.state.deployments.values())

    # The keys panel: connected rows, how and until when; Disconnect revokes at Vercel.
    panel = await _keys_panel(page)
    vercel = panel.locator("li[data-provider='vercel']")
    await expect(vercel).to_contain_text("Connected via Sign in with Vercel")
    github = panel.locator("li[data-provider='github']")
    await expect(github).to_contain_text("Connected via GitHub device flow")
    await _shot(panel, "keys-panel")
    await vercel.get_by_role("button", name="Disconnect").click()
    await vercel.get_by_role("button", name="Disconnect").click()  # the confirmation
    await expect(panel.get_by_role("status")).to_contain_text("Vercel revoked and disconnected")
    assert not stack.vercel.oauth.live(vercel_tokens[-1].access)
    await _shot(panel, "keys-panel-disconnected")

    for secret in [key, *(t.access for t in github_tokens + vercel_tokens)]:
        assert chat_app.leaks(secret) == [], secret
    await page.close()


async def test_openrouter_connects_by_its_key_exchange_and_shows_limit_and_credit(
    browser: Browser, chat_app: App
) -> None:
    chat_app.stack.openrouter.new_key_limit = 10.0
    page = await _new_page(browser, chat_app)
    await page.locator("#theme-toggle").click()  # these cards in the light theme
    await page.get_by_role("menuitem", name="Light").click()
    await _send(page, "e2e ask openrouter")
    flow = await _press_connect(page, "OpenRouter", shot="card-openrouter")
    await flow.get_by_role("button", name="Cancel").click()  # changed my mind: the card asks again
    await expect(flow).to_have_attribute("data-state", "failed")
    await expect(_key_card(page, "OpenRouter").get_by_role("alert")).to_contain_text("Cancelled")
    flow = await _press_connect(page, "OpenRouter")
    tab = await _redirect(page, flow, "OpenRouter")
    await expect(tab.get_by_role("heading")).to_have_text("Connected. You can close this tab.")
    callback = tab.url
    await tab.close()

    # The callback works once, for the signed-in user, in the browser that started it.
    assert "/connect/openrouter/callback?" in callback and "code=" in callback
    again = await page.request.get(callback)
    assert again.status == 400 and "press Connect again" in await again.text()
    stranger = await browser.new_page()
    unsigned = await stranger.request.get(callback)
    assert unsigned.status == 401 and "Sign in to KripTik first" in await unsigned.text()
    await stranger.close()
    await expect(flow).to_have_attribute("data-state", "connected")
    await expect(flow).to_contain_text("Spending limit")
    await expect(flow).to_contain_text("$10.00")
    await expect(flow).to_contain_text("Credit left")
    await expect(
        page.get_by_text("Key question answered: OPENROUTER_API_KEY stored")
    ).to_be_visible()
    await ready(page)  # the turn has ended: its cards are drawn for good
    await _shot(flow, "openrouter-connected")
    assert len(chat_app.stack.openrouter.oauth.issued) == 1  # the replay made no second key

    # Reconnect from the keys panel: the same flow, and the panel says what happened.
    panel = await _keys_panel(page)
    row = panel.locator("li[data-provider='openrouter']")
    await expect(row).to_contain_text("Connected via OpenRouter key exchange")
    await row.get_by_role("button", name="Reconnect").click()
    await expect(panel.get_by_role("status")).to_contain_text("follow the card below")
    flow = _flow_card(page, "OpenRouter")
    await expect(flow).to_have_attribute("data-state", "waiting")
    tab = await _redirect(page, flow, "OpenRouter")
    await tab.close()
    await expect(flow).to_have_attribute("data-state", "connected")
    await expect(panel.get_by_role("status")).to_contain_text("OpenRouter connected")

    keys = [row.access for row in chat_app.stack.openrouter.oauth.issued]
    assert len(keys) == 2 and all(chat_app.leaks(k) == [] for k in keys)
    html = await page.content()
    assert not any(k in html for k in keys)
    await page.close()


async def test_a_provider_without_a_registered_app_says_how_to_enable_it(
    browser: Browser, chat_app: App
) -> None:
    page = await _new_page(browser, chat_app)
    await _send(page, "e2e ask netlify")
    card = _key_card(page, "Netlify")
    await expect(card.get_by_label("Netlify API key")).to_be_visible()
    await asking(page)
    await expect(card.get_by_role("button", name="Connect Netlify")).to_have_count(0)
    await expect(card).to_contain_text("Connect Netlify is off on this server")
    await expect(card).to_contain_text("KRIPTIK_NETLIFY_OAUTH_CLIENT_ID")
    await expect(card).to_contain_text(f"{chat_app.url}/connect/netlify/callback")
    await _shot(card, "card-netlify-off")
    await card.get_by_role("button", name="Cancel").click()
    await expect(page.get_by_text("Cancelled: no Netlify key was stored.")).to_be_visible()
    await page.close()
