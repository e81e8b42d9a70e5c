"""The generated web app and Python client for a SageMaker endpoint, against the AWS fake:
the real `node` runs `api/infer.js` (`dev-server.mjs`), whose own SigV4 signer the fake checks
by recomputing every signature with botocore; the generated Python client runs in a child
Python. A key pair with a session token, a role assumed through STS with its external id,
and a wrong secret (refused, so these tests can fail). No AWS credential is in any file a
browser can fetch, in the built output, or in any answer; only server-side env holds it.
Both serving modes: Hugging Face's LLM container (TGI) and KripTik's worker image, which
takes the job input itself and whose errors come back as SageMaker's 424 ModelError (its
Message quoting the worker, or only its OriginalStatusCode and OriginalMessage fields)."""

from __future__ import annotations

import json
import os
import re
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
from tools.artifacts.client import EndpointInfo, SageMakerServing
from tools.artifacts.webapp import AppKind, AppSpec, render_app
from tools.artifacts.webapp.envfile import local_env_text
from tools.publish.webhost import env_for
from tools.simulator import aws_state as st
from tools.simulator.all import FakeStack
from tools.simulator.aws_state import AwsAccount, Endpoint

NAME: Final = "kriptik-webapp-sm01"
REGION: Final = "us-east-1"
MODEL: Final = "Qwen/Qwen2.5-0.5B-Instruct"
WORKER_MODEL: Final = "stabilityai/sdxl-turbo"
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


def sagemaker_spec(
    url: str, kind: AppKind = "generic", serving: SageMakerServing = "tgi"
) -> AppSpec:
    model = MODEL if serving == "tgi" else WORKER_MODEL
    endpoint = EndpointInfo(
        endpoint_id=NAME, model_id=model, target="sagemaker", url=url, region=REGION,
        serving=serving,
    )  # fmt: skip
    return AppSpec(
        kind=kind, project=f"sm-{kind}-{serving}", title="SageMaker app", endpoint=endpoint
    )


def model_error(status: int, worker_body: str) -> str:
    """InvokeEndpoint's ModelError message as AWS words it: the container's status and its
    whole answer, quoted (all that some answers carry; see `model_error_fields`)."""
    kind = "client" if status < 500 else "server"
    return (
        f'Received {kind} error ({status}) from primary with message "{worker_body}". See '
        f"https://{REGION}.console.aws.amazon.com/cloudwatch/home?region={REGION}#logEventViewer"
        f":group=/aws/sagemaker/Endpoints/{NAME} in account {st.USER_ACCOUNT} for more information."
    )


def model_error_fields(status: int, worker_body: str) -> dict[str, object]:
    """The ModelError body's own fields (botocore's sagemaker-runtime model): the
    container's status and answer, and where its log is."""
    return {
        "OriginalStatusCode": status, "OriginalMessage": worker_body,
        "LogStreamArn": f"arn:aws:logs:{REGION}:{st.USER_ACCOUNT}:log-group:/aws/sagemaker/"
                        f"Endpoints/{NAME}:log-stream:AllTraffic/i-0abc",
    }  # fmt: skip


# AWS's Message when the container's answer was too long to quote: only the fields carry it.
UNQUOTED = (
    "Received {kind} error ({status}) from primary and could not load the entire response "
    "body. See https://x"
)


def function_env(url: str, **extra: str) -> dict[str, str]:
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
    both: list[tuple[AppKind, SageMakerServing]] = [
        ("llm", "tgi"), ("generic", "tgi"), ("image", "worker"), ("generic", "worker")
    ]  # fmt: skip
    for kind, serving in both:
        app = render_app(sagemaker_spec(url, kind, serving))
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
    expected = function_env(url, SAGEMAKER_ACCESS_KEY_ID=long_term)
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
    # A scale-to-zero endpoint is invoked through its component: the policy must allow both.
    zero = sagemaker_spec(url)
    zero = zero.model_copy(
        update={"endpoint": zero.endpoint.model_copy(update={"inference_component": NAME})}
    )
    with pytest.raises(ValueError, match=f"on endpoint/{NAME} and inference-component/{NAME}"):
        env_for(zero, SecretStr(role), None)
    # The running app: every page and script it serves, and its answers, hold none of them.
    chat = render_app(sagemaker_spec(url, "llm"))
    root = write_project(chat.spec, tmp_path)
    with dev_server(root, stack, **function_env(url)) as running:
        pages = [client.get(f"{running.url}/{path}") for path in chat.browser_files()]
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


def test_no_aws_credential_reaches_the_browser_from_a_worker_app(
    stack: FakeStack, tmp_path: Path, client: httpx.Client
) -> None:
    url = sagemaker_endpoint(stack)
    app = render_app(sagemaker_spec(url, "image", "worker"))
    root = write_project(app.spec, tmp_path)
    # A worker's error that quotes the server's keys (it never sees them; no message may be
    # the first to carry one) reaches the page redacted.
    leaked = json.dumps({"error": f"model failed near {SECRET} and {TOKEN}"}, separators=(",", ":"))
    stack.aws.fail_op("sagemaker-runtime:InvokeEndpoint", "ModelError", status=424,
                      message=model_error(500, leaked))  # fmt: skip
    with dev_server(root, stack, **function_env(url)) as running:
        pages = [client.get(f"{running.url}/{path}") for path in app.browser_files()]
        failed = client.post(f"{running.url}/api/infer", json={"input": {"prompt": "a fox"}})
        done = client.post(f"{running.url}/api/infer", json={"input": {"prompt": "a fox"}})
    assert all(page.status_code == 200 for page in pages)
    assert failed.json()["status"] == "FAILED" and "[redacted]" in failed.json()["error"]
    assert done.json()["output"] == {"prompt": "a fox"}
    for resp in [*pages, failed, done]:
        _no_credential(resp.content, KEY_ID, SECRET, TOKEN)
        _no_credential(json.dumps(dict(resp.headers)), KEY_ID, SECRET, TOKEN)


def test_the_worker_app_sends_the_job_input_itself_and_returns_its_output(
    stack: FakeStack, tmp_path: Path, client: httpx.Client
) -> None:
    url = sagemaker_endpoint(stack)
    root = write_project(sagemaker_spec(url, "image", "worker"), tmp_path)
    job = {"prompt": "A lighthouse at dawn", "num_inference_steps": 4, "guidance_scale": 0,
           "width": 512, "height": 512}  # fmt: skip
    with dev_server(root, stack, **function_env(url)) as app:
        answer = client.post(f"{app.url}/api/infer", json={"input": job})
        chat = client.post(f"{app.url}/api/infer", json={"chat": {"messages": []}})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["id"].startswith("sm-") and body["status"] == "COMPLETED" and body["done"] is True
    # The fake echoes what the container got: the page's input object, with no wrapper and
    # no TGI "inputs"/"parameters".
    assert body["output"] == job
    [call] = [c for c in stack.aws.calls if c.path.endswith("/invocations")]
    assert call.status == 200 and json.loads(call.body) == job
    assert call.headers["content-type"] == "application/json"
    assert f"/{REGION}/sagemaker/aws4_request" in call.headers["authorization"]
    assert chat.status_code == 400 and "no chat route" in chat.json()["error"]


@pytest.mark.parametrize(
    ("status", "worker_body", "expected"),
    [
        (400, '{"error": "invalid input: num_inference_steps must be at most 50"}',
         (400, "The model's worker refused the input: num_inference_steps must be at most 50. "
               "Change the input as it says, then run it again.")),
        (413, '{"error": "the request body is larger than 10485760 bytes"}',
         (413, "The input is too large for the model's worker: the request body is larger than "
               "10485760 bytes. Send a smaller one.")),
    ],
)  # fmt: skip
def test_a_worker_refusal_says_what_to_change(
    stack: FakeStack, tmp_path: Path, client: httpx.Client,
    status: int, worker_body: str, expected: tuple[int, str],
) -> None:  # fmt: skip
    url = sagemaker_endpoint(stack)
    root = write_project(sagemaker_spec(url, "image", "worker"), tmp_path)
    stack.aws.fail_op("sagemaker-runtime:InvokeEndpoint", "ModelError", status=424,
                      message=model_error(status, worker_body))  # fmt: skip
    with dev_server(root, stack, **function_env(url)) as app:
        answer = client.post(
            f"{app.url}/api/infer", json={"input": {"prompt": "x", "num_inference_steps": 99}}
        )
    [call] = [c for c in stack.aws.calls if c.path.endswith("/invocations")]
    assert call.status == 424  # one call: a refused input is not sent again
    assert (answer.status_code, answer.json()["error"]) == expected


def test_a_model_failure_is_a_failed_job_with_the_worker_s_message(
    stack: FakeStack, tmp_path: Path, client: httpx.Client
) -> None:
    url = sagemaker_endpoint(stack)
    root = write_project(sagemaker_spec(url, "generic", "worker"), tmp_path)
    stack.aws.fail_op("sagemaker-runtime:InvokeEndpoint", "ModelError", status=424,
                      message=model_error(500, '{"error": "CUDA out of memory."}'))  # fmt: skip
    with dev_server(root, stack, **function_env(url)) as app:
        failed = client.post(f"{app.url}/api/infer", json={"input": {"prompt": "x"}})
        again = client.post(f"{app.url}/api/infer", json={"input": {"prompt": "x"}})
    # As a RunPod or Cloud Run job whose handler failed: final, FAILED, and why.
    body = failed.json()
    assert failed.status_code == 200 and (body["status"], body["done"]) == ("FAILED", True)
    assert body["error"] == "The model failed on this input: CUDA out of memory"
    assert "output" not in body
    assert again.json()["status"] == "COMPLETED"  # the fault was one answer; the endpoint lives


@pytest.mark.parametrize(
    ("status", "worker_body", "expected"),
    [
        (400, f'{{"error": "invalid input: width must be a multiple of 8, not {SECRET}"}}',
         (400, {"error": "The model's worker refused the input: width must be a multiple of 8, "
                         "not [redacted]. Change the input as it says, then run it again.",
                "code": "invalid_input"})),
        (500, '{"error": "CUDA out of memory."}',
         (200, {"status": "FAILED", "done": True,
                "error": "The model failed on this input: CUDA out of memory"})),
    ],
)  # fmt: skip
def test_the_worker_app_reads_the_worker_s_status_and_answer_from_aws_s_fields(
    stack: FakeStack, tmp_path: Path, client: httpx.Client,
    status: int, worker_body: str, expected: tuple[int, dict[str, object]],
) -> None:  # fmt: skip
    """AWS's ModelError carries OriginalStatusCode and OriginalMessage; its Message here
    quotes neither, so only those fields can give the worker's words."""
    url = sagemaker_endpoint(stack)
    root = write_project(sagemaker_spec(url, "generic", "worker"), tmp_path)
    said = UNQUOTED.format(kind="client" if status < 500 else "server", status=status)
    stack.aws.fail_op("sagemaker-runtime:InvokeEndpoint", "ModelError", status=424, message=said,
                      fields=model_error_fields(status, worker_body))  # fmt: skip
    with dev_server(root, stack, **function_env(url)) as app:
        answer = client.post(f"{app.url}/api/infer", json={"input": {"prompt": "x", "width": 13}})
    [call] = [c for c in stack.aws.calls if c.path.endswith("/invocations")]
    assert call.status == 424  # one call: neither is sent again
    body = answer.json()
    body.pop("id", None)
    assert (answer.status_code, body) == expected
    _no_credential(answer.content, KEY_ID, SECRET, TOKEN)


def test_the_fake_injects_only_error_fields_that_aws_s_model_has(stack: FakeStack) -> None:
    for op, code, fields, problem in [
        ("sagemaker-runtime:InvokeEndpoint", "ModelError", {"ErrorCode": "X"},
         "ModelError: unknown member 'ErrorCode'"),
        ("sagemaker-runtime:InvokeEndpoint", "ModelError", {"OriginalStatusCode": "400"},
         "ModelError.OriginalStatusCode: expected an integer"),
        ("sagemaker-runtime:InvokeEndpoint", "ValidationError", {"OriginalStatusCode": 400},
         "ValidationError: unknown member 'OriginalStatusCode'"),
        ("*", "ModelError", {"OriginalStatusCode": 400}, "fields need one operation"),
    ]:  # fmt: skip
        with pytest.raises(ValueError, match=re.escape(problem)):
            stack.aws.fail_op(op, code, status=424, fields=fields)
    assert stack.aws.op_faults == {}


def test_a_tgi_app_keeps_tgi_s_request_shape_and_error(
    stack: FakeStack, tmp_path: Path, client: httpx.Client
) -> None:
    url = sagemaker_endpoint(stack)
    root = write_project(sagemaker_spec(url), tmp_path)
    stack.aws.fail_op("sagemaker-runtime:InvokeEndpoint", "ModelError", status=424,
                      message=model_error(400, '{"error": "Input validation error"}'))  # fmt: skip
    with dev_server(root, stack, **function_env(url)) as app:
        refused = client.post(f"{app.url}/api/infer", json={"input": {"prompt": "Hello"}})
    assert refused.status_code == 400
    assert refused.json()["error"].startswith("SageMaker rejected the request (ModelError): ")


def test_the_function_signs_with_sigv4_and_the_fake_accepts_it(
    stack: FakeStack, tmp_path: Path, client: httpx.Client
) -> None:
    url = sagemaker_endpoint(stack)
    root = write_project(sagemaker_spec(url), tmp_path)
    with dev_server(root, stack, **function_env(url)) as app:
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
    with dev_server(root, stack, **function_env(url, SAGEMAKER_SECRET_ACCESS_KEY=wrong)) as app:
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
    env = function_env(
        url, SAGEMAKER_ACCESS_KEY_ID=st.OPERATOR_KEY_ID, SAGEMAKER_SECRET_ACCESS_KEY=st.OPERATOR_SECRET,
        SAGEMAKER_SESSION_TOKEN="", SAGEMAKER_ROLE_ARN=st.ROLE_ARN,
        SAGEMAKER_EXTERNAL_ID=st.EXTERNAL_ID, SAGEMAKER_STS_URL=stack.url("aws") + "/",
    )  # fmt: skip
    with dev_server(root, stack, **env) as app:
        answers = [client.post(f"{app.url}/api/infer", json={"input": {"prompt": f"p{i}"}})
                   for i in (1, 2)]  # fmt: skip
        sessions = [a for a in stack.aws.state.accounts.values() if a.role == st.ROLE_ARN]
        # An error quoting the reused session's keys (the session came from the cache):
        # they are scrubbed as a fresh session's are.
        leaked = f"{sessions[0].secret} {sessions[0].session_token}"
        stack.aws.fail_op("sagemaker-runtime:InvokeEndpoint", "ValidationError", message=leaked)
        quoted = client.post(f"{app.url}/api/infer", json={"input": {"prompt": "p3"}})
    assert [a.status_code for a in answers] == [200, 200], answers[0].text
    assert quoted.status_code >= 400 and "[redacted]" in quoted.text, quoted.text
    _no_credential(quoted.content, sessions[0].secret, sessions[0].session_token or "")
    assert len(sessions) == 1  # assumed once, reused
    calls = [c for c in stack.aws.calls if c.path.endswith("/invocations")]
    assert [c.headers["x-amz-security-token"] for c in calls] == [sessions[0].session_token] * 3
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
            print(json.dumps({"answer": await client.infer(json.loads(sys.argv[2]))}))
        except SageMakerError as err:
            worker = {"worker_status": err.worker_status} if hasattr(err, "worker_status") else {}
            print(json.dumps({"error": str(err), "status": err.status, **worker}))

asyncio.run(main())
"""


def _run_client(root: Path, env: dict[str, str], arg: object = "Hello") -> dict[str, object]:
    """What the generated client's `infer(arg)` returned or raised, in a child Python."""
    done = subprocess.run(
        [sys.executable, "-c", _RUN_CLIENT, str(root / "clients" / "python"), json.dumps(arg)],
        env={"PATH": os.environ["PATH"], "HOME": str(root), **env},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.splitlines()[-1])


def test_the_python_client_signs_and_the_fake_accepts_it(stack: FakeStack, tmp_path: Path) -> None:
    url = sagemaker_endpoint(stack)
    root = write_project(sagemaker_spec(url), tmp_path)
    assert _run_client(root, function_env(url)) == {
        "answer": [{"generated_text": "Hello [simulated answer]"}]
    }
    [call] = [c for c in stack.aws.calls if c.path.endswith("/invocations")]
    assert call.status == 200 and call.headers["x-amz-security-token"] == TOKEN
    wrong = _run_client(root, function_env(url, SAGEMAKER_SECRET_ACCESS_KEY=SECRET + "x"))
    assert wrong["status"] == 403 and "InvalidSignatureException" in str(wrong["error"])
    assert SECRET not in json.dumps(wrong)
    role = function_env(
        url, SAGEMAKER_ACCESS_KEY_ID=st.OPERATOR_KEY_ID, SAGEMAKER_SECRET_ACCESS_KEY=st.OPERATOR_SECRET,
        SAGEMAKER_SESSION_TOKEN="", SAGEMAKER_ROLE_ARN=st.ROLE_ARN,
        SAGEMAKER_EXTERNAL_ID=st.EXTERNAL_ID, SAGEMAKER_STS_URL=stack.url("aws"),
    )  # fmt: skip
    assert _run_client(root, role) == {"answer": [{"generated_text": "Hello [simulated answer]"}]}


def test_the_python_client_sends_a_worker_its_job_input(stack: FakeStack, tmp_path: Path) -> None:
    url = sagemaker_endpoint(stack)
    root = write_project(sagemaker_spec(url, "image", "worker"), tmp_path)
    job = {"prompt": "A lighthouse at dawn", "num_inference_steps": 4}
    assert _run_client(root, function_env(url), job) == {"answer": job}
    [call] = [c for c in stack.aws.calls if c.path.endswith("/invocations")]
    assert call.status == 200 and json.loads(call.body) == job
    assert call.headers["x-amz-security-token"] == TOKEN
    refused = '{"error": "invalid input: num_inference_steps must be at most 50"}'
    failing = json.dumps({"error": f"CUDA out of memory near {SECRET}"})
    for status, body in ((400, refused), (500, failing)):
        stack.aws.fail_op("sagemaker-runtime:InvokeEndpoint", "ModelError", status=424,
                          message=model_error(status, body))  # fmt: skip
    errors = [_run_client(root, function_env(url), job) for _ in range(2)]
    assert errors == [
        {"error": "The worker refused the input: num_inference_steps must be at most 50. "
                  "Change the input as it says, then call again.",
         "status": 424, "worker_status": 400},
        {"error": "The model failed on this input: CUDA out of memory near [redacted]",
         "status": 424, "worker_status": 500},
    ]  # fmt: skip
    assert SECRET not in json.dumps(errors)
    # A job input is a dict of the worker's fields; anything else is refused before a call.
    wrong = _run_client(root, function_env(url), "A lighthouse")
    assert wrong == {"error": "infer takes the job input as a dict of the worker's fields.",
                     "status": 0, "worker_status": 0}  # fmt: skip


def test_the_python_client_reads_the_worker_s_status_and_body_from_aws_s_fields(
    stack: FakeStack, tmp_path: Path
) -> None:
    """AWS's ModelError body carries OriginalStatusCode and OriginalMessage (botocore's
    sagemaker-runtime model); its Message here quotes neither."""
    url = sagemaker_endpoint(stack)
    root = write_project(sagemaker_spec(url, "image", "worker"), tmp_path)
    worker_body = f'{{"error": "invalid input: width must be a multiple of 8, not {SECRET}"}}'
    stack.aws.fail_op("sagemaker-runtime:InvokeEndpoint", "ModelError", status=424,
                      message=UNQUOTED.format(kind="client", status=400),
                      fields=model_error_fields(400, worker_body))  # fmt: skip
    # A container that answered nothing readable: AWS's Message still says whose fault it was.
    stack.aws.fail_op("sagemaker-runtime:InvokeEndpoint", "ModelError", status=424,
                      message=UNQUOTED.format(kind="server", status=500))  # fmt: skip
    errors = [_run_client(root, function_env(url), {"prompt": "x"}) for _ in range(2)]
    assert errors == [
        {"error": "The worker refused the input: width must be a multiple of 8, not [redacted]. "
                  "Change the input as it says, then call again.",
         "status": 424, "worker_status": 400},
        {"error": "The model failed on this input: no reason given; see the endpoint's "
                  "CloudWatch logs", "status": 424, "worker_status": 500},
    ]  # fmt: skip
