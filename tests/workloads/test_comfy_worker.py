"""The ComfyUI worker's handler, as its image runs it (the real runpod SDK and
websocket-client, pinned in the workload venv), against a stub ComfyUI server that speaks
ComfyUI's `/prompt`, websocket, `/history`, `/view` and `/upload/image` protocol: the job's
values reach the right nodes, the output comes back, and every failure reads as one."""

from __future__ import annotations

import base64
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar, cast

import pytest

from tests.workloads.comfy_plan import SDXL_WORKFLOW, comfy_plan
from tests.workloads.comfy_stub import ComfyStub, comfy_stub
from tests.workloads.harness import JobResult, run_worker, runsync, serve_worker
from tools.artifacts.worker.plan import WorkerPlan
from tools.artifacts.worker.render import render_worker, sample_png
from tools.comfy.model import UserInput


def _env(stub_host: str, scratch: Path, **extra: str) -> dict[str, str]:
    return {
        "COMFY_HOST": stub_host,
        "KRIPTIK_COMFY_DIR": str(scratch / "worker"),  # run_worker writes the files there
        "KRIPTIK_COMFY_WAIT_S": "20",
        **extra,
    }


@pytest.fixture(scope="module")
def stub() -> Iterator[ComfyStub]:
    with comfy_stub() as running:
        yield running


@pytest.fixture(scope="module")
def served(stub: ComfyStub, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One worker (the SDK's local API) for every job of this module but the first."""
    scratch = tmp_path_factory.mktemp("comfy-worker")
    with serve_worker(comfy_plan(), scratch, scratch, env=_env(stub.host, scratch)) as url:
        yield url


def _job(served: str, stub: ComfyStub, job: Any) -> JobResult:
    stub.reset()
    return runsync(served, job, timeout=60)


def _image(result: Any) -> bytes:
    assert isinstance(result, dict), result
    output = cast("dict[str, Any]", result)
    assert set(output) == {"images", "prompt_id"}
    (image,) = cast("list[dict[str, str]]", output["images"])
    assert image["type"] == "base64" and image["mime"] == "image/png"
    assert image["node_id"] == "9" and image["filename"].startswith("ComfyUI_")
    return base64.b64decode(image["data"])


def test_the_job_reaches_the_right_nodes_and_the_image_comes_back(
    stub: ComfyStub, tmp_path: Path
) -> None:
    stub.reset()
    job = {"prompt": "a red fox", "seed": 7, "steps": 4}
    result = run_worker(comfy_plan(), tmp_path, job, tmp_path, env=_env(stub.host, tmp_path))
    assert result.error is None, result.log[-3000:]
    assert _image(result.output) == stub.png == sample_png(8, 8)
    (prompt,) = stub.prompts
    assert prompt["6"]["inputs"]["text"] == "a red fox"  # the positive prompt's node
    assert prompt["3"]["inputs"]["seed"] == 7 and prompt["3"]["inputs"]["steps"] == 4
    # Everything the job did not set is the workflow's own, links included.
    assert prompt["7"] == SDXL_WORKFLOW["7"] and prompt["5"] == SDXL_WORKFLOW["5"]
    assert prompt["3"]["inputs"]["cfg"] == 7.0 and prompt["3"]["inputs"]["model"] == ["4", 0]
    assert result.output["prompt_id"] in stub.history
    asked = [r.split("?")[0] for r in stub.requests]
    assert asked[:3] == ["GET /system_stats", "GET /ws", "POST /prompt"]
    assert f"GET /history/{result.output['prompt_id']}" in asked and "GET /view" in asked


def test_the_smoke_test_input_is_the_workflows_defaults(served: str, stub: ComfyStub) -> None:
    files = render_worker(comfy_plan(), secret=False)
    job = json.loads(files.files["test_input.json"])["input"]
    assert job == {
        "prompt": "a photo of a cat",
        "negative_prompt": "blurry, text",
        "seed": 42,
        "steps": 20,
        "cfg": 7.0,
        "width": 1024,
        "height": 1024,
    }
    result = _job(served, stub, job)
    assert result.error is None and _image(result.output) == stub.png
    assert stub.prompts == [json.loads(files.files["workflow.json"])]


@pytest.mark.parametrize(
    ("job", "says"),
    [
        ({"prompt": "x", "sampler": "euler"}, "unknown field(s) sampler; the fields are prompt"),
        ({"seed": "7"}, "seed must be a whole number"),
        ({"seed": 7.5}, "seed must be a whole number"),
        ({"steps": 0}, "steps must be between 1 and 150, not 0"),
        ({"cfg": 31}, "cfg must be between 0 and 30"),
        ({"cfg": True}, "cfg must be a number"),
        ({"prompt": 5}, "prompt must be a string"),
        ({"prompt": "x" * 100_001}, "prompt is longer than 100000 characters"),
    ],
)
def test_bad_input_is_refused_before_comfyui_is_called(
    served: str, stub: ComfyStub, job: dict[str, Any], says: str
) -> None:
    result = _job(served, stub, job)
    assert result.output is None and result.error is not None
    assert says in result.error
    assert stub.requests == []


def test_the_error_names_every_field_and_its_range(served: str, stub: ComfyStub) -> None:
    result = _job(served, stub, {"style": "noir"})
    assert result.error is not None
    for allowed in (
        "prompt (text)",
        "seed (integer 0..18446744073709551615)",
        "steps (integer 1..150)",
        "cfg (number 0..30)",
        "width (integer 64..4096)",
    ):
        assert allowed in result.error
    assert stub.requests == []


def test_an_execution_error_names_the_node_and_its_message(served: str, stub: ComfyStub) -> None:
    stub.reset()
    stub.fail_node = "3"
    result = runsync(served, {"prompt": "a red fox"}, timeout=60)
    assert result.output is None
    assert result.error == (
        "ComfyUI failed at node 3 (KSampler): torch.OutOfMemoryError: CUDA out of memory. "
        "Tried to allocate 2.00 GiB"
    )


def test_a_workflow_comfyui_refuses_names_the_node(served: str, stub: ComfyStub) -> None:
    stub.reset()
    stub.refuse_class_type = "CheckpointLoaderSimple"
    result = runsync(served, {"prompt": "a red fox"}, timeout=60)
    assert result.output is None and result.error is not None
    assert result.error.startswith("ComfyUI refused the workflow: Prompt outputs failed validation")
    assert (
        "node 4 (CheckpointLoaderSimple): Value not in list: ckpt_name: "
        "'sd_xl_base_1.0.safetensors' not in []"
    ) in result.error


def _img2img_plan() -> WorkerPlan:
    workflow: dict[str, Any] = {
        **SDXL_WORKFLOW,
        "10": {"class_type": "LoadImage", "inputs": {"image": "example.png"}},
        "11": {"class_type": "VAEEncode", "inputs": {"pixels": ["10", 0], "vae": ["4", 2]}},
        "12": {"class_type": "PreviewImage", "inputs": {"images": ["8", 0]}},  # a "temp" file
    }
    workflow["3"] = {
        **workflow["3"],
        "inputs": {**workflow["3"]["inputs"], "latent_image": ["11", 0], "denoise": 0.6},
    }
    image = UserInput(
        name="image",
        label="Image",
        kind="image",
        node_id="10",
        input_name="image",
        default="example.png",
    )
    prompt = UserInput(
        name="prompt",
        label="Prompt",
        kind="text",
        node_id="6",
        input_name="text",
        default="a photo of a cat",
    )
    return comfy_plan(workflow, (prompt, image))


def test_an_input_image_is_uploaded_and_its_name_reaches_the_loader(
    stub: ComfyStub, tmp_path: Path
) -> None:
    stub.reset()
    png = sample_png(16, 16)
    job = {"image": "data:image/png;base64," + base64.b64encode(png).decode()}
    plan = _img2img_plan()
    result = run_worker(plan, tmp_path, job, tmp_path, env=_env(stub.host, tmp_path))
    assert result.error is None, result.log[-3000:]
    assert _image(result.output) == stub.png  # the SaveImage's; the preview is left out
    ((name, data),) = stub.uploads
    assert data == png and name.endswith("-image.png")
    (prompt,) = stub.prompts
    assert prompt["10"]["inputs"]["image"] == name
    assert prompt["6"]["inputs"]["text"] == "a photo of a cat"
    assert stub.requests.index("POST /upload/image") < stub.requests.index("POST /prompt")


def test_a_bad_image_is_refused_before_comfyui_is_called(stub: ComfyStub, tmp_path: Path) -> None:
    stub.reset()
    files = render_worker(_img2img_plan(), secret=False)
    env = _env(stub.host, tmp_path)
    with serve_worker(files, tmp_path, tmp_path, env=env) as url:
        cases = {
            "not base64 at all": "not valid base64",
            base64.b64encode(b"GIF? no, text").decode(): "these bytes are none of those",
            "http://example.com/cat.png": "use an https URL, not http",
            "data:image/png,plain": "a data URI must be base64",
        }
        for value, says in cases.items():
            result = runsync(url, {"image": value}, timeout=60)
            assert result.error is not None and says in result.error, result.error
    assert stub.requests == []


def test_no_comfyui_is_a_clear_error_in_bounded_time(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        host = f"127.0.0.1:{probe.getsockname()[1]}"
    env = _env(host, tmp_path, KRIPTIK_COMFY_WAIT_S="1")
    result = run_worker(comfy_plan(), tmp_path, {"prompt": "a fox"}, tmp_path, env=env)
    assert result.error is not None
    assert result.error.startswith(
        f"ComfyUI did not answer at http://{host}/system_stats within 1 s"
    )


def test_a_network_volume_worker_names_the_missing_models(stub: ComfyStub, tmp_path: Path) -> None:
    stub.reset()
    volume = tmp_path / "volume"
    env = _env(stub.host, tmp_path, KRIPTIK_VOLUME_MODELS=str(volume))
    plan = comfy_plan(weights="network_volume")
    result = run_worker(plan, tmp_path, {}, tmp_path, env=env)
    assert result.error is not None
    assert f"model files missing on the network volume: {volume}/checkpoints/sd_xl_base_1.0" in (
        result.error
    )
    assert stub.requests == []
    (volume / "checkpoints").mkdir(parents=True)
    (volume / "checkpoints" / "sd_xl_base_1.0.safetensors").write_bytes(b"weights")
    result = run_worker(plan, tmp_path, {}, tmp_path, env=env)
    assert result.error is None and _image(result.output) == stub.png


def test_an_output_over_runpods_limit_is_an_error_naming_the_bucket(
    stub: ComfyStub, tmp_path: Path
) -> None:
    stub.reset()
    big = stub.png + b"\0" * 16_000_000  # 21 MB as base64
    stub.png = big
    try:
        result = run_worker(comfy_plan(), tmp_path, {}, tmp_path, env=_env(stub.host, tmp_path))
    finally:
        stub.png = sample_png(8, 8)
    assert result.error is not None
    assert "over RunPod's 20 MB response limit: set BUCKET_ENDPOINT_URL" in result.error


def test_a_bucket_without_its_keys_is_an_error_not_a_local_file(
    stub: ComfyStub, tmp_path: Path
) -> None:
    stub.reset()
    planted = "bucket-secret-PLANTED-0123456789"
    env = _env(
        stub.host,
        tmp_path,
        BUCKET_ENDPOINT_URL="https://bucket.s3.eu-west-1.amazonaws.com",
        BUCKET_SECRET_ACCESS_KEY=planted,
        KRIPTIK_INLINE_MAX_BYTES="10",
    )
    result = run_worker(comfy_plan(), tmp_path, {}, tmp_path, env=env)
    assert result.error == (
        "BUCKET_ENDPOINT_URL is set, but BUCKET_ACCESS_KEY_ID is not: set all three on the endpoint"
    )
    assert planted not in result.log
    assert not list(tmp_path.rglob("simulated_uploaded"))  # rp_upload's local fallback


class _Bucket(BaseHTTPRequestHandler):
    """An S3-compatible bucket on loopback: takes every PUT (the object) and says 200."""

    protocol_version = "HTTP/1.1"
    puts: ClassVar[list[tuple[str, bytes]]] = []

    def do_PUT(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.puts.append((self.path, body))
        self.send_response(200)
        self.send_header("ETag", '"0"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


def test_a_large_output_goes_to_the_bucket_as_a_url(stub: ComfyStub, tmp_path: Path) -> None:
    stub.reset()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Bucket)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    planted = "bucket-secret-PLANTED-0123456789"
    bucket = f"http://127.0.0.1:{server.server_address[1]}"
    env = _env(
        stub.host,
        tmp_path,
        BUCKET_ENDPOINT_URL=bucket,
        BUCKET_ACCESS_KEY_ID="AKIATEST",
        BUCKET_SECRET_ACCESS_KEY=planted,
        KRIPTIK_INLINE_MAX_BYTES="10",
        AWS_EC2_METADATA_DISABLED="true",
        AWS_DEFAULT_REGION="us-east-1",
    )
    try:
        result = run_worker(comfy_plan(), tmp_path, {}, tmp_path, env=env)
    finally:
        server.shutdown()
        thread.join()
    assert result.error is None, result.log[-3000:]
    (image,) = result.output["images"]
    assert image["type"] == "url" and image["mime"] == "image/png"
    ((path, body),) = _Bucket.puts
    assert image["data"].startswith(f"{bucket}{path}?") and path.endswith(".png")
    assert stub.png in body
    assert planted not in result.log and planted not in json.dumps(result.output)
