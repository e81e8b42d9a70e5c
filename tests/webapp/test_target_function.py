"""The generated `api/infer.js` for a Hugging Face Inference Endpoint and for a private Cloud
Run service, run by the real `node` (`dev-server.mjs`) against the simulator fakes: each
target's URL, payload and authentication, the scale-from-zero 503s, the ID token minted from
a service-account key on the server, and the integration check. No answer ever holds the
token, the key or a minted ID token."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest

from tests.webapp.conftest import dev_server, write_project
from tests.webapp.target_fakes import (
    HF_INFER,
    HF_TOKEN,
    RUN_INVOKE,
    TOKEN,
    cloud_run_service,
    hf_endpoint,
    target_spec,
)
from tools.publish.check import check_app
from tools.simulator.all import FakeStack
from tools.simulator.gcp_oauth import ALL_PERMISSIONS


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(trust_env=False, timeout=30) as opened:
        yield opened


def _clean(resp: httpx.Response, *secrets: str) -> httpx.Response:
    for secret in secrets:
        for form in (secret, base64.b64encode(secret.encode()).decode()[:40]):
            assert form not in resp.text, "a secret reached the browser"
    return resp


def _claims(jwt: str) -> dict[str, object]:
    part = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def test_hf_app_waits_out_the_cold_start(
    stack: FakeStack, tmp_path: Path, client: httpx.Client
) -> None:
    url = hf_endpoint(stack, wake_requests=2)
    root = write_project(target_spec("generic", "huggingface", url, project="hf-jobs"), tmp_path)
    with dev_server(root, stack, HF_TOKEN=HF_TOKEN, HF_ENDPOINT_URL=url, RUNPOD_API_KEY="") as app:
        health = _clean(client.get(f"{app.url}/api/infer", params={"health": "1"}), HF_TOKEN)
        job = _clean(client.post(f"{app.url}/api/infer",
                                 json={"input": {"prompt": "Hello", "max_new_tokens": 5}}), HF_TOKEN)  # fmt: skip
        lookup = client.get(f"{app.url}/api/infer", params={"id": job.json()["id"]})
    assert health.json() == {"ok": True, "target": "huggingface", "workers": {}, "jobs": {}}
    assert job.status_code == 200 and job.json() | {"id": "x"} == {
        "id": "x", "status": "COMPLETED", "done": True,
        "output": [{"generated_text": "Hello and so on."}],
    }  # fmt: skip
    calls = stack.hf_endpoints.calls_to(HF_INFER)
    assert [c.status for c in calls] == [503, 503, 200]  # scaled to zero, waking, running
    assert calls[-1].json() == {"inputs": "Hello", "parameters": {"max_new_tokens": 5}}
    assert calls[-1].headers["authorization"] == f"Bearer {HF_TOKEN}"
    assert lookup.status_code == 404 and "synchronously" in lookup.json()["error"]


def test_hf_app_tells_the_page_the_model_is_waking(
    stack: FakeStack, tmp_path: Path, client: httpx.Client
) -> None:
    url = hf_endpoint(stack, wake_requests=10_000)
    root = write_project(target_spec("generic", "huggingface", url, project="hf-wake"), tmp_path)
    env = {"HF_TOKEN": HF_TOKEN, "HF_ENDPOINT_URL": url, "WAKE_WAIT_S": "0"}
    with dev_server(root, stack, **env) as app:
        resp = _clean(
            client.post(f"{app.url}/api/infer", json={"input": {"inputs": "hi"}}), HF_TOKEN
        )
    assert resp.status_code == 503 and resp.headers["retry-after"] == "10"
    assert resp.json()["code"] == "waking" and resp.json()["error"].startswith(
        "Waking the model up…"
    )
    assert [c.status for c in stack.hf_endpoints.calls_to(HF_INFER)] == [503]


def test_hf_chat_streams_through_text_generation_inference(
    stack: FakeStack, tmp_path: Path, client: httpx.Client
) -> None:
    url = hf_endpoint(stack, state="running")
    spec = target_spec("llm", "huggingface", url, project="hf-chat", chat=True)
    root = write_project(spec, tmp_path)
    body = {"chat": {"messages": [{"role": "user", "content": "Hi there"}], "max_tokens": 8}}
    with dev_server(root, stack, HF_TOKEN=HF_TOKEN, HF_ENDPOINT_URL=url) as app:
        with client.stream("POST", f"{app.url}/api/infer", json=body) as resp:
            assert resp.status_code == 200
            events = [line[6:] for line in resp.iter_lines() if line.startswith("data: ")]
    text = "".join(json.loads(e)["choices"][0]["delta"]["content"] for e in events[:-1])
    assert text == "Echo: Hi there" and events[-1] == "[DONE]"
    [sent] = stack.hf_endpoints.calls_to("POST /inference/{namespace}/{name}/v1/chat/completions")
    assert sent.json()["model"] == "tgi" and sent.headers["authorization"] == f"Bearer {HF_TOKEN}"


def test_hf_token_refused_is_a_next_step(
    stack: FakeStack, tmp_path: Path, client: httpx.Client
) -> None:
    url = hf_endpoint(stack, state="running")
    root = write_project(target_spec("generic", "huggingface", url, project="hf-denied"), tmp_path)
    wrong = "hf_WRONGwrongWRONGwrong0000000000000000"
    with dev_server(root, stack, HF_TOKEN=wrong, HF_ENDPOINT_URL=url) as app:
        resp = _clean(client.post(f"{app.url}/api/infer", json={"input": {"inputs": "x"}}), wrong)
        bare = client.get(f"{app.url}/api/infer", params={"health": "1"}, headers={})
    assert resp.status_code == 502 and "rejected the server's token (401)" in resp.json()["error"]
    assert "HF_TOKEN" in resp.json()["error"] and bare.status_code == 200


def test_cloud_run_app_calls_the_private_service_with_a_minted_id_token(
    stack: FakeStack, tmp_path: Path, client: httpx.Client
) -> None:
    url, key = cloud_run_service(stack)
    root = write_project(target_spec("generic", "cloudrun", url, project="cr-jobs"), tmp_path)
    env = {
        "GCP_SERVICE_ACCOUNT_JSON": base64.b64encode(key.encode()).decode(),
        "CLOUD_RUN_URL": url,
    }
    with dev_server(root, stack, **env) as app:
        answers = [client.get(f"{app.url}/api/infer", params={"health": "1"})]
        answers += [
            client.post(f"{app.url}/api/infer", json={"input": {"prompt": f"p{i}"}}) for i in (1, 2)
        ]
    [minted] = stack.google_oauth.calls_to(TOKEN)  # one ID token, reused until near expiry
    assertion = parse_qs(minted.body.decode())["assertion"][0]
    claims = _claims(assertion)
    assert (
        claims["target_audience"] == url and claims["aud"] == stack.url("google_oauth") + "/token"
    )
    sent = stack.cloudrun.calls_to(RUN_INVOKE)
    id_token = sent[0].headers["authorization"].removeprefix("Bearer ")
    assert stack.google_oauth.state.id_tokens[id_token].audience == url
    for resp in answers:
        _clean(resp, key, json.loads(key)["private_key"][40:120], id_token, assertion)
    assert answers[0].json() == {"ok": True, "target": "cloudrun", "workers": {}, "jobs": {}}
    assert answers[2].status_code == 200 and answers[2].json() | {"id": "x"} == {
        "id": "x", "status": "COMPLETED", "done": True,
        "output": {"echo": {"prompt": "p2"}, "path": "/runsync"},
    }  # fmt: skip
    assert [c.status for c in sent] == [200, 200]
    assert all(c.headers["authorization"] == f"Bearer {id_token}" for c in sent)


def test_cloud_run_refusals_are_next_steps(
    stack: FakeStack, tmp_path: Path, client: httpx.Client
) -> None:
    url, key = cloud_run_service(stack, permissions=ALL_PERMISSIONS - {"run.routes.invoke"})
    root = write_project(target_spec("generic", "cloudrun", url, project="cr-denied"), tmp_path)
    job = {"input": {"prompt": "x"}}
    with dev_server(root, stack, GCP_SERVICE_ACCOUNT_JSON=key, CLOUD_RUN_URL=url) as app:
        forbidden = _clean(client.post(f"{app.url}/api/infer", json=job), key)
    with dev_server(
        root, stack, GCP_SERVICE_ACCOUNT_JSON='{"type": "x"}', CLOUD_RUN_URL=url
    ) as app:
        broken = client.post(f"{app.url}/api/infer", json=job)
    assert forbidden.status_code == 502 and "roles/run.invoker" in forbidden.json()["error"]
    assert broken.status_code == 500 and "not a service-account JSON key" in broken.json()["error"]


def test_cloud_run_revoked_key_renews_once_then_says_what_to_do(
    stack: FakeStack, tmp_path: Path, client: httpx.Client
) -> None:
    url, key = cloud_run_service(stack)
    root = write_project(target_spec("generic", "cloudrun", url, project="cr-revoked"), tmp_path)
    with dev_server(root, stack, GCP_SERVICE_ACCOUNT_JSON=key, CLOUD_RUN_URL=url) as app:
        first = client.post(f"{app.url}/api/infer", json={"input": {"n": 1}})
        stack.google_oauth.state.revoke(json.loads(key)["client_email"])
        second = _clean(client.post(f"{app.url}/api/infer", json={"input": {"n": 2}}), key)
    assert first.json()["status"] == "COMPLETED"
    assert [c.status for c in stack.cloudrun.calls_to(RUN_INVOKE)] == [200, 401]
    assert [c.status for c in stack.google_oauth.calls_to(TOKEN)] == [200, 400]
    assert (
        second.status_code == 502
        and "Google refused the server's service-account key (400)" in (second.json()["error"])
    )


@pytest.mark.parametrize("target", ["huggingface", "cloudrun"])
async def test_integration_check_passes_on_each_target(
    stack: FakeStack, tmp_path: Path, target: str
) -> None:
    if target == "huggingface":
        url = hf_endpoint(stack, wake_requests=1)
        env = {"HF_TOKEN": HF_TOKEN, "HF_ENDPOINT_URL": url, "WAKE_WAIT_S": "0"}
    else:
        url, key = cloud_run_service(stack)
        env = {"GCP_SERVICE_ACCOUNT_JSON": key, "CLOUD_RUN_URL": url}
    spec = target_spec("generic", target, url, project=f"check-{target}")
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    with dev_server(write_project(spec, tmp_path), stack, **env) as app:
        async with httpx.AsyncClient(trust_env=False, timeout=30) as http:
            result = await check_app(http, app.url, spec, sleep=sleep, poll_s=1.0)
    assert result.passed, result.steps
    assert slept == ([1.0] if target == "huggingface" else [])  # one "waking" answer, asked again
