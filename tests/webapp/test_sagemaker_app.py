"""The generated web app and Python client for a SageMaker endpoint, against the AWS fake:
the real `node` runs `api/infer.js` (`dev-server.mjs`), whose own SigV4 signer the fake checks
by recomputing every signature with botocore; the generated Python client runs in a child
Python. A key pair with a session token, a role assumed through STS with its external id,
and a wrong secret (refused, so these tests can fail). No AWS credential is in any file a
browser can fetch, in the built output, or in any answer; only server-side env holds it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import httpx
import pytest
from pydantic import SecretStr

from tests.webapp.conftest import dev_server, write_project
from tools.artifacts.client import EndpointInfo
from tools.artifacts.webapp import AppKind, AppSpec, render_app
from tools.artifacts.webapp.envfile import local_env_text
from tools.publish.webhost import env_for
from tools.simulator import aws_state as st
from tools.simulator.all import FakeStack
from tools.simulator.aws_state import AwsAccount, Endpoint

NAME: Final = "kriptik-webapp-sm01"
REGION: Final = "us-east-1"
MODEL: Final = "Qwen/Qwen2.5-0.5B-Instruct"
# Planted temporary keys: they may appear only in server-side env and files.
KEY_ID: Final = "ASIAKRIPTIKPLANTED01"
SECRET: Final = "PLANTEDsecretACCESSkeyPLANTED0123456789"
TOKEN: Final = "FQoGZXIvYXdzEPLANTEDsessionTOKEN0123456789PLANTED"


def sagemaker_endpoint(stack: FakeStack) -> str:
    """An InService endpoint in the fake, and a temporary key pair that may call it;
    returns its InvokeEndpoint URL (as the deploy target records it)."""
    state, now = stack.aws.state, datetime.now(UTC)
    arn = f"arn:aws:sagemaker:{REGION}:{st.USER_ACCOUNT}:endpoint/{NAME}"
    state.endpoints[(REGION, NAME)] = Endpoint(
        NAME, arn, {"EndpointName": NAME, "EndpointConfigName": NAME}, now, status="InService"
    )
    state.accounts[KEY_ID] = AwsAccount(SECRET, session_token=TOKEN, policy=[
        {"Effect": "Allow", "Action": "sagemaker:InvokeEndpoint", "Resource": arn}])  # fmt: skip
    return f"{stack.url('aws')}/endpoints/{NAME}/invocations"


def sagemaker_spec(url: str, kind: AppKind = "generic") -> AppSpec:
    endpoint = EndpointInfo(
        endpoint_id=NAME, model_id=MODEL, target="sagemaker", url=url, region=REGION
    )
    return AppSpec(kind=kind, project=f"sm-{kind}", title="SageMaker app", endpoint=endpoint)


def _function_env(url: str, **extra: str) -> dict[str, str]:
    return {"SAGEMAKER_ACCESS_KEY_ID": KEY_ID, "SAGEMAKER_SECRET_ACCESS_KEY": SECRET,
            "SAGEMAKER_SESSION_TOKEN": TOKEN, "SAGEMAKER_ENDPOINT_URL": url,
            "SAGEMAKER_REGION": REGION} | extra  # fmt: skip


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(trust_env=False, timeout=30) as opened:
        yield opened


def _no_credential(text: str | bytes, *secrets: str) -> None:
    raw = text if isinstance(text, bytes) else text.encode()
    for secret in secrets:
        assert secret.encode() not in raw, "an AWS credential reached the browser"


def test_no_aws_credential_in_any_browser_file_or_built_output(
    stack: FakeStack, tmp_path: Path, client: httpx.Client
) -> None:
    url = sagemaker_endpoint(stack)
    for kind in ("llm", "generic"):
        app = render_app(sagemaker_spec(url, kind))
        assert "clients/python/sagemaker_client.py" in app.files
        # What any host serves to a browser, and every built output, holds no key material.
        served = app.browser_files() | app.netlify_files()
        built = app.vercel_files() | {"infer.zip": app.netlify_function_zip()}
        for raw in [*served.values(), *built.values(), *app.files.values()]:
            _no_credential(raw, KEY_ID, SECRET, TOKEN, "AKIA")
        for raw in served.values():
            assert b"SAGEMAKER_" not in raw and b"x-amz-" not in raw.lower()
        example = app.files[".env.example"].decode()
        assert (
            "SAGEMAKER_ACCESS_KEY_ID=\n" in example and "SAGEMAKER_SECRET_ACCESS_KEY=\n" in example
        )
        local = local_env_text(app, jobs_base_url="https://api.runpod.ai/v2")
        assert (
            f"SAGEMAKER_ENDPOINT_URL={url}\n" in local and f"SAGEMAKER_REGION={REGION}\n" in local
        )
    # The publisher gives the planted keys to the function's env, and only there.
    long_term = "AKIAKRIPTIKPLANTED02"
    stored = json.dumps({"access_key_id": long_term, "secret_access_key": SECRET})
    env = env_for(sagemaker_spec(url), SecretStr(stored), None)
    values = {name: value.get_secret_value() for name, value in env.items()}
    expected = _function_env(url, SAGEMAKER_ACCESS_KEY_ID=long_term)
    assert values == {k: v for k, v in expected.items() if k != "SAGEMAKER_SESSION_TOKEN"}
    # A role only KripTik may assume, or keys that expire, cannot serve the app: said before
    # anything is created.
    role = json.dumps({"role_arn": st.ROLE_ARN, "external_id": st.EXTERNAL_ID})
    temporary = json.dumps({"access_key_id": KEY_ID, "secret_access_key": SECRET,
                            "session_token": TOKEN})  # fmt: skip
    for refused in (role, temporary):
        with pytest.raises(ValueError, match="sagemaker:InvokeEndpoint on endpoint/") as err:
            env_for(sagemaker_spec(url), SecretStr(refused), None)
        _no_credential(str(err.value), SECRET, TOKEN)
    # The running app: every page and script it serves, and its answers, hold none of them.
    root = write_project(sagemaker_spec(url, "llm"), tmp_path)
    with dev_server(root, stack, **_function_env(url)) as running:
        pages = [client.get(f"{running.url}/{path}") for path in app.browser_files()]
        pages.append(client.get(f"{running.url}/"))
        asked = {"inputs": [{"role": "user", "content": "hi"}], "parameters": {"max_new_tokens": 9}}
        answer = client.post(f"{running.url}/api/infer", json={"input": asked})
    assert all(page.status_code == 200 for page in pages)
    for resp in [*pages, answer]:
        _no_credential(resp.content, KEY_ID, SECRET, TOKEN)
        _no_credential(json.dumps(dict(resp.headers)), KEY_ID, SECRET, TOKEN)
    assert answer.status_code == 200, answer.text
    # The chat page's history went as the LLM container's Messages API.
    assert answer.json()["output"] == {"messages": [{"role": "user", "content": "hi"}],
                                       "max_tokens": 9}  # fmt: skip


def test_the_function_signs_with_sigv4_and_the_fake_accepts_it(
    stack: FakeStack, tmp_path: Path, client: httpx.Client
) -> None:
    url = sagemaker_endpoint(stack)
    root = write_project(sagemaker_spec(url), tmp_path)
    with dev_server(root, stack, **_function_env(url)) as app:
        health = client.get(f"{app.url}/api/infer", params={"health": "1"})
        answer = client.post(f"{app.url}/api/infer", json={"input": {"prompt": "Hello"}})
    assert health.json() == {"ok": True, "target": "sagemaker", "workers": {}, "jobs": {}}
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "COMPLETED" and body["done"] is True
    # The fake recomputed the signature with botocore and ran the model: its answer came back.
    assert body["output"] == [{"generated_text": "Hello [simulated answer]"}]
    [call] = [c for c in stack.aws.calls if c.path.endswith("/invocations")]
    assert call.status == 200
    auth = call.headers["authorization"]
    assert auth.startswith(f"AWS4-HMAC-SHA256 Credential={KEY_ID}/")
    assert f"/{REGION}/sagemaker/aws4_request" in auth
    assert call.headers["x-amz-security-token"] == TOKEN
    assert json.loads(call.body) == {"inputs": "Hello"}


def test_a_wrong_secret_is_refused_by_the_fake_and_said_plainly(
    stack: FakeStack, tmp_path: Path, client: httpx.Client
) -> None:
    url = sagemaker_endpoint(stack)
    root = write_project(sagemaker_spec(url), tmp_path)
    wrong = SECRET[:-4] + "XXXX"
    with dev_server(root, stack, **_function_env(url, SAGEMAKER_SECRET_ACCESS_KEY=wrong)) as app:
        answer = client.post(f"{app.url}/api/infer", json={"input": {"prompt": "Hello"}})
    [call] = [c for c in stack.aws.calls if c.path.endswith("/invocations")]
    assert call.status == 403
    assert answer.status_code == 502
    assert (
        "AWS refused the server's credentials (InvalidSignatureException)" in answer.json()["error"]
    )
    _no_credential(answer.content, wrong, TOKEN)


def test_the_function_assumes_the_role_with_its_external_id(
    stack: FakeStack, tmp_path: Path, client: httpx.Client
) -> None:
    url = sagemaker_endpoint(stack)
    root = write_project(sagemaker_spec(url), tmp_path)
    env = _function_env(
        url, SAGEMAKER_ACCESS_KEY_ID=st.OPERATOR_KEY_ID, SAGEMAKER_SECRET_ACCESS_KEY=st.OPERATOR_SECRET,
        SAGEMAKER_SESSION_TOKEN="", SAGEMAKER_ROLE_ARN=st.ROLE_ARN,
        SAGEMAKER_EXTERNAL_ID=st.EXTERNAL_ID, SAGEMAKER_STS_URL=stack.url("aws") + "/",
    )  # fmt: skip
    with dev_server(root, stack, **env) as app:
        answers = [client.post(f"{app.url}/api/infer", json={"input": {"prompt": f"p{i}"}})
                   for i in (1, 2)]  # fmt: skip
    assert [a.status_code for a in answers] == [200, 200], answers[0].text
    sessions = [a for a in stack.aws.state.accounts.values() if a.role == st.ROLE_ARN]
    assert len(sessions) == 1  # assumed once, reused
    calls = [c for c in stack.aws.calls if c.path.endswith("/invocations")]
    assert [c.headers["x-amz-security-token"] for c in calls] == [sessions[0].session_token] * 2
    for answer in answers:
        _no_credential(answer.content, sessions[0].secret, sessions[0].session_token or "")
    wrong = env | {"SAGEMAKER_EXTERNAL_ID": "someone-else"}
    with dev_server(root, stack, **wrong) as app:
        refused = client.get(f"{app.url}/api/infer", params={"health": "1"})
    assert refused.status_code == 502 and "AccessDenied" in refused.json()["error"]


_RUN_CLIENT = """
import asyncio, json, sys
sys.path.insert(0, sys.argv[1])
from sagemaker_client import SageMakerClient, SageMakerError

async def main():
    async with SageMakerClient() as client:
        try:
            print(json.dumps({"answer": await client.infer("Hello")}))
        except SageMakerError as err:
            print(json.dumps({"error": str(err), "status": err.status}))

asyncio.run(main())
"""


def _run_client(root: Path, env: dict[str, str]) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", _RUN_CLIENT, str(root / "clients" / "python")],
        env={"PATH": os.environ["PATH"], "HOME": str(root), **env},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.splitlines()[-1])


def test_the_python_client_signs_and_the_fake_accepts_it(stack: FakeStack, tmp_path: Path) -> None:
    url = sagemaker_endpoint(stack)
    root = write_project(sagemaker_spec(url), tmp_path)
    assert _run_client(root, _function_env(url)) == {
        "answer": [{"generated_text": "Hello [simulated answer]"}]
    }
    [call] = [c for c in stack.aws.calls if c.path.endswith("/invocations")]
    assert call.status == 200 and call.headers["x-amz-security-token"] == TOKEN
    wrong = _run_client(root, _function_env(url, SAGEMAKER_SECRET_ACCESS_KEY=SECRET + "x"))
    assert wrong["status"] == 403 and "InvalidSignatureException" in str(wrong["error"])
    assert SECRET not in json.dumps(wrong)
    role = _function_env(
        url, SAGEMAKER_ACCESS_KEY_ID=st.OPERATOR_KEY_ID, SAGEMAKER_SECRET_ACCESS_KEY=st.OPERATOR_SECRET,
        SAGEMAKER_SESSION_TOKEN="", SAGEMAKER_ROLE_ARN=st.ROLE_ARN,
        SAGEMAKER_EXTERNAL_ID=st.EXTERNAL_ID, SAGEMAKER_STS_URL=stack.url("aws"),
    )  # fmt: skip
    assert _run_client(root, role) == {"answer": [{"generated_text": "Hello [simulated answer]"}]}
