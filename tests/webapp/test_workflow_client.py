"""The generated ComfyUI workflow clients, run for real over loopback against the RunPod job
fake running a fake ComfyUI worker: the Python client (imported from the rendered files,
beside the RunPod client it builds on) and its command line, the JavaScript build of the
TypeScript client (by `node`), and the TypeScript under the strictest compiler flags."""

from __future__ import annotations

import base64
import importlib
import inspect
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.conftest import need_service
from tests.webapp.comfy_fakes import ComfyWorkerFake, file_host, sdxl_inputs, workflow_spec
from tests.webapp.conftest import ENDPOINT_ID, typescript_compiler
from tests.webapp.media import png
from tests.webapp.test_clients import STRICTEST
from tools.artifacts.client import InputField, render_clients
from tools.comfy import UserInput
from tools.simulator.all import FakeStack
from tools.simulator.runpod import DEFAULT_KEY

RUN = "POST /v2/{endpoint_id}/run"
# Field names Python reserves: the generated keyword arguments get a trailing "_".
RESERVED = (
    UserInput(name="class", label="Class", kind="text", node_id="1", input_name="c", default="x"),
    UserInput(name="lambda", label="L", kind="number", node_id="1", input_name="l", default=0.5),
    UserInput(name="timeout_s", label="T", kind="integer", node_id="1", input_name="t", default=1),
)


def _write(files: dict[str, bytes], root: Path) -> Path:
    for path, raw in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(raw)
    return root


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    spec = workflow_spec()
    files = render_clients(spec.endpoint, workflow_fields=spec.fields)
    return _write(files, tmp_path_factory.mktemp("workflow-clients"))


@contextmanager
def _import(folder: Path, name: str) -> Iterator[ModuleType]:
    """`comfy_client` from `folder`, importing `runpod_client` beside it as a user's script would."""
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(folder))
        for stale in ("comfy_client", "runpod_client"):
            sys.modules.pop(stale, None)
        module = importlib.import_module("comfy_client")
        sys.modules[name] = module
        try:
            yield module
        finally:
            for stale in ("comfy_client", "runpod_client", name):
                sys.modules.pop(stale, None)


@pytest.fixture(scope="module")
def comfy(rendered: Path) -> Iterator[ModuleType]:
    with _import(rendered / "clients/python", "generated_comfy_client") as module:
        yield module


@pytest.fixture
def worker(stack: FakeStack) -> ComfyWorkerFake:
    fake = ComfyWorkerFake(sdxl_inputs())
    stack.runpod.state.handler = fake
    return fake


def _client(module: ModuleType, stack: FakeStack, **kwargs: Any) -> Any:
    base = stack.url("runpod_jobs") + "/v2"
    return module.WorkflowClient(ENDPOINT_ID, api_key=DEFAULT_KEY, base_url=base, **kwargs)


async def test_generate_sends_the_fields_and_decodes_the_images(
    comfy: ModuleType, stack: FakeStack, worker: ComfyWorkerFake, tmp_path: Path
) -> None:
    reference = tmp_path / "reference.png"
    reference.write_bytes(png(5))
    async with _client(comfy, stack) as client:
        assert DEFAULT_KEY not in repr(client)
        images = await client.generate(prompt="a fox in snow", seed=7, cfg=4, image=reference)
    expected = {"prompt": "a fox in snow", "seed": 7, "cfg": 4,
                "image": base64.b64encode(png(5)).decode()}  # fmt: skip
    assert json.loads(stack.runpod_jobs.calls_to(RUN)[-1].body) == {"input": expected}
    assert worker.applied()["steps"] == 20  # Left out: the workflow's own value.
    [image] = images
    assert (image.filename, image.node_id, image.mime, image.url) == (
        "ComfyUI_00001_.png", "9", "image/png", None)  # fmt: skip
    assert image.data == png(3) and not image.is_video
    saved = image.save(tmp_path / "out")
    assert saved == tmp_path / "out/ComfyUI_00001_.png" and saved.read_bytes() == png(3)
    evil = comfy.GeneratedImage("../../etc/passwd", "9", "image/png", b"x")
    assert evil.save(tmp_path / "out") == tmp_path / "out/passwd"  # Never outside the folder.


async def test_large_outputs_are_downloaded_from_their_url_without_the_key(
    comfy: ModuleType, stack: FakeStack, worker: ComfyWorkerFake
) -> None:
    clip = b"\x1aE\xdf\xa3" + bytes(range(256)) * 8
    files = {"/b/ComfyUI_00001_.png": ("image/png", png(11)),
             "/b/ComfyUI_00002_.webm": ("video/webm", clip)}  # fmt: skip
    with file_host(files) as host:
        worker.outputs = [("image/png", png(11)), ("video/webm", clip)]
        worker.delivery, worker.url_base = "url", f"{host.url}/b"
        async with _client(comfy, stack) as client:
            still, video = await client.generate(prompt="big")
        assert (still.data, still.url) == (png(11), f"{host.url}/b/ComfyUI_00001_.png")
        assert video.is_video and video.data == clip
        assert len(host.headers) == 2 and not any("authorization" in h for h in host.headers)
        assert not any(DEFAULT_KEY in json.dumps(h) for h in host.headers)
        files.clear()  # The presigned URLs expired.
        async with _client(comfy, stack) as client:
            with pytest.raises(
                comfy.WorkflowError, match=r"failed \(404\); its URL may have expired"
            ):
                await client.generate(prompt="late")


async def test_bad_inputs_are_refused_before_any_job(
    comfy: ModuleType, stack: FakeStack, worker: ComfyWorkerFake
) -> None:
    async with _client(comfy, stack) as client:
        with pytest.raises(
            comfy.WorkflowError, match="steps must be at least 1 and at most 150; got 0"
        ):
            await client.generate(steps=0)
        with pytest.raises(comfy.WorkflowError, match="seed takes a whole number"):
            await client.generate(seed=1.5)
        with pytest.raises(comfy.WorkflowError, match="prompt takes text"):
            await client.generate(prompt=3)
        with pytest.raises(
            comfy.WorkflowError, match=r"'sampler' is not an input .* prompt, negative_prompt"
        ):
            await client.run(comfy.make_input({"sampler": "euler"}))
    assert stack.runpod_jobs.calls_to(RUN) == []


async def test_worker_errors_reach_the_caller_readably_and_keyless(
    comfy: ModuleType, stack: FakeStack, worker: ComfyWorkerFake
) -> None:
    worker.inputs = tuple(i for i in worker.inputs if i.name != "cfg")
    async with _client(comfy, stack, max_retries=0) as client:
        with pytest.raises(
            comfy.WorkflowError,
            match="The workflow failed: Unknown input 'cfg'; this workflow takes: prompt",
        ):
            await client.generate(cfg=3.0)

        def crash(job: Any) -> Any:
            raise RuntimeError("ComfyUI is not reachable at 127.0.0.1:8188")

        stack.runpod.state.handler = crash
        with pytest.raises(
            comfy.WorkflowError, match="The workflow failed: RuntimeError: ComfyUI is not"
        ):
            await client.generate()
        stack.runpod.state.handler = lambda job: {"prompt_id": "p-1", "images": []}
        with pytest.raises(comfy.WorkflowError, match="returned no images"):
            await client.generate()
        stack.runpod_jobs.fail(RUN, 401, message=f"bad key {DEFAULT_KEY}")
        with pytest.raises(comfy.RunPodError, match="rejected the API key") as caught:
            await client.generate()
        assert DEFAULT_KEY not in str(caught.value)


def test_command_line_saves_the_outputs(
    comfy: ModuleType, stack: FakeStack, worker: ComfyWorkerFake, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setenv("RUNPOD_API_KEY", DEFAULT_KEY)
    monkeypatch.setenv("RUNPOD_API_BASE", stack.url("runpod_jobs") + "/v2")
    monkeypatch.setenv("RUNPOD_ENDPOINT_ID", ENDPOINT_ID)
    reference = tmp_path / "ref.png"
    reference.write_bytes(png(2))
    comfy.main(["--prompt", "from a shell", "--steps", "9", "--image", str(reference),
                "-o", str(tmp_path / "outputs")])  # fmt: skip
    assert worker.received == [{"prompt": "from a shell", "steps": 9,
                                "image": base64.b64encode(png(2)).decode()}]  # fmt: skip
    assert capsys.readouterr().out == f"{tmp_path / 'outputs/ComfyUI_00001_.png'}\n"
    with pytest.raises(SystemExit):
        comfy.main(["--steps", "many"])


async def test_reserved_names_become_keyword_arguments_with_an_underscore(
    stack: FakeStack, tmp_path: Path
) -> None:
    fields = tuple(InputField.from_user_input(i) for i in RESERVED)
    root = _write(
        render_clients(workflow_spec(RESERVED).endpoint, workflow_fields=fields), tmp_path
    )
    worker = ComfyWorkerFake(RESERVED)
    stack.runpod.state.handler = worker
    with _import(root / "clients/python", "generated_reserved_client") as module:
        parameters = inspect.signature(module.WorkflowClient.generate).parameters
        assert list(parameters) == ["self", "class_", "lambda_", "timeout_s_", "timeout_s"]
        async with _client(module, stack) as client:
            await client.generate(class_="c", lambda_=0.25, timeout_s_=3)
    assert worker.received == [{"class": "c", "lambda": 0.25, "timeout_s": 3}]


_JS = r"""
import { WorkflowClient, WorkflowError, FIELDS, makeInput } from "./comfy-client.mjs";
const client = new WorkflowClient({ apiKey: process.env.KEY, baseUrl: process.env.BASE, endpointId: process.env.EP });
const out = { fields: FIELDS.map((f) => f.name), keyInClient: JSON.stringify(client).includes(process.env.KEY) };
const images = await client.generate({ prompt: "from js", seed: 11, image: new Uint8Array([137, 80, 78, 71]) }, { pollMs: 10 });
out.images = images.map((i) => [i.filename, i.mime, Buffer.from(i.bytes).toString("base64")]);
try { makeInput({ steps: 0 }); } catch (err) { out.range = [err instanceof WorkflowError, err.message]; }
try { makeInput({ sampler: "euler" }); } catch (err) { out.unknown = err.message; }
try { await client.generate({ negative_prompt: "blurry" }, { pollMs: 10 }); } catch (err) { out.refused = [err.name, err.message]; }
console.log(JSON.stringify(out));
"""


def test_javascript_client_against_the_fake(
    rendered: Path, stack: FakeStack, worker: ComfyWorkerFake
) -> None:
    worker.inputs = tuple(i for i in worker.inputs if i.name != "negative_prompt")
    if shutil.which("node") is None:
        need_service("Node.js", "install Node 18 or newer (Debian's `nodejs` package)")
    env = {"PATH": os.environ["PATH"], "KEY": DEFAULT_KEY, "EP": ENDPOINT_ID,
           "BASE": stack.url("runpod_jobs") + "/v2"}  # fmt: skip
    script = rendered / "clients/typescript/check-comfy.mjs"
    script.write_text(_JS)
    done = subprocess.run(["node", str(script)], env=env, capture_output=True, text=True,
                          timeout=60, check=True)  # fmt: skip
    out = json.loads(done.stdout)
    assert out["fields"] == [i.name for i in sdxl_inputs()] and out["keyInClient"] is False
    assert out["images"] == [["ComfyUI_00001_.png", "image/png", base64.b64encode(png(3)).decode()]]
    assert worker.received[0] == {"prompt": "from js", "seed": 11, "image": "iVBORw=="}
    assert out["range"] == [True, "steps must be at least 1 and at most 150; got 0."]
    assert out["unknown"].startswith(
        '"sampler" is not an input of this workflow; use one of: prompt'
    )
    # The worker's own refusal (this worker lacks the field) reaches the caller whole.
    assert out["refused"] == ["WorkflowError", "The workflow failed: Unknown input "
                              "'negative_prompt'; this workflow takes: prompt, seed, steps, "
                              "cfg, width, image."]  # fmt: skip


_USAGE = """
import { WorkflowClient, WorkflowError, makeInput, FIELDS, type GeneratedImage, type WorkflowInput } from "./comfy-client";
const client = new WorkflowClient({ apiKey: "key", maxRetries: 1 });
const input: WorkflowInput = { prompt: "x", seed: 3, image: new Uint8Array([1, 2]) };
const images: GeneratedImage[] = await client.generate(input, { timeoutMs: 1000 });
const first: Uint8Array | undefined = images[0]?.bytes;
const url: string | undefined = images[0]?.url;
export const seen = [first, url, makeInput({ steps: 4 }), FIELDS.length, new WorkflowError("no", 400).status];
"""


def test_typescript_client_compiles_under_the_strictest_flags(
    rendered: Path, tmp_path: Path
) -> None:
    """The real TypeScript compiler (scripts/install-test-tools.sh installs it)."""
    tsc = typescript_compiler()
    for name in ("comfy-client.ts", "runpod-client.ts"):
        shutil.copy(rendered / "clients/typescript" / name, tmp_path / name)
    (tmp_path / "usage.ts").write_text(_USAGE)
    sources = [str(tmp_path / n) for n in ("comfy-client.ts", "runpod-client.ts", "usage.ts")]
    done = subprocess.run([tsc, *STRICTEST, *sources], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    ts = (rendered / "clients/typescript/comfy-client.ts").read_text()
    js = (rendered / "clients/typescript/comfy-client.mjs").read_text()
    assert "export interface WorkflowInput" in ts and "interface" not in js
    assert 'from "./runpod-client.mjs"' in js
