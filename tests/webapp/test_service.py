"""Publishing from a real vault and deployment record: the service the tools use, the
agent tools themselves (run by pydantic-ai, with the approval they require), and the
closing summary."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from pydantic_ai import Agent, DeferredToolRequests, DeferredToolResults, Tool
from pydantic_ai.messages import ModelMessage, ToolReturnPart

from tests.conftest import new_master_key
from tests.tool_calls_model import approve_cards, calls_then_done
from tests.webapp.conftest import ENDPOINT_ID, dev_server, fake_retry, write_project
from tools import app_tools
from tools.approval import Approvals
from tools.publish import RepoResult
from tools.publish.from_deployment import AppUnavailable, default_project, spec_from_deployment
from tools.publish.service import LivePublishing
from tools.publish.summary import summarize
from tools.simulator.all import FakeStack
from tools.simulator.clock import FakeClock
from tools.simulator.github import DEFAULT_TOKEN as GITHUB_TOKEN
from tools.simulator.runpod import DEFAULT_KEY
from tools.simulator.vercel import DEFAULT_TOKEN as VERCEL_TOKEN
from vault import REDACTOR, Settings, UserView, Vault
from vault.deployments import DeploymentCaps, DeploymentStore, DeploymentView

MODEL = "Qwen/Qwen2.5-0.5B-Instruct"


class _ToLocalApp(httpx.AsyncBaseTransport):
    """Provider APIs go to their fakes; the deployed app's host goes to the app in `node`."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.app: httpx.URL | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.app is not None and request.url.host.endswith((".vercel.app", ".netlify.app")):
            request.url = request.url.copy_with(
                scheme="http", host=self.app.host, port=self.app.port
            )
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


KEYS = (("runpod", DEFAULT_KEY), ("github", GITHUB_TOKEN), ("vercel", VERCEL_TOKEN))


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory, fakes: FakeStack) -> Settings:
    root = tmp_path_factory.mktemp("service")
    return Settings(home=root / "home", database_url=f"sqlite+aiosqlite:///{root / 'k.db'}",
                    master_key=SecretStr(new_master_key()), **fakes.settings_fields())  # fmt: skip


@pytest.fixture(scope="module")
async def vault(settings: Settings) -> AsyncIterator[Vault]:
    opened = await Vault.open(settings)  # One per module: opening migrates the database.
    yield opened
    await opened.close()
    REDACTOR.clear()


@pytest.fixture(scope="module")
async def user(vault: Vault) -> UserView:
    return await vault.users.create("ann", SecretStr("correct horse battery staple"))


@pytest.fixture(autouse=True)
async def keys(vault: Vault, user: UserView) -> None:
    for provider, key in KEYS:
        await vault.credentials.add(user.id, provider, SecretStr(key))


@pytest.fixture(scope="module")
async def deployment(vault: Vault, user: UserView) -> DeploymentView:
    store = DeploymentStore(vault.sessions)
    view = await store.create(user.id, caps=DeploymentCaps(max_live=2, max_workers=3, max_gpus=2),
                              repo_id=MODEL, revision="a" * 40, kind="vllm",
                              name="kriptik-qwen", workers_max=2, usd_per_second=0.00031,
                              plan={"worker": {"task": "text-generation"}, "test_input": {"prompt": "hi"}})  # fmt: skip
    return await store.update(view.id, endpoint_id=ENDPOINT_ID, state="ready")


@pytest.fixture
def transport() -> _ToLocalApp:
    return _ToLocalApp()


@pytest.fixture
async def http(transport: _ToLocalApp) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=transport, trust_env=False) as client:
        yield client


@pytest.fixture
def live_app(
    stack: FakeStack, projects: Path, deployment: DeploymentView, transport: _ToLocalApp
) -> Iterator[None]:
    with dev_server(write_project(spec_from_deployment(deployment), projects), stack) as server:
        transport.app = httpx.URL(server.url)
        yield


async def _no_sleep(_: float) -> None:
    return None


async def test_spec_from_deployment_picks_the_page(deployment: DeploymentView) -> None:
    spec = spec_from_deployment(deployment)
    assert (spec.kind, spec.endpoint.openai_compatible, spec.project, spec.title) == (
        "llm",
        True,
        "qwen2-5-0-5b-instruct-app",
        "Qwen2.5-0.5B-Instruct",
    )
    cases = {("diffusers", "text-to-image", "org/sdxl"): ("image", None), ("diffusers", "text-to-video", "org/wan"): ("media", "video"),
             ("custom", "image-to-3d", "tencent/Hunyuan3D-2"): ("media", "model3d"), ("transformers", "fill-mask", "org/bert"): ("generic", None),
             # No page of their own yet: embeddings and speech recognition get the JSON form.
             ("transformers", "feature-extraction", "BAAI/bge-small-en-v1.5"): ("generic", None),
             ("transformers", "automatic-speech-recognition", "openai/whisper-tiny"): ("generic", None)}  # fmt: skip
    for (kind, task, repo), expected in cases.items():
        view = deployment.model_copy(
            update={
                "kind": kind,
                "repo_id": repo,
                "plan": {"worker": {"task": task}, "test_input": {"inputs": "x"}},
            }
        )
        spec = spec_from_deployment(view)
        assert (spec.kind, spec.media) == expected and spec.example_input == {"inputs": "x"}
    with pytest.raises(AppUnavailable, match="no endpoint yet"):
        spec_from_deployment(deployment.model_copy(update={"endpoint_id": None}))
    assert default_project("org/..Weird__NAME..") == "weird-name-app"


@dataclass
class _Deps:
    user_id: str
    publishing: app_tools.AppPublishing
    lines: list[str] = field(default_factory=list[str])
    approvals: Approvals = field(default_factory=Approvals)

    async def progress(
        self, text: str, *, tool_call_id: str | None = None, fraction: float | None = None
    ) -> None:
        self.lines.append(text)


async def test_agent_tools_need_approval_then_publish(
    vault: Vault, settings: Settings, user: UserView, deployment: DeploymentView, http: httpx.AsyncClient,
    stack: FakeStack, live_app: None,
) -> None:  # fmt: skip
    publishing = LivePublishing(
        vault, settings, http, retry=fake_retry(FakeClock()), sleep=_no_sleep
    )
    deps = _Deps(user.id, publishing)
    tools = [Tool(app_tools.push_to_github, requires_approval=True, docstring_format="google", require_parameter_descriptions=True),
             Tool(app_tools.deploy_vercel, requires_approval=True, docstring_format="google", require_parameter_descriptions=True)]  # fmt: skip
    agent = Agent(calls_then_done(("push_to_github", {"endpoint_id": ENDPOINT_ID, "repo_name": "Bad_Name"}),
                          ("push_to_github", {"endpoint_id": ENDPOINT_ID, "repo_name": "qwen-chat"}),
                          ("deploy_vercel", {"endpoint_id": ENDPOINT_ID, "project_name": "qwen-chat"})),
                  deps_type=_Deps, tools=tools, output_type=[str, DeferredToolRequests])  # fmt: skip
    history: list[ModelMessage] = []
    results: DeferredToolResults | None = None
    for _ in range(4):
        run = await agent.run(
            None if history else "build me an app",
            deps=deps,
            message_history=history,
            deferred_tool_results=results,
        )
        history = run.all_messages()
        if not isinstance(run.output, DeferredToolRequests):
            break
        assert (
            not stack.github.repos or run.output.approvals[0].tool_name == "deploy_vercel"
        )  # Nothing before approval.
        results, plans = await approve_cards(run.output, deps, tools)
    assert run.output == "done"
    returns = {
        p.tool_call_id: p.content
        for m in history
        for p in getattr(m, "parts", [])
        if isinstance(p, ToolReturnPart)
    }
    assert "cannot name the repo" in str(returns["call-0"])  # no card: refused, unasked
    repo, web = returns["call-1"], returns["call-2"]
    assert repo.full_name == "octo-tester/qwen-chat" and repo.private and repo.changed
    assert web.url == "https://qwen-chat.vercel.app" and web.check.passed, web.check.summary
    assert (
        plans[0]
        .creates[0]
        .startswith("a Vercel project qwen-chat, public at https://qwen-chat.vercel.app")
    )
    assert "Publishing the app to GitHub (qwen-chat, private)" in deps.lines
    # The user's local copy: the project and a filled .env (0600, git-ignored, no key).
    local = publishing.local_project(user.id, "qwen-chat")
    env = (local / ".env").read_text()
    assert (local / ".env").stat().st_mode & 0o777 == 0o600 and (local / "dev-server.mjs").is_file()
    assert f"RUNPOD_ENDPOINT_ID={ENDPOINT_ID}\n" in env and "RUNPOD_API_KEY=\n" in env
    assert f"RUNPOD_API_BASE={settings.runpod_jobs_base_url}\n" in env and DEFAULT_KEY not in env
    assert f"Local copy: {local} (fill RUNPOD_API_KEY in its .env)" in deps.lines
    assert DEFAULT_KEY not in str(history)
    # What was published is in the deployment's record (teardown deletes from there), and
    # the deploy's result carries the closing summary, written from that record.
    assert isinstance(web, app_tools.PublishedApp) and isinstance(repo, RepoResult)
    record = await DeploymentStore(vault.sessions).get(deployment.id, user_id=user.id)
    assert record.urls["repo"] == repo.html_url and record.urls["webapp"] == web.url
    assert record.urls["vercel_project"] == web.project_id
    assert f"- Code: {repo.html_url}" in web.summary and f"- App: {web.url}" in web.summary
    assert "Your GitHub repository stays" in web.summary


async def test_approval_plans_state_what_and_price() -> None:
    push = await app_tools.push_card(
        None, {"endpoint_id": "e", "repo_name": "qwen-chat", "private": False}
    )
    assert push.creates[
        0
    ] == "a PUBLIC GitHub repository qwen-chat (reused if it exists)" and push.price.startswith(
        "free"
    )
    netlify = await app_tools.netlify_card(None, {"endpoint_id": "e", "site_name": "qwen"})
    assert netlify.summary == "Deploy the web app for endpoint e to https://qwen.netlify.app"
    assert netlify.price.startswith(
        "free on Netlify's Starter plan; each request from the app runs a job"
    )


async def test_summary_names_the_endpoint_the_app_the_price_and_teardown(
    deployment: DeploymentView,
) -> None:
    app = "https://qwen2-5-0-5b-instruct-app.vercel.app"
    urls = {"webapp": app, "repo": "https://github.com/octo-tester/qwen2-5-0-5b-instruct-app"}
    summary = summarize(deployment.model_copy(update={"urls": urls})).markdown()
    assert (
        f"- Endpoint: https://api.runpod.ai/v2/{ENDPOINT_ID}" in summary
        and f"- App: {app}" in summary
    )
    assert (
        "nothing while idle: it scales to zero" in summary and "$1.12/h per busy worker" in summary
    )
    assert f"`kriptik deployments teardown {deployment.id}`" in summary
