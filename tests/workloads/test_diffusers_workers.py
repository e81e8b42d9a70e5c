"""Image and video generation: for each diffusers pipeline class the worker serves, a tiny
random-weight pipeline (`tests.workloads.diffusers_models`) runs through the generated
worker on the pinned libraries, and the output is decoded as a client would: the PNG here
(signature, chunk CRCs, IHDR size, zlib-inflated rows), the MP4 with ffprobe. Bad input
comes back as a clear job error, never a traceback."""

from __future__ import annotations

import base64
import json
import shutil
import struct
import subprocess
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.workloads.env import worker_plan
from tests.workloads.harness import JobResult, require_python, run_worker, runsync, serve_worker
from tools.artifacts.worker import WorkerPlan
from tools.artifacts.worker.render import sample_png

IMAGE_CLASSES = (
    "StableDiffusionPipeline",
    "StableDiffusionImg2ImgPipeline",
    "StableDiffusionXLPipeline",
    "FluxPipeline",
)
VIDEO_CLASSES = ("WanPipeline",)
_MODELS = Path(__file__).with_name("diffusers_models.py")
# Bytes per pixel of the PNG colour types a pipeline writes (grey, RGB, RGBA).
_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}


@pytest.fixture(scope="module")
def pipelines(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every tiny pipeline, built once by the workload venv: root / class name."""
    root = tmp_path_factory.mktemp("diffusers")
    python = require_python()
    done = subprocess.run(
        [str(python), str(_MODELS), str(root), *IMAGE_CLASSES, *VIDEO_CLASSES],
        capture_output=True, text=True, timeout=600, check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(root), "HF_HUB_OFFLINE": "1"},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr[-4000:]
    return root


def _output(plan: WorkerPlan, model_dir: Path, job_input: Any, scratch: Path) -> dict[str, Any]:
    """One job through POST /runsync, whole: the SDK's `--test_input` mode logs at most 4096
    characters of a result, less than any PNG or MP4 (what `run_worker` reads)."""
    # Only the venv on PATH: the base image has no ffmpeg, so neither may the worker here.
    env = {"PATH": str(require_python().parent)}
    with serve_worker(plan, model_dir, scratch, env=env) as base_url:
        result = runsync(base_url, job_input)
    assert result.error is None and result.returncode == 0, result.error or result.log[-3000:]
    return result.output


@pytest.fixture(scope="module")
def image_worker(pipelines: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One text-to-image worker (Stable Diffusion) served for every bad-input job here."""
    plan, scratch = worker_plan("diffusers", "text-to-image"), tmp_path_factory.mktemp("image")
    env = {"PATH": str(require_python().parent)}
    with serve_worker(plan, pipelines / "StableDiffusionPipeline", scratch, env=env) as url:
        yield url


@pytest.fixture(scope="module")
def img2img_worker(pipelines: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One image-to-image worker served for every bad-input-image job here."""
    plan, scratch = worker_plan("diffusers", "image-to-image"), tmp_path_factory.mktemp("img2img")
    env = {"PATH": str(require_python().parent)}
    with serve_worker(plan, pipelines / "StableDiffusionImg2ImgPipeline", scratch, env=env) as url:
        yield url


def png_size(data: bytes) -> tuple[int, int]:
    """Decode a PNG as far as its pixel rows (8-bit, not interlaced) and return its size."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    chunks: dict[bytes, bytes] = {}
    position = 8
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        (crc,) = struct.unpack(">I", data[position + 8 + length : position + 12 + length])
        assert zlib.crc32(kind + body) == crc, f"bad CRC in {kind!r}"
        chunks[kind] = chunks.get(kind, b"") + body
        position += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunks[b"IHDR"])
    assert (depth, interlace) == (8, 0) and b"IEND" in chunks
    rows = zlib.decompress(chunks[b"IDAT"])
    assert len(rows) == height * (1 + width * _CHANNELS[colour])
    return width, height


def video_facts(data: bytes, scratch: Path) -> dict[str, Any]:
    """ffprobe's codec, size and decoded frame count of an MP4."""
    ffprobe = shutil.which("ffprobe")
    assert ffprobe, "ffprobe is missing: run scripts/install-workload-env.sh"
    path = scratch / "video.mp4"
    path.write_bytes(data)
    done = subprocess.run(
        [ffprobe, "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
         "stream=codec_name,width,height,nb_read_frames", "-of", "json", str(path)],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return json.loads(done.stdout)["streams"][0]


def assert_clean_error(result: JobResult, scratch: Path, *expected: str) -> None:
    """A job error that says what is wrong, with no traceback, path or environment in it."""
    assert result.output is None and result.error is not None, result.log[-3000:]
    for text in expected:
        assert text in result.error, result.error
    for leak in ("Traceback", 'File "', str(scratch), "site-packages", "MODEL_DIR", "HOME="):
        assert leak not in result.error, result.error


def _image_job(**overrides: Any) -> dict[str, Any]:
    job = {"prompt": "A lighthouse on a cliff at dawn", "num_inference_steps": 2, "seed": 7}
    return job | overrides


@pytest.mark.parametrize(
    ("class_name", "job"),
    [
        ("StableDiffusionPipeline", _image_job(width=64, height=72, guidance_scale=0)),
        (
            "StableDiffusionXLPipeline",
            _image_job(width=80, height=64, guidance_scale=7.5, negative_prompt="blurry"),
        ),
        ("FluxPipeline", _image_job(width=64, height=96, guidance_scale=0)),
        ("FluxPipeline", _image_job(width=96, height=64, guidance_scale=3.5, seed=None)),
    ],
)
def test_text_to_image_returns_a_png_of_the_requested_size(
    pipelines: Path, tmp_path: Path, class_name: str, job: dict[str, Any]
) -> None:
    output = _output(worker_plan("diffusers", "text-to-image"), pipelines / class_name, job,
                     tmp_path)  # fmt: skip
    assert output["format"] == "png"
    assert png_size(base64.b64decode(output["image_base64"])) == (job["width"], job["height"])
    assert (output["width"], output["height"]) == (job["width"], job["height"])
    # The seed used comes back, a random one when the job gave none.
    if job["seed"] is None:
        assert 0 <= output["seed"] < 2**32
    else:
        assert output["seed"] == job["seed"]


@pytest.mark.parametrize("guidance_scale", [0, 5.0])
def test_text_to_video_returns_an_mp4_of_the_requested_shape(
    pipelines: Path, tmp_path: Path, guidance_scale: float
) -> None:
    job = _image_job(width=96, height=64, num_frames=9, fps=8, guidance_scale=guidance_scale)
    output = _output(worker_plan("diffusers", "text-to-video"), pipelines / "WanPipeline",
                     job | {"negative_prompt": "static"}, tmp_path)  # fmt: skip
    assert (output["format"], output["frames"], output["fps"]) == ("mp4", 9, 8)
    video = base64.b64decode(output["video_base64"])
    assert video[4:8] == b"ftyp"
    facts = video_facts(video, tmp_path)
    assert facts == {"codec_name": "h264", "width": 96, "height": 64, "nb_read_frames": "9"}


@pytest.mark.parametrize(
    ("job", "expected"),
    [
        ({"negative_prompt": "x"}, ["invalid input: prompt is required"]),
        ({"prompt": ["a", "list"]}, ["invalid input: prompt must be a string"]),
        (_image_job(width=4096), ["width must be between 64 and 2048"]),
        (_image_job(num_inference_steps=10_000), ["num_inference_steps must be between 1 and 150"]),
        (_image_job(height=70), ["height must be a multiple of 8"]),
    ],
)
def test_bad_image_input_is_a_clear_job_error(
    image_worker: str, tmp_path_factory: pytest.TempPathFactory, job: Any, expected: list[str]
) -> None:
    result = runsync(image_worker, job)
    assert_clean_error(result, tmp_path_factory.getbasetemp(), *expected)


def test_input_that_is_not_an_object_is_a_clear_job_error(pipelines: Path, tmp_path: Path) -> None:
    # The SDK's local API takes only a JSON object as input, so this job goes through its
    # `--test_input` mode (as a RunPod queue would hand it over).
    plan = worker_plan("diffusers", "text-to-image")
    result = run_worker(plan, pipelines / "StableDiffusionPipeline", "a lighthouse", tmp_path)
    assert_clean_error(result, tmp_path, "invalid input: input must be a JSON object")


def test_a_size_flux_would_silently_change_is_refused(pipelines: Path, tmp_path: Path) -> None:
    # Flux packs 2x2 latents of a VAE that scales by 8: 72 is a multiple of 8, not of 16, and
    # the pipeline would round it down to 64 and return a PNG of another size than asked.
    job = _image_job(width=72, height=64)
    result = run_worker(worker_plan("diffusers", "text-to-image"), pipelines / "FluxPipeline",
                        job, tmp_path)  # fmt: skip
    assert_clean_error(
        result, tmp_path, "invalid input: width must be a multiple of 16", "try 64 or 80"
    )


def test_a_frame_count_wan_would_silently_change_is_refused(
    pipelines: Path, tmp_path: Path
) -> None:
    # Wan's VAE compresses time by 4: 10 frames would quietly become 9.
    job = _image_job(width=96, height=64, num_frames=10)
    result = run_worker(worker_plan("diffusers", "text-to-video"), pipelines / "WanPipeline",
                        job, tmp_path)  # fmt: skip
    assert_clean_error(result, tmp_path, "invalid input: num_frames must be one more than a multiple of 4",
                       "try 9 or 13")  # fmt: skip


def test_image_to_image_takes_a_png_and_returns_one_of_the_requested_size(
    pipelines: Path, tmp_path: Path
) -> None:
    # A 64 x 64 PNG in, as a data: URL (what the web app sends); 80 x 64 asked for.
    picture = "data:image/png;base64," + base64.b64encode(sample_png(64, 64)).decode()
    job = _image_job(width=80, height=64, guidance_scale=0, image=picture)
    output = _output(worker_plan("diffusers", "image-to-image"),
                     pipelines / "StableDiffusionImg2ImgPipeline", job, tmp_path)  # fmt: skip
    assert png_size(base64.b64decode(output["image_base64"])) == (80, 64)


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        (base64.b64encode(b"GIF89a not really an image").decode(), "image must be a PNG, JPEG"),
        ("%%% not base64 %%%", "image must be a PNG, JPEG"),
        (12, "image must be a string"),
        (None, "image is required"),
    ],
)
def test_bad_input_image_is_a_clear_job_error(
    img2img_worker: str, tmp_path_factory: pytest.TempPathFactory, image: Any, expected: str
) -> None:
    job = _image_job(width=64, height=64, image=image)
    result = runsync(img2img_worker, job)
    assert_clean_error(result, tmp_path_factory.getbasetemp(), "invalid input: " + expected)
