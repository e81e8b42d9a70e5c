"""The generated clients, run for real against the RunPod job fake: the Python client
(imported from the rendered file), the JavaScript build of the TypeScript client (by
`node`), and the `openai` SDK example on the vLLM route."""

from __future__ import annotations

import importlib.util
import json
import os
import runpy
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.conftest import need_service
from tests.webapp.conftest import ENDPOINT_ID, MODEL_ID, typescript_compiler
from tools.artifacts.client import EndpointInfo, render_clients
from tools.simulator.all import FakeStack
from tools.simulator.runpod import DEFAULT_KEY

STATUS = "GET /v2/{endpoint_id}/status/{job_id}"
RUN = "POST /v2/{endpoint_id}/run"
ENDPOINT = EndpointInfo(endpoint_id=ENDPOINT_ID, model_id=MODEL_ID, openai_compatible=True)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("clients")
    for path, raw in render_clients(ENDPOINT, example_input={"prompt": "Hi"}).items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(raw)
    return root


@pytest.fixture(scope="module")
def client_module(rendered: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "generated_runpod_client", rendered / "clients/python/runpod_client.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules.
    spec.loader.exec_module(module)
    return module


def _client(module: ModuleType, stack: FakeStack, **kwargs: Any) -> Any:
    return module.RunPodClient(
        api_key=DEFAULT_KEY, base_url=stack.url("runpod_jobs") + "/v2", **kwargs
    )


async def test_python_client_runs_polls_and_runsyncs(
    client_module: ModuleType, stack: FakeStack
) -> None:
    async with _client(client_module, stack) as client:
        assert DEFAULT_KEY not in repr(client)
        job = await client.run({"prompt": "hi"})
        assert job.status == "IN_QUEUE" and not job.done
        done = await client.wait(job.id, poll_s=0.01)
        assert (done.status, done.output, done.execution_ms) == (
            "COMPLETED",
            {"echo": {"prompt": "hi"}},
            35,
        )
        synced = await client.runsync({"prompt": "sync"}, wait_ms=5)
        assert synced.status == "COMPLETED" and synced.output == {"echo": {"prompt": "sync"}}
        assert stack.runpod_jobs.calls_to("POST /v2/{endpoint_id}/runsync")[0].query == [
            ("wait", "1000")
        ]
        assert (await client.health())["workers"]["idle"] == 1


async def test_python_client_errors_are_readable_and_keyless(
    client_module: ModuleType, stack: FakeStack
) -> None:
    async with _client(client_module, stack, max_retries=1) as client:
        stack.runpod_jobs.fail(RUN, 401, message=f"no such key {DEFAULT_KEY}")
        with pytest.raises(client_module.RunPodError) as caught:
            await client.run({})
        assert caught.value.status == 401 and "rejected the API key" in str(caught.value)
        stack.runpod_jobs.fail(RUN, 422, message=f"bad input near {DEFAULT_KEY}")
        with pytest.raises(client_module.RunPodError) as caught:
            await client.run({})
        assert DEFAULT_KEY not in str(caught.value) and "[redacted]" in str(caught.value)
        with pytest.raises(client_module.RunPodError, match="is not a RunPod job id"):
            await client.status("../health")
    with pytest.raises(client_module.RunPodError, match="RUNPOD_API_KEY"):
        client_module.RunPodClient(api_key="")


async def test_python_client_retries_reads_but_not_queued_jobs(
    client_module: ModuleType, stack: FakeStack
) -> None:
    async with _client(client_module, stack, max_retries=2) as client:
        stack.runpod_jobs.fail(RUN, 429, retry_after=0.01)
        job = await client.run({"n": 1})
        stack.runpod_jobs.fail(STATUS, 503, retry_after=0.01)
        assert (await client.status(job.id)).status == "IN_PROGRESS"
        stack.runpod_jobs.fail(RUN, 503)
        with pytest.raises(client_module.RunPodError, match=r"RunPod failed \(503\)"):
            await client.run({"n": 2})
    assert [c.status for c in stack.runpod_jobs.calls_to(RUN)] == [429, 200, 503]
    assert [c.status for c in stack.runpod_jobs.calls_to(STATUS)] == [503, 200]


_JS = r"""
import { RunPodClient, RunPodError, DEFAULT_ENDPOINT_ID } from "./runpod-client.mjs";
const client = new RunPodClient({ apiKey: process.env.KEY, baseUrl: process.env.BASE });
const out = { endpoint: DEFAULT_ENDPOINT_ID, keyInClient: JSON.stringify(client).includes(process.env.KEY) };
out.done = await client.runAndWait({ prompt: "from js" }, { pollMs: 10 });
out.sync = await client.runsync({ prompt: "sync" }, 5);
try { await client.status("../x"); } catch (err) { out.badId = [err.name, err.message]; }
const denied = new RunPodClient({ apiKey: "rpa_WRONG0000000000000000000000", baseUrl: process.env.BASE, maxRetries: 0 });
try { await denied.run({}); } catch (err) { out.denied = [err instanceof RunPodError, err.status, err.message]; }
console.log(JSON.stringify(out));
"""


def test_javascript_client_against_the_fake(rendered: Path, stack: FakeStack) -> None:
    if shutil.which("node") is None:
        need_service("Node.js", "install Node 18 or newer (Debian's `nodejs` package)")
    env = {"PATH": os.environ["PATH"], "KEY": DEFAULT_KEY, "BASE": stack.url("runpod_jobs") + "/v2"}
    script = rendered / "clients/typescript/check.mjs"
    script.write_text(_JS)
    done = subprocess.run(
        ["node", str(script)], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    out = json.loads(done.stdout)
    assert out["endpoint"] == ENDPOINT_ID and out["keyInClient"] is False
    assert out["done"]["status"] == "COMPLETED" and out["done"]["output"] == {
        "echo": {"prompt": "from js"}
    }
    assert out["sync"]["output"] == {"echo": {"prompt": "sync"}}
    assert out["badId"] == ["RunPodError", '"../x" is not a RunPod job id.']
    assert out["denied"][:2] == [True, 401] and "rejected the API key" in out["denied"][2]


def test_typescript_and_javascript_are_one_code(rendered: Path) -> None:
    ts = (rendered / "clients/typescript/runpod-client.ts").read_text()
    js = (rendered / "clients/typescript/runpod-client.mjs").read_text()
    for declaration in ("export type JobStatus", "export interface Job<Output = unknown>", "readonly #key: string;",
                        "async runAndWait<Output = unknown>(input: Record<string, unknown>, options = {}): Promise<Job<Output>>"):  # fmt: skip
        assert declaration in ts and declaration not in js
    assert len(ts.splitlines()) - len(js.splitlines()) == 34  # The type declarations, nothing else.


# A user's own code, as strict as TypeScript gets: the client must not force anything looser.
_USAGE = """
import { RunPodClient, RunPodError, type Job } from "./runpod-client";
const client = new RunPodClient({ apiKey: "key", maxRetries: 1 });
const job: Job<{ images: string[] }> = await client.runAndWait<{ images: string[] }>({ prompt: "x" });
const first: string | undefined = job.output?.images[0];
const health = await client.health();
const idle: number | undefined = health.workers["idle"];
export const seen = [first, idle, new RunPodError("no", 400).status];
"""
STRICTEST = ["--strict", "--exactOptionalPropertyTypes", "--noUncheckedIndexedAccess",
             "--noImplicitOverride", "--noPropertyAccessFromIndexSignature", "--noImplicitReturns",
             "--noFallthroughCasesInSwitch", "--target", "es2022", "--lib", "es2022,dom",
             "--module", "esnext", "--moduleResolution", "bundler", "--noEmit"]  # fmt: skip


@pytest.mark.parametrize("openai_compatible", [True, False])
def test_typescript_client_compiles_under_the_strictest_flags(
    openai_compatible: bool, tmp_path: Path
) -> None:
    """The real TypeScript compiler (scripts/install-test-tools.sh installs it)."""
    tsc = typescript_compiler()
    endpoint = ENDPOINT.model_copy(update={"openai_compatible": openai_compatible})
    source = tmp_path / "runpod-client.ts"
    source.write_bytes(render_clients(endpoint)["clients/typescript/runpod-client.ts"])
    (tmp_path / "usage.ts").write_text(_USAGE)
    done = subprocess.run([tsc, *STRICTEST, str(source), str(tmp_path / "usage.ts")],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_openai_sdk_example_streams_from_the_vllm_route(
    rendered: Path,
    stack: FakeStack,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("RUNPOD_API_KEY", DEFAULT_KEY)
    monkeypatch.setenv("RUNPOD_API_BASE", stack.url("runpod_jobs") + "/v2")
    runpy.run_path(str(rendered / "clients/python/openai_example.py"), run_name="__main__")
    assert capsys.readouterr().out == f"Echo from {MODEL_ID}: Say hello in five words.\n"
    assert stack.runpod_jobs.chats[0]["model"] == MODEL_ID


def test_openai_example_only_for_vllm_endpoints() -> None:
    files = render_clients(ENDPOINT.model_copy(update={"openai_compatible": False}))
    assert sorted(files) == ["clients/python/runpod_client.py", "clients/typescript/runpod-client.mjs",
                             "clients/typescript/runpod-client.ts"]  # fmt: skip
