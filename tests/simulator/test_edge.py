"""`WebEdge`: a generated app published with the real publishing code to the plain Vercel and
Netlify fakes, then the real integration check (`check_app`) against its public URL, all
through one client whose transport is the edge, as `kriptik demo` runs it. Nothing but
loopback is ever reached; any other host is refused before a socket opens."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Literal

import httpx
import pytest
from pydantic import SecretStr

from tools.artifacts.client import EndpointInfo
from tools.artifacts.webapp import AppSpec
from tools.clients._http import Retry
from tools.clients.netlify import NetlifyClient
from tools.clients.vercel import VercelClient
from tools.publish import (
    check_app,
    deploy_to_netlify,
    deploy_to_vercel,
)
from tools.publish.models import AppCheck, WebDeployResult
from tools.simulator.all import FakeStack
from tools.simulator.clock import FakeClock
from tools.simulator.edge import WebEdge
from tools.simulator.netlify import DEFAULT_TOKEN as NETLIFY_TOKEN
from tools.simulator.runpod import DEFAULT_KEY, FakeEndpoint
from tools.simulator.vercel import DEFAULT_TOKEN as VERCEL_TOKEN

ENDPOINT = "ep0edge0001"
KEY = SecretStr(DEFAULT_KEY)
CHAT_ROUTE = "POST /v2/{endpoint_id}/openai/v1/chat/completions"
Host = Literal["vercel", "netlify"]


@pytest.fixture(scope="module")
def served() -> Iterator[FakeStack]:
    stack = FakeStack().start()
    yield stack
    stack.stop()


@pytest.fixture
def stack(served: FakeStack) -> Iterator[FakeStack]:
    """The plain fakes, reset, with one ready endpoint; fails on any contract violation."""
    served.reset()
    data = {"id": ENDPOINT, "name": ENDPOINT, "workers": {"min": 0, "max": 1}}
    served.runpod.state.endpoints[ENDPOINT] = FakeEndpoint(data, polls_left=0)
    yield served
    served.assert_clean()


@pytest.fixture
async def http(stack: FakeStack) -> AsyncIterator[httpx.AsyncClient]:
    """The demo's one client: every request goes through the edge."""
    async with httpx.AsyncClient(transport=WebEdge(stack)) as client:
        yield client


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def spec(kind: Literal["llm", "generic"], project: str) -> AppSpec:
    """A chat app on a vLLM endpoint (streams), or a JSON job app."""
    model = "Qwen/Qwen2.5-0.5B-Instruct" if kind == "llm" else "facebook/detr-resnet-50"
    endpoint = EndpointInfo(endpoint_id=ENDPOINT, model_id=model, openai_compatible=kind == "llm")
    return AppSpec(kind=kind, project=project, title="Edge App", endpoint=endpoint)


async def publish(
    host: Host, app: AppSpec, stack: FakeStack, http: httpx.AsyncClient, clock: FakeClock,
    *, passcode: SecretStr | None = None, check: Callable[[str], Awaitable[AppCheck]] | None = None,
) -> WebDeployResult:  # fmt: skip
    """Deploy with the product's own publishing code (polls on the fake clock)."""
    retry = Retry(sleep=clock.sleep, clock=clock.now)
    if host == "vercel":
        vercel = VercelClient(
            http=http, base_url=stack.url("vercel"), token=SecretStr(VERCEL_TOKEN), retry=retry
        )
        return await deploy_to_vercel(
            app, vercel=vercel, runpod_key=KEY, passcode=passcode, check=check
        )
    netlify = NetlifyClient(http=http, base_url=stack.url("netlify") + "/api/v1",
                               token=SecretStr(NETLIFY_TOKEN), retry=retry)  # fmt: skip
    return await deploy_to_netlify(
        app, netlify=netlify, runpod_key=KEY, passcode=passcode, check=check
    )


@pytest.mark.parametrize("host", ["vercel", "netlify"])
@pytest.mark.parametrize("kind", ["llm", "generic"])
async def test_a_published_app_passes_the_real_integration_check(
    host: Host, kind: Literal["llm", "generic"], stack: FakeStack, http: httpx.AsyncClient,
    clock: FakeClock,
) -> None:  # fmt: skip
    app = spec(kind, f"edge-{kind}")

    async def check(url: str) -> AppCheck:
        return await check_app(http, url, app, sleep=clock.sleep, poll_s=1)

    result = await publish(host, app, stack, http, clock, check=check)
    assert result.url.endswith(f".{host}.app")
    assert result.check is not None and result.check.passed, result.check
    assert [s.name for s in result.check.steps] == [
        "page",
        "health",
        "chat" if kind == "llm" else "job",
    ]
    jobs = stack.runpod_jobs
    if kind == "llm":  # The reply streamed from the job fake's vLLM route, with the app's model.
        (chat,) = jobs.calls_to(CHAT_ROUTE)
        assert b'"model":"Qwen/Qwen2.5-0.5B-Instruct"' in chat.body
        assert "Echo from Qwen" in result.check.steps[-1].detail
    else:  # The job ran on the fake with the worker's input, and was polled to COMPLETED.
        assert len(jobs.calls_to("POST /v2/{endpoint_id}/run")) == 1
        assert jobs.calls_to("GET /v2/{endpoint_id}/status/{job_id}")
    # The function called RunPod with the key the host holds, never anything the browser sent.
    assert all(c.headers["authorization"] == f"Bearer {DEFAULT_KEY}" for c in jobs.calls)


async def test_the_function_answers_as_the_generated_one_does(
    stack: FakeStack, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    app = spec("generic", "edge-shapes")
    result = await publish("vercel", app, stack, http, clock, passcode=SecretStr("open sesame"))
    api = f"{result.url}/api/infer"
    locked = await http.get(api, params={"health": "1"})
    assert locked.status_code == 401
    assert locked.json() == {"error": "This app needs its passcode.", "code": "passcode"}
    headers = {"x-app-passcode": "open sesame"}
    health = (await http.get(api, params={"health": "1"}, headers=headers)).json()
    assert health["ok"] is True and health["workers"]["idle"] == 1
    chat = await http.post(
        api, json={"chat": {"messages": [{"role": "user", "content": "hi"}]}}, headers=headers
    )
    assert (chat.status_code, chat.json()["error"]) == (
        400,
        'This endpoint has no chat route; send {"input": {...}}.',
    )
    bad = await http.get(api, params={"id": "../x"}, headers=headers)
    assert bad.status_code == 400 and "Pass ?id=JOB_ID" in bad.json()["error"]
    gone = await http.get(api, params={"id": "job-unknown"}, headers=headers)
    assert gone.status_code == 404 and "(404)" in gone.json()["error"]
    assert (await http.get(f"{result.url}/app.js")).headers["content-type"] == "text/javascript"
    assert (await http.get(f"{result.url}/package.json")).status_code == 404  # not in public/
    checked = await check_app(
        http, result.url, app, passcode=SecretStr("open sesame"), sleep=clock.sleep
    )
    assert checked.passed, checked


@pytest.mark.parametrize(
    "url", ["https://example.com/", "https://api.runpod.ai/v2/x/health", "http://10.0.0.1:8080/"]
)
async def test_every_other_host_is_refused(url: str, http: httpx.AsyncClient) -> None:
    host = httpx.URL(url).host
    with pytest.raises(
        httpx.ConnectError, match=f"the simulator reaches only loopback: refused {host}"
    ):
        await http.get(url)


async def test_a_deleted_vercel_project_answers_404(
    stack: FakeStack, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    app = spec("llm", "edge-gone")
    result = await publish("vercel", app, stack, http, clock)
    assert (await http.get(result.url)).status_code == 200
    vercel = VercelClient(http=http, base_url=stack.url("vercel"), token=SecretStr(VERCEL_TOKEN))
    assert await vercel.delete_project("edge-gone")
    page = await http.get(result.url)
    assert page.status_code == 404 and page.headers["x-vercel-error"] == "DEPLOYMENT_NOT_FOUND"
    checked = await check_app(http, result.url, app, sleep=clock.sleep)
    assert not checked.passed and checked.steps[-1].name == "page"
    assert (await http.get("https://nobody.netlify.app/")).status_code == 404
