"""`WebEdge` for apps on a Hugging Face Inference Endpoint and on a private Cloud Run service:
published with the real publishing code to the Vercel and Netlify fakes, then the real
integration check and direct calls through the edge, as `kriptik demo` runs them. The
simulated function reaches the endpoint's and service's fakes with the key the host holds
(an ID token minted at the Google OAuth fake for Cloud Run); no answer ever holds a secret."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Iterator
from urllib.parse import parse_qs

import httpx
import pytest
from pydantic import SecretStr

from tests.simulator.test_edge import Host
from tests.webapp.target_fakes import (
    HF_INFER,
    HF_TOKEN,
    RUN_INVOKE,
    TOKEN,
    cloud_run_service,
    hf_endpoint,
    target_spec,
)
from tools.artifacts.webapp import AppSpec
from tools.clients._http import Retry
from tools.clients.netlify import NetlifyClient
from tools.clients.vercel import VercelClient
from tools.publish import check_app, deploy_to_netlify, deploy_to_vercel
from tools.publish.models import AppCheck, WebDeployResult
from tools.simulator.all import FakeStack
from tools.simulator.clock import FakeClock
from tools.simulator.edge import WebEdge
from tools.simulator.netlify import DEFAULT_TOKEN as NETLIFY_TOKEN
from tools.simulator.vercel import DEFAULT_TOKEN as VERCEL_TOKEN


@pytest.fixture(scope="module")
def served() -> Iterator[FakeStack]:
    stack = FakeStack().start()
    yield stack
    stack.stop()


@pytest.fixture
def stack(served: FakeStack) -> Iterator[FakeStack]:
    served.reset()
    yield served
    served.assert_clean()


@pytest.fixture
async def http(stack: FakeStack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=WebEdge(stack)) as client:
        yield client


async def publish(
    host: Host, app: AppSpec, key: str, stack: FakeStack, http: httpx.AsyncClient
) -> WebDeployResult:
    clock = FakeClock()
    retry = Retry(sleep=clock.sleep, clock=clock.now)

    async def check(url: str) -> AppCheck:
        return await check_app(http, url, app, sleep=clock.sleep, poll_s=1)

    if host == "vercel":
        vercel = VercelClient(
            http=http, base_url=stack.url("vercel"), token=SecretStr(VERCEL_TOKEN), retry=retry
        )
        return await deploy_to_vercel(app, vercel=vercel, runpod_key=SecretStr(key), check=check)
    netlify = NetlifyClient(
        http=http,
        base_url=stack.url("netlify") + "/api/v1",
        token=SecretStr(NETLIFY_TOKEN),
        retry=retry,
    )
    return await deploy_to_netlify(app, netlify=netlify, runpod_key=SecretStr(key), check=check)


def clean(resp: httpx.Response, *secrets: str) -> httpx.Response:
    for secret in secrets:
        for form in (secret, base64.b64encode(secret.encode()).decode()[:40]):
            assert form not in resp.text, "a secret reached the browser"
    return resp


@pytest.mark.parametrize("host", ["vercel", "netlify"])
async def test_a_hugging_face_app_passes_the_check_through_a_cold_start(
    host: Host, stack: FakeStack, http: httpx.AsyncClient
) -> None:
    url = hf_endpoint(stack, wake_requests=2)  # scaled to zero: 503, 503, then it serves
    app = target_spec("generic", "huggingface", url, project=f"edge-hf-{host}")
    result = await publish(host, app, HF_TOKEN, stack, http)
    assert result.check is not None and result.check.passed, result.check
    assert [s.name for s in result.check.steps] == ["page", "health", "job"]
    calls = stack.hf_endpoints.calls_to(HF_INFER)
    assert [c.status for c in calls] == [503, 503, 200]  # waited out inside one request
    assert calls[-1].json() == {"inputs": "Hello"}
    assert all(c.headers["authorization"] == f"Bearer {HF_TOKEN}" for c in calls)
    api = f"{result.url}/api/infer"
    health = clean(await http.get(api, params={"health": "1"}), HF_TOKEN)
    assert health.json() == {"ok": True, "target": "huggingface", "workers": {}, "jobs": {}}
    job = clean(
        await http.post(api, json={"input": {"prompt": "Hi", "max_new_tokens": 5}}), HF_TOKEN
    )
    assert job.status_code == 200 and job.json() | {"id": "x"} == {
        "id": "x", "status": "COMPLETED", "done": True, "output": [{"generated_text": "Hi and so on."}],
    }  # fmt: skip
    lookup = await http.get(api, params={"id": job.json()["id"]})
    assert lookup.status_code == 404 and "synchronously" in lookup.json()["error"]


async def test_a_hugging_face_endpoint_still_waking_tells_the_page_to_wait(
    stack: FakeStack, http: httpx.AsyncClient
) -> None:
    url = hf_endpoint(stack, wake_requests=10_000)
    app = target_spec("generic", "huggingface", url, project="edge-hf-waking")
    result = await publish("vercel", app, HF_TOKEN, stack, http)
    resp = clean(
        await http.post(f"{result.url}/api/infer", json={"input": {"inputs": "hi"}}), HF_TOKEN
    )
    assert resp.status_code == 503 and resp.headers["retry-after"] == "10"
    assert resp.json()["code"] == "waking" and resp.json()["error"].startswith(
        "Waking the model up…"
    )


@pytest.mark.parametrize("host", ["vercel", "netlify"])
async def test_a_cloud_run_app_calls_the_service_with_an_id_token_for_its_url(
    host: Host, stack: FakeStack, http: httpx.AsyncClient
) -> None:
    url, _ = cloud_run_service(stack)
    # The demo's key names Google's real token endpoint: the simulated function uses the fake.
    key = stack.google_oauth.state.new_service_account(name="demo-invoker")
    app = target_spec("generic", "cloudrun", url, project=f"edge-cr-{host}")
    result = await publish(host, app, key, stack, http)
    assert result.check is not None and result.check.passed, result.check
    api = f"{result.url}/api/infer"
    answers = [await http.get(api, params={"health": "1"}),
               await http.post(api, json={"input": {"prompt": "p1"}})]  # fmt: skip
    [minted] = stack.google_oauth.calls_to(TOKEN)  # one ID token, reused by the warm function
    assertion = parse_qs(minted.body.decode())["assertion"][0]
    part = assertion.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    assert (
        claims["target_audience"] == url and claims["aud"] == stack.url("google_oauth") + "/token"
    )
    sent = stack.cloudrun.calls_to(RUN_INVOKE)
    id_token = sent[0].headers["authorization"].removeprefix("Bearer ")
    assert stack.google_oauth.state.id_tokens[id_token].audience == url
    assert all(c.headers["authorization"] == f"Bearer {id_token}" for c in sent)
    for resp in answers:
        clean(resp, key, json.loads(key)["private_key"][40:120], id_token, assertion)
    assert answers[0].json() == {"ok": True, "target": "cloudrun", "workers": {}, "jobs": {}}
    assert answers[1].json() | {"id": "x"} == {
        "id": "x", "status": "COMPLETED", "done": True,
        "output": {"echo": {"prompt": "p1"}, "path": "/runsync"},
    }  # fmt: skip


async def test_cloud_run_and_hugging_face_settings_errors_are_the_functions_words(
    stack: FakeStack, http: httpx.AsyncClient
) -> None:
    url, _ = cloud_run_service(stack)
    app = target_spec("generic", "cloudrun", url, project="edge-cr-broken")
    result = await publish("vercel", app, '{"type": "x"}', stack, http)
    assert result.check is not None and not result.check.passed
    broken = await http.get(f"{result.url}/api/infer", params={"health": "1"})
    assert broken.status_code == 500 and "not a service-account JSON key" in broken.json()["error"]
    hf_url = hf_endpoint(stack, state="running")
    hf_app = target_spec("generic", "huggingface", hf_url, project="edge-hf-denied")
    wrong = "hf_WRONGwrongWRONGwrong0000000000000000"
    denied = await publish("vercel", hf_app, wrong, stack, http)
    resp = clean(await http.post(f"{denied.url}/api/infer", json={"input": {"inputs": "x"}}), wrong)
    assert resp.status_code == 502 and "rejected the server's token (401)" in resp.json()["error"]
