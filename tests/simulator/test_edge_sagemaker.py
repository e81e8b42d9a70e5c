"""`WebEdge`'s SageMaker function against the generated one: the same requests, env and AWS
fake faults go to the real `api/infer.js` under `node` (its `handle`) and to the simulation,
for both serving modes (TGI and KripTik's worker) and an endpoint that scales to zero. Their
answers (status, headers, body) must match word for word, and so must what each sent to the
AWS fake (operation, key, signed headers, session token, component header, exact body), whose
every SigV4 signature botocore recomputes there. No planted secret reaches any answer."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import selectors
import socket
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, Final

import httpx
import pytest

from tests.simulator.test_edge import Host
from tests.simulator.test_edge_targets import clean, publish
from tests.webapp.test_sagemaker_app import (
    KEY_ID,
    NAME,
    REGION,
    SECRET,
    TOKEN,
    UNQUOTED,
    function_env,
    model_error,
    model_error_fields,
    sagemaker_endpoint,
    sagemaker_spec,
)
from tools.artifacts.client import EndpointInfo, SageMakerServing
from tools.artifacts.webapp import AppSpec, render_app
from tools.simulator import aws_state as st
from tools.simulator._edge_function import Site
from tools.simulator._edge_sagemaker_errors import WORDS
from tools.simulator.all import FakeStack
from tools.simulator.aws_state import AwsAccount, InferenceComponent, Resource
from tools.simulator.edge import WebEdge

INVOKE: Final = "POST /endpoints/{name}/invocations"
OP: Final = "sagemaker-runtime:InvokeEndpoint"
COMPONENT: Final = "x-amzn-sagemaker-inference-component"
# Runs the function's host-independent `handle(request, env)`: one JSON line in, one out.
HARNESS: Final = """
const fn = require(process.argv[2]);
const lines = require("node:readline").createInterface({ input: process.stdin });
(async () => {
  for await (const line of lines) {
    const { request, env } = JSON.parse(line);
    const out = await fn.handle(request, env);
    const body = typeof out.body === "string" ? out.body : await new Response(out.body).text();
    process.stdout.write(JSON.stringify({ status: out.status, headers: out.headers, body }) + "\\n");
  }
})();
"""


@dataclass(frozen=True)
class Ask:
    method: str = "POST"
    body: str | None = None
    query: dict[str, str] = field(default_factory=dict[str, str])
    headers: dict[str, str] = field(default_factory=dict[str, str])


Step = Ask | Callable[[FakeStack], object]
HEALTH: Final = Ask("GET", query={"health": "1"})


def post(job: object) -> Ask:
    return Ask(body=json.dumps({"input": job}))


@dataclass(frozen=True)
class Case:
    name: str
    steps: tuple[Step, ...]
    env: dict[str, str | None] = field(default_factory=dict[str, str | None])  # None: unset
    component: bool = False  # the app names the endpoint's inference component
    endpoint: str = "plain"  # "plain", "zero" (0 copies), "warm" (1 copy), "denied"


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


@pytest.fixture(scope="module")
def closed_port() -> Iterator[int]:
    """A loopback port bound by no listener: a connection there is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@cache
def function_source(serving: SageMakerServing, component: bool) -> bytes:
    endpoint = EndpointInfo(
        endpoint_id=NAME, model_id="acme/tiny-llm", target="sagemaker", region=REGION,
        url=f"http://127.0.0.1:1/endpoints/{NAME}/invocations", serving=serving,
        inference_component=NAME if component else None,
    )  # fmt: skip
    spec = AppSpec(kind="generic", project="sm-edge", title="SageMaker", endpoint=endpoint)
    return render_app(spec).files["api/infer.js"]


def endpoint(stack: FakeStack, kind: str) -> str:
    """The endpoint a case calls (its InvokeEndpoint URL), and the app key's permissions."""
    url = sagemaker_endpoint(stack)
    if kind == "denied":
        stack.aws.state.accounts[KEY_ID].policy = []
    if kind in ("zero", "warm"):  # its config's variant names no model: it hosts a component
        state, now, copies = stack.aws.state, datetime.now(UTC), int(kind == "warm")
        variant = {"VariantName": "AllTraffic", "InstanceType": "ml.g5.xlarge"}
        state.endpoint_configs[(REGION, NAME)] = Resource(NAME, f"{NAME}-config",
                                                          {"ProductionVariants": [variant]}, now)  # fmt: skip
        state.endpoints[(REGION, NAME)].config_name = NAME
        state.inference_components[(REGION, NAME)] = InferenceComponent(
            NAME, f"{NAME}-ic", {"VariantName": "AllTraffic"}, now, endpoint_name=NAME,
            status="InService", copies=copies, current=copies,
        )  # fmt: skip
        stack.aws.state.accounts[KEY_ID].policy = [
            {"Effect": "Allow", "Action": "sagemaker:InvokeEndpoint", "Resource": "*"}
        ]
    return url


class Node:
    """The generated function under node, answering one request per line."""

    def __init__(self, source: bytes, tmp: Path) -> None:
        (tmp / "infer.js").write_bytes(source)
        (tmp / "harness.js").write_text(HARNESS)
        self.proc = subprocess.Popen(
            ["node", str(tmp / "harness.js"), str(tmp / "infer.js")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={"PATH": os.environ["PATH"]},
        )  # fmt: skip

    def ask(self, ask: Ask, env: dict[str, str]) -> tuple[Any, ...]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        request = {"method": ask.method, "query": ask.query, "headers": ask.headers,
                   "body": ask.body}  # fmt: skip
        self.proc.stdin.write(json.dumps({"request": request, "env": env}) + "\n")
        self.proc.stdin.flush()
        with selectors.DefaultSelector() as sel:  # never hang: the function times out at 25 s
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            assert sel.select(timeout=60), "node did not answer"
        line = self.proc.stdout.readline()
        assert line, self.proc.stderr.read() if self.proc.stderr else "node exited"
        out = json.loads(line)
        return answer(out["status"], out["headers"], out["body"])

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


def answer(status: int, headers: Any, body: str) -> tuple[Any, ...]:
    kept = {k.lower(): v for k, v in dict(headers).items() if k.lower() in
            ("content-type", "cache-control", "x-content-type-options", "retry-after", "allow")}  # fmt: skip
    try:
        value = json.loads(body)
    except ValueError:
        value = body
    if isinstance(value, dict) and isinstance(value.get("id"), str):  # a fresh UUID each time
        value["id"] = re.sub(r"[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}", "UUID", value["id"])
    return status, kept, value


def sent(stack: FakeStack) -> list[tuple[Any, ...]]:
    """What reached the AWS fake, with a role session's fresh key id and token named."""
    known = {KEY_ID, st.OPERATOR_KEY_ID, TOKEN, None}
    out: list[tuple[Any, ...]] = []
    for c in stack.aws.calls:
        auth = re.fullmatch(r"AWS4-HMAC-SHA256 Credential=([^/]+)/\d{8}/([^,]+), "
                            r"SignedHeaders=([^,]+), Signature=[0-9a-f]{64}",
                            c.headers.get("authorization", ""))  # fmt: skip
        assert auth is not None, c.headers
        key, token = auth.group(1), c.headers.get("x-amz-security-token")
        out.append((c.path, c.status, key if key in known else "SESSION", auth.group(2),
                    auth.group(3), token if token in known else "SESSION", c.headers.get(COMPONENT),
                    c.headers.get("content-type"), c.headers.get("accept"), c.body))  # fmt: skip
    return out


def secrets(stack: FakeStack) -> list[str]:
    sessions = [a for a in stack.aws.state.accounts.values() if a.role]
    return [SECRET, TOKEN, st.OPERATOR_SECRET, *(a.secret for a in sessions),
            *(a.session_token or "" for a in sessions)]  # fmt: skip


async def simulate(case: Case, source: bytes, env: dict[str, str], stack: FakeStack) -> list[Any]:
    answers: list[Any] = []
    edge = WebEdge(stack)  # a fresh instance: no role session kept from another case
    site = Site("vercel", {}, source, frozenset({"/api/infer"}), env)
    try:
        for step in case.steps:
            if not isinstance(step, Ask):
                step(stack)
                continue
            url = httpx.URL("https://sm-edge.vercel.app/api/infer", params=step.query)
            body = step.body.encode() if step.body is not None else b""
            request = httpx.Request(step.method, url, headers=step.headers, content=body)
            resp = await edge.run_function(site, request)
            answers.append(answer(resp.status_code, resp.headers, (await resp.aread()).decode()))
    finally:
        await edge.aclose()
    return answers


def throttle(stack: FakeStack) -> None:
    stack.aws.throttle(OP)


def fail_op(code: str, status: int, times: int = 1, **kw: Any) -> Callable[[FakeStack], None]:
    return lambda stack: stack.aws.fail_op(OP, code, status=status, times=times, **kw)


def fail(kind: int | str) -> Callable[[FakeStack], None]:
    return lambda stack: stack.aws.fail(INVOKE, kind)  # pyright: ignore[reportArgumentType]


def expire_sessions(stack: FakeStack) -> None:
    assert stack.aws.expire_sessions() == 1


def expire_key(stack: FakeStack) -> None:
    stack.aws.state.accounts[KEY_ID].expired = True


ROLE: Final[dict[str, str | None]] = {
    "SAGEMAKER_ACCESS_KEY_ID": st.OPERATOR_KEY_ID, "SAGEMAKER_SECRET_ACCESS_KEY": st.OPERATOR_SECRET,
    "SAGEMAKER_SESSION_TOKEN": None, "SAGEMAKER_ROLE_ARN": st.ROLE_ARN,
    "SAGEMAKER_EXTERNAL_ID": st.EXTERNAL_ID, "SAGEMAKER_STS_URL": "{aws}/",
}  # fmt: skip
QUOTED_400 = model_error(400, f'{{"error": "invalid input: width must be a multiple of 8, not {SECRET}"}}')  # fmt: skip
CASES: Final = [
    Case("serves", (HEALTH, post({"prompt": "Héllo wörld"}),
                    post({"inputs": [{"role": "user", "content": "hi"}],
                          "parameters": {"max_new_tokens": " 9 "}}),
                    post({"inputs": "x", "parameters": {"temperature": 0.5}}),
                    post({"inputs": []}), post({"text": "t", "top_k": 5}),
                    Ask("GET", query={"id": "sm-1"}), Ask("GET"),
                    Ask(body='{"chat": {"messages": []}}'), Ask(body="{}"), post("text"),
                    Ask(body=""), Ask(body="[1]"), Ask(body="{bad"), Ask("PUT", body="{}"))),
    Case("passcode", (HEALTH, Ask("GET", query={"health": "1"}, headers={"x-app-passcode": "pass"})),
         env={"APP_PASSCODE": "pass"}),
    Case("no secret", (HEALTH,), env={"SAGEMAKER_SECRET_ACCESS_KEY": " "}),
    Case("no url", (HEALTH,), env={"SAGEMAKER_ENDPOINT_URL": None}),
    Case("not a url", (HEALTH,), env={"SAGEMAKER_ENDPOINT_URL": "ftp://x y"}),
    Case("not a region", (HEALTH,), env={"SAGEMAKER_REGION": "mars-north"}),
    Case("the app's region", (HEALTH, post({"prompt": "p"})), env={"SAGEMAKER_REGION": None}),
    Case("wrong secret", (post({"prompt": "p"}),), env={"SAGEMAKER_SECRET_ACCESS_KEY": SECRET[:-4] + "XXXX"}),
    Case("unknown key", (post({"prompt": "p"}),), env={"SAGEMAKER_ACCESS_KEY_ID": "AKIANOBODYKNOWSTHIS1"}),
    Case("expired key", (expire_key, post({"prompt": "p"}))),
    Case("denied", (post({"prompt": "p"}),), endpoint="denied"),
    Case("gone", (post({"prompt": "p"}),), env={"SAGEMAKER_ENDPOINT_URL": "{aws}/endpoints/nope/invocations"}),
    Case("throttled", (throttle, post({"prompt": "p"}))),
    Case("429 then served", (fail_op("ThrottlingException", 429, times=2), post({"prompt": "p"}))),
    Case("429 thrice", (fail_op("ThrottlingException", 429, times=3), post({"prompt": "p"}))),
    Case("server error", (fail(503), post({"prompt": "p"}), fail_op("InternalFailure", 500), post({"prompt": "p"}))),
    Case("not json", (fail("malformed"), post({"prompt": "p"}))),
    Case("refused input", (fail_op("ModelError", 424, message=QUOTED_400), post({"prompt": "p"}))),
    Case("too large", (fail_op("ModelError", 424, message=model_error(413, '{"error": "too big."}')),
                       post({"prompt": "p"}))),
    Case("model failed", (fail_op("ModelError", 424, message=UNQUOTED.format(kind="server", status=500),
                                  fields=model_error_fields(500, '{"error": "CUDA out of memory."}')),
                          post({"prompt": "p"}))),
    Case("said nothing", (fail_op("ModelError", 424, message=UNQUOTED.format(kind="server", status=500)),
                          post({"prompt": "p"}))),
    Case("role", (HEALTH, post({"prompt": "p1"}), expire_sessions, post({"prompt": "p2"}),
                  post({"prompt": "p3"})), env=ROLE),
    Case("role refused", (HEALTH,), env=ROLE | {"SAGEMAKER_EXTERNAL_ID": "someone-else"}),
    Case("sts not a url", (HEALTH, post({"prompt": "p"})), env=ROLE | {"SAGEMAKER_STS_URL": "sts"}),
    Case("sts unreachable", (HEALTH,), env=ROLE | {"SAGEMAKER_STS_URL": "http://127.0.0.1:{closed}/"}),
    Case("unreachable", (post({"prompt": "p"}),),
         env={"SAGEMAKER_ENDPOINT_URL": "http://127.0.0.1:{closed}/endpoints/x/invocations"}),
    Case("component", (post({"prompt": "p"}),), component=True, endpoint="warm"),
    Case("component at zero", (post({"prompt": "p"}), post({"prompt": "p"})), component=True, endpoint="zero"),
    Case("component unnamed", (post({"prompt": "p"}),), endpoint="warm"),
]  # fmt: skip


def resolve(case: Case, url: str, stack: FakeStack, port: int) -> dict[str, str]:
    env: dict[str, str] = function_env(url)
    for name, value in case.env.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value.replace("{aws}", stack.url("aws")).replace("{closed}", str(port))
    return env


@pytest.mark.parametrize("serving", ["tgi", "worker"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
async def test_the_simulated_function_answers_as_the_generated_one_word_for_word(
    case: Case, serving: SageMakerServing, stack: FakeStack, closed_port: int, tmp_path: Path
) -> None:
    source = function_source(serving, case.component)
    runs: list[tuple[list[Any], list[Any]]] = []
    for simulated in (False, True):
        stack.reset()
        env = resolve(case, endpoint(stack, case.endpoint), stack, closed_port)
        if simulated:
            answers = await simulate(case, source, env, stack)
        else:
            node, answers = Node(source, tmp_path), []
            try:
                for step in case.steps:
                    if isinstance(step, Ask):
                        answers.append(node.ask(step, env))
                    else:
                        step(stack)
            finally:
                node.close()
        stack.assert_clean()
        text = json.dumps(answers)
        assert not [s for s in secrets(stack) if s and s in text], "a secret reached an answer"
        runs.append((answers, sent(stack)))
    (node_answers, node_sent), (sim_answers, sim_sent) = runs
    assert sim_answers == node_answers
    assert sim_sent == node_sent


@pytest.mark.parametrize("host", ["vercel", "netlify"])
@pytest.mark.parametrize("serving", ["tgi", "worker"])
async def test_a_published_sagemaker_app_passes_its_check_and_never_shows_the_secret(
    host: Host, serving: SageMakerServing, stack: FakeStack
) -> None:
    """Published with the real publishing code: the host holds the planted key pair, the
    real integration check passes through the edge, and neither the secret nor anything
    derived from it is in a page, an answer or a header."""
    url = sagemaker_endpoint(stack)
    long_term = "AKIAKRIPTIKPLANTED02"
    stack.aws.state.accounts[long_term] = AwsAccount(SECRET, policy=[
        {"Effect": "Allow", "Action": "sagemaker:InvokeEndpoint", "Resource": "*"}])  # fmt: skip
    app = sagemaker_spec(url, "generic", serving).model_copy(
        update={"project": f"sm-{host}-{serving}"}
    )
    key = json.dumps({"access_key_id": long_term, "secret_access_key": SECRET})
    async with httpx.AsyncClient(transport=WebEdge(stack)) as http:
        result = await publish(host, app, key, stack, http)
        assert result.check is not None and result.check.passed, result.check
        pages = [await http.get(f"{result.url}/{path}") for path in render_app(app).browser_files()]
        api = f"{result.url}/api/infer"
        answers = [await http.get(api, params={"health": "1"}),
                   await http.post(api, json={"input": {"prompt": "a lighthouse"}})]  # fmt: skip
    assert all(page.status_code == 200 for page in pages) and len(pages) > 3
    assert answers[1].json()["status"] == "COMPLETED"
    invoked = [c for c in stack.aws.calls if c.path.endswith("/invocations")]
    assert len(invoked) == 2 and all(f"Credential={long_term}/" in c.headers["authorization"]
                                     for c in invoked)  # fmt: skip
    for resp in [*pages, *answers]:
        clean(resp, SECRET)
        assert SECRET not in json.dumps(dict(resp.headers))


async def test_without_sts_url_the_role_is_assumed_at_the_aws_fake(stack: FakeStack) -> None:
    """The real function's default STS is sts.REGION.amazonaws.com; in the simulator it is
    the AWS fake's. An endpoint URL beyond loopback is unreachable, and nothing is sent."""
    env = resolve(Case("role", (), env=ROLE | {"SAGEMAKER_STS_URL": None}),
                  sagemaker_endpoint(stack), stack, 0)  # fmt: skip
    far = f"https://runtime.sagemaker.{REGION}.amazonaws.com/endpoints/{NAME}/invocations"
    site = Site("netlify", {}, function_source("tgi", False), frozenset({"/api/infer"}), env)
    request = httpx.Request("POST", "https://x.netlify.app/api/infer", json={"input": {"prompt": "p"}})  # fmt: skip
    edge = WebEdge(stack)
    try:
        served = await edge.run_function(site, request)
        far_site = dataclasses.replace(site, env=env | {"SAGEMAKER_ENDPOINT_URL": far})
        unreachable = await edge.run_function(far_site, request)
    finally:
        await edge.aclose()
    assert served.status_code == 200, served.text
    assert [c.path for c in stack.aws.calls] == ["/", f"/endpoints/{NAME}/invocations"]
    assert "/sts/aws4_request" in stack.aws.calls[0].headers["authorization"]
    assert (unreachable.status_code, unreachable.json()) == (
        502, {"error": "Could not reach SageMaker. Check the server's network, then try again."}
    )  # fmt: skip
    assert len(stack.aws.calls) == 2  # the far endpoint was never called


def test_every_sagemaker_sentence_is_the_generated_function_s_own() -> None:
    """Each sentence of the simulation (its fixed parts around each value) is in the
    template, once its strings joined over `+` are read as one (LABEL is "SageMaker"), so
    the ones no case above reaches (a timeout) are its words too."""
    template = (
        Path(__file__).parents[2] / "tools/artifacts/webapp/templates/api/infer.js.j2"
    ).read_text()
    joined = re.sub(r"""["`]\s*\+\s*\n\s*["`]""", "", template).replace("${LABEL}", "SageMaker")
    for name, sentence in WORDS.items():
        for part in re.split(r"\{[a-z]+\}", sentence):
            assert part in joined, f"{name}: {part!r} is not the function's"
