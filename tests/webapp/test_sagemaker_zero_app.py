"""The generated web app and Python client on a SageMaker endpoint that scales to zero, made
by the real `SageMakerTarget` (boto3 through the assumed role) against the AWS fake and
idled to 0 copies with `scale_in`: every call names the inference component (the header
the fake reads into `InferenceComponentName`, signed with SigV4); at zero the function
answers at once 503 `{"code": "waking"}` with Retry-After and says the endpoint is waking,
the fake's alarm starts a copy, and the next call answers. The Python client says so once
and calls again until the copy runs, within SAGEMAKER_COLD_START_S. Both serving modes
(the fake echoes what the container got, whichever image it runs). No answer, header or
message holds an AWS credential."""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import boto3.session  # pyright: ignore[reportMissingTypeStubs]
import httpx
import pytest
from pydantic import SecretStr

from tests.webapp.conftest import dev_server, write_project
from tests.webapp.test_sagemaker_app import KEY_ID, REGION, SECRET, TOKEN, function_env
from tools.artifacts.client import EndpointInfo, SageMakerServing
from tools.artifacts.webapp import AppKind, AppSpec, render_app
from tools.clients._http import Retry
from tools.simulator import aws_state as st
from tools.simulator.all import FakeStack
from tools.simulator.aws_state import AwsAccount
from tools.simulator.clock import FakeClock
from tools.targets.base import TargetPlan
from tools.targets.sagemaker import SageMakerTarget, resource_name
from vault.settings import Settings

DEP: Final = "dep_01HZEROWEBAPP"
NAME: Final = resource_name(DEP)
HEADER: Final = "x-amzn-sagemaker-inference-component"
ROLE: Final = {"role_arn": st.ROLE_ARN, "external_id": st.EXTERNAL_ID, "region": REGION}


class _Vaulted:
    async def __call__(self, user_id: str) -> SecretStr:
        return SecretStr(json.dumps(ROLE))


@dataclass(frozen=True)
class ZeroEndpoint:
    url: str  # its InvokeEndpoint URL, as the deploy target records it
    target: SageMakerTarget
    plan: TargetPlan


async def zero_endpoint(stack: FakeStack, tmp_path: Path) -> ZeroEndpoint:
    """A deployment that scales to zero (min_replicas 0), created and made ready by the real
    target, then idle past its cooldown (0 copies, 0 instances); and the app's own key pair,
    allowed exactly what the generated README's IAM policy allows."""
    stack.aws.state.ready_after = 0  # each start is one DescribeInferenceComponent away
    settings = Settings(**stack.settings_fields(), http_timeout_s=5.0)
    clock = FakeClock()
    retry = Retry(sleep=clock.sleep, clock=clock.now, rng=random.Random(7))
    target = SageMakerTarget(settings=settings, tokens=_Vaulted(), prices_path=tmp_path / "p.json",
                             retry=retry, poll_s=1.0)  # fmt: skip
    offer = next(g for g in await target.catalog("u1") if g.offer_id == "ml.g5.xlarge")
    plan = TargetPlan.model_validate({
        "deployment_id": DEP, "repo_id": "acme/tiny-llm", "revision": "abc123",
        "task": "text-generation", "gpu": offer, "min_replicas": 0, "max_replicas": 1,
        "idle_scale_to_zero_s": 600,
    })  # fmt: skip
    await target.create("u1", plan)
    ready = await target.wait_ready("u1", plan, _ignore, timeout_s=600)
    assert ready.url is not None and stack.aws.scale_in(NAME) == 0
    policy = readme_policy(zero_spec(ready.url, "generic", "tgi"))
    stack.aws.state.accounts[KEY_ID] = AwsAccount(SECRET, session_token=TOKEN, policy=policy)
    return ZeroEndpoint(ready.url, target, plan)


async def _ignore(text: str) -> None:
    del text


def zero_spec(url: str, kind: AppKind, serving: SageMakerServing) -> AppSpec:
    endpoint = EndpointInfo(
        endpoint_id=NAME, model_id="acme/tiny-llm", target="sagemaker", url=url, region=REGION,
        serving=serving, inference_component=NAME,
    )  # fmt: skip
    return AppSpec(kind=kind, project=f"zero-{kind}-{serving}", title="Zero", endpoint=endpoint)


def readme_policy(spec: AppSpec) -> list[dict[str, Any]]:
    """The IAM policy the generated README tells the user to give the app's key."""
    readme = render_app(spec).files["README.md"].decode()
    found = re.search(r"```json\n(.*?)\n```", readme, re.DOTALL)
    assert found is not None
    return json.loads(found.group(1))["Statement"]


def _aws_client(stack: FakeStack) -> Any:
    return boto3.session.Session().client(  # pyright: ignore[reportUnknownMemberType]
        "sagemaker", region_name=REGION, endpoint_url=stack.url("aws"),
        aws_access_key_id=st.ACCESS_KEY_ID, aws_secret_access_key=st.SECRET_ACCESS_KEY,
    )  # fmt: skip


def copies(stack: FakeStack) -> tuple[int, int]:
    """The component's (desired, current) copies, read with DescribeInferenceComponent: on
    the fake, a copy the alarm asked for has started once it is described."""
    described = _aws_client(stack).describe_inference_component(InferenceComponentName=NAME)
    return described["RuntimeConfig"]["DesiredCopyCount"], described["RuntimeConfig"]["CurrentCopyCount"]  # fmt: skip


def _invocations(stack: FakeStack) -> list[Any]:
    return [c for c in stack.aws.calls if c.path.endswith("/invocations")]


def _clean(raw: str | bytes) -> None:
    text = raw if isinstance(raw, bytes) else raw.encode()
    for secret in (KEY_ID, SECRET, TOKEN):
        assert secret.encode() not in text, "an AWS credential in an answer"


WAKING: Final = (
    "Waking the model up… The SageMaker endpoint scaled to zero while idle and is starting the "
    "model again, which takes several minutes. Try again in a minute; the page keeps asking."
)


@pytest.mark.parametrize(
    ("kind", "serving", "job", "answer"),
    [
        ("generic", "tgi", {"prompt": "Hello"}, [{"generated_text": "Hello [simulated answer]"}]),
        ("image", "worker", {"prompt": "a fox", "width": 512}, {"prompt": "a fox", "width": 512}),
    ],
)  # fmt: skip
async def test_the_function_names_the_component_says_it_is_waking_then_answers(
    stack: FakeStack, tmp_path: Path, kind: AppKind, serving: SageMakerServing,
    job: dict[str, Any], answer: object,
) -> None:  # fmt: skip
    zero = await zero_endpoint(stack, tmp_path)
    root = write_project(zero_spec(zero.url, kind, serving), tmp_path)
    stack.aws.calls.clear()
    async with httpx.AsyncClient(trust_env=False, timeout=30) as client:
        with dev_server(root, stack, **function_env(zero.url)) as app:
            waking = await client.post(f"{app.url}/api/infer", json={"input": job})
            # Answered at once (a function cannot hold a request for minutes), and said plainly.
            assert waking.status_code == 503, waking.text
            assert waking.json() == {"error": WAKING, "code": "waking"}
            assert waking.headers["retry-after"] == "60"
            [call] = _invocations(stack)
            assert call.status == 400 and call.headers[HEADER] == NAME
            assert HEADER in call.headers["authorization"].split("SignedHeaders=")[1]
            # The request set off the alarm, whose step policy asked for a copy; it starts.
            alarm = stack.aws.state.alarms[(REGION, f"{NAME}-no-capacity")]
            assert alarm.state == "ALARM"
            assert copies(stack) == (1, 1)
            done = await client.post(f"{app.url}/api/infer", json={"input": job})
    assert done.status_code == 200, done.text
    body = done.json()
    assert (body["status"], body["done"], body["output"]) == ("COMPLETED", True, answer)
    calls = _invocations(stack)
    assert [c.status for c in calls] == [400, 200]
    assert all(c.headers[HEADER] == NAME for c in calls)
    assert json.loads(calls[1].body) == (job if serving == "worker" else {"inputs": "Hello"})
    for resp in (waking, done):
        _clean(resp.content)
        _clean(json.dumps(dict(resp.headers)))
    assert await zero.target.teardown("u1", zero.plan) is True
    assert stack.aws.state.resource_count() == 0


async def test_what_a_call_to_the_component_needs_is_said_when_it_is_missing(
    stack: FakeStack, tmp_path: Path
) -> None:
    """What the README's policy adds is needed (AWS authorises the call on the component
    too), and an app made without the component's name is told to be generated again."""
    zero = await zero_endpoint(stack, tmp_path)
    spec = zero_spec(zero.url, "generic", "tgi")
    policy = readme_policy(spec)
    assert policy[0]["Resource"] == [
        f"arn:aws:sagemaker:{REGION}:*:endpoint/{NAME}",
        f"arn:aws:sagemaker:{REGION}:*:inference-component/{NAME}",
    ]
    endpoint_only = [policy[0] | {"Resource": policy[0]["Resource"][0]}]
    stack.aws.state.accounts[KEY_ID].policy = endpoint_only
    root = write_project(spec, tmp_path)
    async with httpx.AsyncClient(trust_env=False, timeout=30) as client:
        with dev_server(root, stack, **function_env(zero.url)) as app:
            refused = await client.post(f"{app.url}/api/infer", json={"input": {"prompt": "Hello"}})
    assert refused.status_code == 502 and "(AccessDenied)" in refused.json()["error"]
    stack.aws.state.accounts[KEY_ID].policy = policy
    unnamed = spec.endpoint.model_dump() | {"inference_component": None}
    classic = spec.model_copy(update={"endpoint": EndpointInfo.model_validate(unnamed)})
    root = write_project(classic.model_copy(update={"project": "zero-unnamed"}), tmp_path)
    async with httpx.AsyncClient(trust_env=False, timeout=30) as client:
        with dev_server(root, stack, **function_env(zero.url)) as app:
            unnamed_answer = await client.post(
                f"{app.url}/api/infer", json={"input": {"prompt": "Hi"}}
            )
    [call] = [c for c in _invocations(stack) if HEADER not in c.headers]
    assert call.status == 400
    assert (unnamed_answer.status_code, unnamed_answer.json()["error"]) == (
        502, "This SageMaker endpoint runs its model as an inference component, which this app "
             "does not name. Generate the app again from the deployment, then redeploy.",
    )  # fmt: skip
    assert await zero.target.teardown("u1", zero.plan) is True


_WAKE_CLIENT = """
import asyncio, json, sys
sys.path.insert(0, sys.argv[1])
from sagemaker_client import EndpointWaking, SageMakerClient, SageMakerError

async def main():
    try:
        async with SageMakerClient() as client:
            print(json.dumps({"answer": await client.infer(json.loads(sys.argv[2]))}))
    except SageMakerError as err:
        print(json.dumps({"error": str(err), "status": err.status,
                          "waking": isinstance(err, EndpointWaking)}))

asyncio.run(main())
"""


def _start_client(root: Path, env: dict[str, str], arg: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", _WAKE_CLIENT, str(root / "clients" / "python"), json.dumps(arg)],
        env={"PATH": os.environ["PATH"], "HOME": str(root), **env},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _finish(process: subprocess.Popen[str]) -> tuple[dict[str, Any], str]:
    out, err = process.communicate(timeout=90)
    assert process.returncode == 0, err[-2000:]
    return json.loads(out.splitlines()[-1]), err


@pytest.mark.parametrize(
    ("serving", "arg", "answer"),
    [
        ("tgi", "Hello", [{"generated_text": "Hello [simulated answer]"}]),
        ("worker", {"prompt": "a fox"}, {"prompt": "a fox"}),
    ],
)
async def test_the_python_client_waits_while_the_endpoint_wakes_then_answers(
    stack: FakeStack, tmp_path: Path, serving: SageMakerServing, arg: object, answer: object
) -> None:
    zero = await zero_endpoint(stack, tmp_path)
    root = write_project(zero_spec(zero.url, "generic", serving), tmp_path)
    stack.aws.calls.clear()
    process = _start_client(root, function_env(zero.url, SAGEMAKER_COLD_START_S="60"), arg)
    assert process.stderr is not None
    # The client says, once, that the endpoint is waking: its first call met no capacity.
    said = process.stderr.readline()
    assert "The SageMaker endpoint is waking from zero" in said, said
    assert "takes several minutes. Calling again for up to 60 s." in said
    assert copies(stack) == (1, 1)  # the alarm's copy has started
    result, rest = _finish(process)
    assert result == {"answer": answer}
    calls = _invocations(stack)
    assert calls[0].status == 400 and calls[-1].status == 200
    assert all(c.headers[HEADER] == NAME for c in calls)
    assert "waking from zero" not in rest  # said once
    _clean(said + rest + json.dumps(result))
    assert await zero.target.teardown("u1", zero.plan) is True


async def test_the_python_client_gives_up_after_its_cold_start_limit(
    stack: FakeStack, tmp_path: Path
) -> None:
    zero = await zero_endpoint(stack, tmp_path)
    root = write_project(zero_spec(zero.url, "generic", "tgi"), tmp_path)
    stack.aws.calls.clear()
    # Nothing describes the component here, so the copy the alarm asked for never starts.
    env = function_env(zero.url, SAGEMAKER_COLD_START_S="2.5")
    result, err = _finish(_start_client(root, env, "Hello"))
    assert result == {
        "error": "The SageMaker endpoint is still waking from zero (this client waited 2.5 s, "
                 "SAGEMAKER_COLD_START_S): it scaled to zero while idle, and starting the model "
                 "again takes several minutes. Call again in a few minutes, or raise "
                 "SAGEMAKER_COLD_START_S.",
        "status": 400, "waking": True,
    }  # fmt: skip
    calls = _invocations(stack)
    # At 0 s, after the first backoff (2 s) and at the limit (2.5 s; unless a slow call ran past it).
    assert len(calls) in (2, 3) and {c.status for c in calls} == {400}
    assert "Calling again for up to 2.5 s." in err
    _clean(err + json.dumps(result))
    # 0: say so at once, without calling again.
    stack.aws.calls.clear()
    now, _ = _finish(_start_client(root, function_env(zero.url, SAGEMAKER_COLD_START_S="0"), "Hi"))
    assert now["waking"] is True and len(_invocations(stack)) == 1
    bad, _ = _finish(
        _start_client(root, function_env(zero.url, SAGEMAKER_COLD_START_S="soon"), "Hi")
    )
    assert bad == {"error": "SAGEMAKER_COLD_START_S must be a number of seconds, e.g. 600.",
                   "status": 0, "waking": False}  # fmt: skip
    assert await zero.target.teardown("u1", zero.plan) is True
