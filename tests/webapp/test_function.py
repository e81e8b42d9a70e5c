"""The generated `api/infer.js`, run by the real `node`: through `dev-server.mjs` (the same
`(req, res)` entry Vercel calls), and through `handler(event)` as Netlify calls it, against
the RunPod job fake. No answer may ever contain the RunPod key."""

from __future__ import annotations

import http.client
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.webapp.conftest import (
    ENDPOINT_ID,
    MODEL_ID,
    DevServer,
    dev_server,
    spec_for,
    write_project,
)
from tools.simulator.all import FakeStack
from tools.simulator.runpod import DEFAULT_KEY

STATUS = "GET /v2/{endpoint_id}/status/{job_id}"
RUN = "POST /v2/{endpoint_id}/run"


@pytest.fixture(scope="module")
def chat_app(fakes: FakeStack, projects: Path) -> Iterator[DevServer]:
    root = write_project(spec_for("llm", project="fn-chat"), projects)
    (root / ".env").write_text(f"RUNPOD_API_KEY={DEFAULT_KEY}\n")  # Must never be served.
    with dev_server(root, fakes) as server:
        yield server


@pytest.fixture(scope="module")
def job_app(fakes: FakeStack, projects: Path) -> Iterator[DevServer]:
    root = write_project(spec_for("generic", project="fn-jobs"), projects)
    with dev_server(root, fakes, APP_PASSCODE="let me in") as server:
        yield server


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(trust_env=False, timeout=30) as opened:
        yield opened


def _no_key(resp: httpx.Response) -> httpx.Response:
    assert DEFAULT_KEY not in resp.text and DEFAULT_KEY[4:] not in resp.text
    return resp


def test_job_runs_and_is_polled_to_completion(
    job_app: DevServer, stack: FakeStack, client: httpx.Client
) -> None:
    auth = {"x-app-passcode": "let me in"}
    queued = _no_key(
        client.post(f"{job_app.url}/api/infer", json={"input": {"prompt": "hi"}}, headers=auth)
    )
    assert queued.status_code == 202 and queued.json()["status"] == "IN_QUEUE"
    states = [_no_key(client.get(f"{job_app.url}/api/infer", params={"id": queued.json()["id"]}, headers=auth)).json()
              for _ in range(2)]  # fmt: skip
    assert [s["status"] for s in states] == ["IN_PROGRESS", "COMPLETED"]
    assert states[1] | {"delayTime": 0} == {"id": queued.json()["id"], "status": "COMPLETED", "done": True,
                                            "output": {"echo": {"prompt": "hi"}}, "delayTime": 0, "executionTime": 35}  # fmt: skip
    sent = stack.runpod_jobs.calls_to(RUN)[0]
    assert sent.headers["authorization"] == f"Bearer {DEFAULT_KEY}" and sent.json() == {
        "input": {"prompt": "hi"}
    }


def test_passcode_is_required_when_set(
    job_app: DevServer, stack: FakeStack, client: httpx.Client
) -> None:
    for headers in ({}, {"x-app-passcode": "wrong"}):
        resp = client.get(f"{job_app.url}/api/infer", params={"health": "1"}, headers=headers)
        assert resp.status_code == 401 and resp.json() == {
            "error": "This app needs its passcode.",
            "code": "passcode",
        }
    assert stack.runpod_jobs.calls == []


def test_chat_streams_server_sent_events(
    chat_app: DevServer, stack: FakeStack, client: httpx.Client
) -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi <there> `you`", "extra": 1},
    ]
    with client.stream(
        "POST",
        f"{chat_app.url}/api/infer",
        json={"chat": {"messages": messages, "max_tokens": 99999}},
    ) as resp:
        assert resp.status_code == 200 and resp.headers["content-type"].startswith(
            "text/event-stream"
        )
        events = [line[6:] for line in resp.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    text = "".join(json.loads(e)["choices"][0]["delta"]["content"] for e in events[:-1])
    assert text == f"Echo from {MODEL_ID}: Hi <there> `you`"
    assert stack.runpod_jobs.chats == [{"model": MODEL_ID, "stream": True, "max_tokens": 8192, "temperature": 0.7,
                                        "messages": [{"role": "system", "content": "Be brief."},
                                                     {"role": "user", "content": "Hi <there> `you`"}]}]  # fmt: skip


@pytest.mark.parametrize(
    ("method", "query", "body", "status", "error"),
    [
        ("GET", {"id": "../health"}, None, 400, "Pass ?id=JOB_ID"),
        ("POST", {}, b"not json", 400, "not valid JSON"),
        ("POST", {}, b"[1, 2]", 400, "Send a JSON object."),
        ("POST", {}, b'{"input": "text"}', 400, "input must be a JSON object"),
        ("POST", {}, b'{"nothing": 1}', 400, 'or {"chat"'),
        (
            "POST",
            {},
            b'{"chat": {"messages": [{"role": "root", "content": "x"}]}}',
            400,
            "Each message needs",
        ),
        (
            "POST",
            {},
            b'{"input": {"blob": "' + b"x" * (4 * 1024 * 1024) + b'"}}',
            413,
            "larger than 4 MB",
        ),
        ("PUT", {}, b"{}", 405, "Use GET or POST."),
    ],
)
def test_bad_requests_get_a_reason_and_never_reach_runpod(
    chat_app: DevServer, stack: FakeStack, client: httpx.Client,
    method: str, query: dict[str, str], body: bytes | None, status: int, error: str,
) -> None:  # fmt: skip
    resp = client.request(method, f"{chat_app.url}/api/infer", params=query, content=body)
    assert resp.status_code == status and error in resp.json()["error"]
    assert stack.runpod_jobs.calls == []


def test_runpod_failures_become_next_steps_without_the_key(
    chat_app: DevServer, stack: FakeStack, client: httpx.Client
) -> None:
    url = f"{chat_app.url}/api/infer"
    stack.runpod_jobs.fail(RUN, 401, message=f"bad key {DEFAULT_KEY}")
    resp = _no_key(client.post(url, json={"input": {}}))
    assert resp.status_code == 502 and "rejected the server's API key (401)" in resp.json()["error"]
    stack.runpod_jobs.fail(RUN, 400, message=f"input rejected for {DEFAULT_KEY}")
    resp = _no_key(client.post(url, json={"input": {}}))
    assert resp.status_code == 400 and resp.json()["error"].startswith(
        "RunPod rejected the request (400)"
    )
    assert "[redacted]" in resp.json()["error"]
    resp = _no_key(client.get(url, params={"id": "job-unknown"}))
    assert resp.status_code == 404 and "RUNPOD_ENDPOINT_ID" in resp.json()["error"]


def test_retries_reads_and_rate_limits_but_never_a_queued_job(
    chat_app: DevServer, stack: FakeStack, client: httpx.Client
) -> None:
    url = f"{chat_app.url}/api/infer"
    stack.runpod_jobs.fail(RUN, 429, retry_after=0.05)
    job = client.post(url, json={"input": {"n": 1}}).json()
    assert len(stack.runpod_jobs.calls_to(RUN)) == 2  # A 429 means RunPod took nothing.
    stack.runpod_jobs.fail(STATUS, 503, retry_after=0.05)
    assert client.get(url, params={"id": job["id"]}).json()["status"] == "IN_PROGRESS"
    assert [c.status for c in stack.runpod_jobs.calls_to(STATUS)] == [503, 200]
    stack.runpod_jobs.fail(RUN, 500)
    resp = client.post(url, json={"input": {"n": 2}})
    assert resp.status_code == 502 and "RunPod failed (500)" in resp.json()["error"]
    assert len(stack.runpod_jobs.calls_to(RUN)) == 3  # The 500 was not retried: it may have queued.


def test_health_and_missing_configuration(
    chat_app: DevServer, stack: FakeStack, client: httpx.Client, projects: Path
) -> None:
    health = client.get(f"{chat_app.url}/api/infer", params={"health": "1"}).json()
    assert health["ok"] is True and health["workers"]["idle"] == 1
    with dev_server(projects / "fn-chat", stack, RUNPOD_API_KEY="", RUNPOD_ENDPOINT_ID="") as bare:
        resp = client.get(f"{bare.url}/api/infer", params={"health": "1"})
    assert (
        resp.status_code == 500
        and "set RUNPOD_API_KEY and RUNPOD_ENDPOINT_ID" in resp.json()["error"]
    )


@pytest.mark.parametrize(
    "path",
    ["/../.env", "/%2e%2e/.env", "/..%2f.env", "/../api/infer.js", "/.env", "/public/../.env"],
)
def test_dev_server_serves_only_public(chat_app: DevServer, path: str) -> None:
    host = urlsplit(chat_app.url)
    conn = http.client.HTTPConnection(host.hostname or "", host.port, timeout=10)
    conn.request("GET", path)  # Sent as written: no client-side normalisation.
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    assert resp.status == 404 and DEFAULT_KEY.encode() not in body


_ADAPTERS = r"""
const infer = require(process.argv[1]);
const { Readable } = require("node:stream");
const results = {};
function res() {
  const out = { statusCode: 0, headers: {}, chunks: [] };
  return Object.assign(out, {
    on() {}, setHeader(k, v) { out.headers[k] = v; }, flushHeaders() {},
    write(c) { out.chunks.push(Buffer.from(c).toString()); }, end(c) { if (c) out.chunks.push(String(c)); },
  });
}
(async () => {
  const queued = await infer.handler({ httpMethod: "POST", headers: {}, body: Buffer.from('{"input": {"via": "netlify"}}').toString("base64"), isBase64Encoded: true });
  const id = JSON.parse(queued.body).id;
  await infer.handler({ httpMethod: "GET", headers: {}, queryStringParameters: { id } });
  results.netlifyJob = await infer.handler({ httpMethod: "GET", headers: {}, queryStringParameters: { id } });
  results.netlifyChat = await infer.handler({ httpMethod: "POST", headers: { "Content-Type": "application/json" }, body: '{"chat": {"messages": [{"role": "user", "content": "buffered"}]}}' });
  // Vercel hands the function a request whose body it has already read and parsed.
  const parsed = Object.assign(Readable.from([]), { method: "POST", url: "/api/infer", headers: {}, body: { input: { via: "vercel" } } });
  const vercel = res(); await infer(parsed, vercel); results.vercel = vercel;
  const broken = Object.assign(Readable.from([]), { method: "POST", url: "/api/infer", headers: {} });
  Object.defineProperty(broken, "body", { get() { throw new SyntaxError("Invalid JSON"); } });
  const bad = res(); await infer(broken, bad); results.vercelBadJson = bad;
  console.log(JSON.stringify(results));
})();
"""


def test_netlify_and_vercel_entry_points(
    fakes: FakeStack, stack: FakeStack, projects: Path
) -> None:
    root = write_project(spec_for("llm", project="fn-adapters"), projects)
    env = {
        "RUNPOD_API_KEY": DEFAULT_KEY,
        "RUNPOD_ENDPOINT_ID": ENDPOINT_ID,
        "RUNPOD_API_BASE": fakes.url("runpod_jobs") + "/v2",
    }
    done = subprocess.run(["node", "-e", _ADAPTERS, str(root / "api" / "infer.js")], env={"PATH": "/usr/bin:/bin", **env},
                          capture_output=True, text=True, timeout=60, check=True)  # fmt: skip
    assert DEFAULT_KEY not in done.stdout
    out: dict[str, Any] = json.loads(done.stdout)
    assert out["netlifyJob"]["statusCode"] == 200
    assert json.loads(out["netlifyJob"]["body"])["output"] == {"echo": {"via": "netlify"}}
    chat = out["netlifyChat"]
    assert chat["statusCode"] == 200 and chat["headers"]["content-type"].startswith(
        "text/event-stream"
    )
    assert chat["body"].endswith("data: [DONE]\n\n") and '"content": " buffered"' in chat["body"]
    assert (
        out["vercel"]["statusCode"] == 202
        and json.loads("".join(out["vercel"]["chunks"]))["status"] == "IN_QUEUE"
    )
    assert out["vercelBadJson"]["statusCode"] == 400
    assert [c.json() for c in stack.runpod_jobs.calls_to(RUN)] == [
        {"input": {"via": "netlify"}},
        {"input": {"via": "vercel"}},
    ]
