"""Render a `WorkerPlan` into files: the worker's build context, or a vLLM template's env.

Templates are jinja2 with `StrictUndefined` (a missing variable is an error, never an
empty string) and no autoescape (nothing here is HTML). Values reach them only through
the filters of `values.py`: `docker` refuses anything unsafe in a Dockerfile, `py` writes
a Python literal, `json` writes JSON.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import math
import struct
import wave
import zlib
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, cast

from pydantic import BaseModel, ConfigDict

from tools.artifacts._jinja import template_environment
from tools.artifacts.worker.comfy import COMFY_PINS, comfy_sample_input, render_comfy
from tools.artifacts.worker.plan import WorkerPlan
from tools.artifacts.worker.values import (
    check_dockerfile_value,
    check_env_key,
    check_env_value,
    check_secret_name,
    json_text,
    py_literal,
    shell_word,
    slug,
)

if TYPE_CHECKING:  # jinja2 is imported when the first environment is built
    from jinja2 import Environment

__all__ = [
    "PINS",
    "SAMPLE_PROMPT",
    "WorkerFiles",
    "build_commands",
    "render_worker",
    "sample_input",
    "sample_png",
    "sample_wav",
    "vllm_env",
]

_TEMPLATES: Final = Path(__file__).parent / "templates"
# Pinned worker dependencies (PyPI, checked 2026-11); torch comes with the CUDA base.
PINS: Final = {
    "runpod": "1.12.0",
    "huggingface_hub": "2.4.0",
    "safetensors": "0.8.0",
    "accelerate": "1.15.0",
    "transformers": "5.24.0",
    "diffusers": "0.42.1",
    "torch": "2.8.0",
    "sentence-transformers": "6.3.0",
    "imageio-ffmpeg": "0.8.1",
}
_TRANSFORMERS_PACKAGES: Final = (
    "runpod",
    "huggingface_hub",
    "torch",
    "safetensors",
    "accelerate",
    "transformers",
)
_PACKAGES: Final = {
    "diffusers": (*_TRANSFORMERS_PACKAGES, "diffusers"),
    "transformers": _TRANSFORMERS_PACKAGES,
}
EMBEDDING_TASKS: Final = frozenset({"feature-extraction", "sentence-similarity"})
SPEECH_TASKS: Final = frozenset({"automatic-speech-recognition"})
VIDEO_TASKS: Final = frozenset({"text-to-video", "image-to-video", "video-to-video"})
# Embeddings are pooled by sentence-transformers (the repo's own pooling configuration);
# speech is decoded by the static ffmpeg that imageio-ffmpeg's wheel carries (any base).
_TASK_PACKAGES: Final = {
    **dict.fromkeys(EMBEDDING_TASKS, ("sentence-transformers",)),
    **dict.fromkeys(SPEECH_TASKS, ("imageio-ffmpeg",)),
    # A video is encoded to MP4 by that same ffmpeg (pipeline_diffusers.py.j2).
    **dict.fromkeys(VIDEO_TASKS, ("imageio-ffmpeg",)),
}
# The installer the Dockerfile uses for the dependency layer (removed from the image after).
UV_VERSION: Final = "0.13.9"
# Other weight formats in a repo that the chosen loader never reads.
_IGNORE: Final = (
    "*.bin",
    "*.pt",
    "*.pth",
    "*.h5",
    "*.msgpack",
    "*.ot",
    "*.gguf",
    "*.onnx",
    "*.onnx_data",
    "*.tflite",
    "*.mlmodel",
    "original/*",
    "onnx/*",
    "openvino/*",
    "coreml/*",
    "flax_model*",
)
_IMAGE_FIELDS: Final[dict[str, dict[str, Any]]] = {
    "prompt": {"type": "str", "required": True, "max_length": 4000},
    "negative_prompt": {"type": "str", "default": "", "max_length": 4000},
    "num_inference_steps": {"type": "int", "default": 30, "minimum": 1, "maximum": 150},
    "guidance_scale": {"type": "number", "default": 7.0, "minimum": 0, "maximum": 30},
    "width": {"type": "int", "default": 1024, "minimum": 64, "maximum": 2048, "multiple_of": 8},
    "height": {"type": "int", "default": 1024, "minimum": 64, "maximum": 2048, "multiple_of": 8},
    "seed": {"type": "int", "default": None, "minimum": 0, "maximum": 2**32 - 1},
}
# A video task: the image fields, a video's usual size, and its length in frames.
_VIDEO_FIELDS: Final[dict[str, dict[str, Any]]] = {
    **_IMAGE_FIELDS,
    "width": {**_IMAGE_FIELDS["width"], "default": 832},
    "height": {**_IMAGE_FIELDS["height"], "default": 480},
    "num_frames": {"type": "int", "default": 33, "minimum": 1, "maximum": 257},
    "fps": {"type": "int", "default": 16, "minimum": 1, "maximum": 60},
}
# A task that starts from an image (image-to-image, image-to-video): base64 or a data: URL.
_IMAGE_INPUT_FIELDS: Final[dict[str, dict[str, Any]]] = {
    "image": {"type": "str", "required": True, "max_length": 20_000_000},
}
_PIPELINE_FIELDS: Final[dict[str, dict[str, Any]]] = {
    "inputs": {"type": "str", "required": True, "max_length": 100_000},
    "parameters": {"type": "object", "default": {}},
}
# One text or a list of them (OpenAI's `input`, under the pipelines' name `inputs`).
_EMBEDDING_FIELDS: Final[dict[str, dict[str, Any]]] = {
    "inputs": {"type": "texts", "required": True, "max_length": 100_000, "max_items": 256},
}
# Exactly one of the two (`one_of`); RunPod caps a /runsync body at 20 MB anyway.
_SPEECH_FIELDS: Final[dict[str, dict[str, Any]]] = {
    "audio_base64": {"type": "str", "one_of": "audio", "max_length": 20_000_000},
    "audio_url": {"type": "url", "one_of": "audio", "max_length": 2048},
    "parameters": {"type": "object", "default": {}},
}


class WorkerFiles(BaseModel):
    """A worker's build context: file name -> text, and its content hash (for the tag)."""

    model_config = ConfigDict(frozen=True)

    files: dict[str, str]

    @property
    def content_hash(self) -> str:
        digest = hashlib.sha256()
        for name in sorted(self.files):
            digest.update(name.encode() + b"\0" + self.files[name].encode() + b"\0")
        return digest.hexdigest()

    def write(self, directory: Path) -> Path:
        """Write every file into `directory` (created), replacing older versions."""
        directory.mkdir(parents=True, exist_ok=True)
        for name, text in self.files.items():
            (directory / name).write_text(text, encoding="utf-8")
        return directory


@lru_cache(maxsize=1)
def _environment() -> Environment:
    # Dockerfiles and Python, not HTML: the filters encode each value for its language.
    env = template_environment(_TEMPLATES, autoescape=False, trim=True)
    filters = cast("dict[str, Any]", env.filters)  # pyright: ignore[reportUnknownMemberType]  # jinja2 leaves it untyped
    filters.update(docker=check_dockerfile_value, py=py_literal, json=json_text)
    return env


def _model_dir(plan: WorkerPlan) -> str:
    if plan.weights == "baked":
        return "/models/model"
    return f"/runpod-volume/kriptik/models/{slug(plan.repo_id)}-{plan.revision[:12]}"


SAMPLE_PROMPT: Final = "A lighthouse on a cliff at dawn"


def sample_png(width: int = 64, height: int = 64) -> bytes:
    """A real PNG (8-bit RGB, a colour gradient) for an image-to-X worker's smoke test."""
    rows = b"".join(
        b"\0" + bytes(v for x in range(width) for v in (x * 4 % 256, y * 4 % 256, 128))
        for y in range(height)
    )

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + crc

    header = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    pixels = chunk(b"IDAT", zlib.compress(rows))
    return b"\x89PNG\r\n\x1a\n" + header + pixels + chunk(b"IEND", b"")


def sample_wav(seconds: float = 1.0, rate: int = 16_000) -> bytes:
    """A real WAV (16-bit mono, a 440 Hz tone) for a speech worker's smoke test."""
    frames = int(seconds * rate)
    samples = (round(8000 * math.sin(2 * math.pi * 440 * i / rate)) for i in range(frames))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"".join(struct.pack("<h", x) for x in samples))
    return buffer.getvalue()


def sample_input(plan: WorkerPlan, prompt: str = SAMPLE_PROMPT) -> dict[str, Any]:
    """A small job for the worker: its test_input.json, and the deployment's smoke test."""
    if plan.kind == "comfyui":  # the workflow's own values
        return comfy_sample_input(plan, image=sample_png())
    job: dict[str, Any]
    if plan.kind == "diffusers":
        # Small and quick: the smoke test checks the worker answers, not the art.
        job = {"prompt": prompt, "num_inference_steps": 4, "width": 512, "height": 512, "seed": 7}
        if plan.task in VIDEO_TASKS:
            job["num_frames"] = 9
        if plan.task.startswith("image-to-"):
            job["image"] = base64.b64encode(sample_png()).decode()
    elif plan.task == "text-generation":
        job = {"inputs": prompt, "parameters": {"max_new_tokens": 16}}
    elif plan.task in EMBEDDING_TASKS:
        job = {"inputs": [prompt]}
    elif plan.task in SPEECH_TASKS:
        job = {"audio_base64": base64.b64encode(sample_wav()).decode()}
    else:
        job = {"inputs": prompt, "parameters": {}}
    return job


def _comfy_files(plan: WorkerPlan, *, secret: bool) -> WorkerFiles:
    """RunPod's ComfyUI image with the workflow baked in (comfy.py); runpod pinned as here."""
    pins = {"runpod": PINS["runpod"], **COMFY_PINS}
    files = render_comfy(plan, secret=secret, pins=pins, sample_image=sample_png())
    return WorkerFiles(files=files)


def render_worker(
    plan: WorkerPlan, *, secret: bool, sample_prompt: str = SAMPLE_PROMPT
) -> WorkerFiles:
    """The build context of a generated worker.

    Args:
        plan: From `plan_worker`; its kind must not be vllm (that image is prebuilt).
        secret: Mount the Hugging Face token as a BuildKit secret while fetching weights
            (gated or private models). Without it the Dockerfile needs no BuildKit.
        sample_prompt: Free text for test_input.json (escaped as JSON there).
    """
    if not plan.needs_build:
        raise ValueError("a vLLM worker uses the prebuilt image; render vllm_env instead")
    if plan.kind == "comfyui":
        return _comfy_files(plan, secret=secret)
    env = _environment()
    family = "diffusers" if plan.kind == "diffusers" else "transformers"
    config = {
        "dtype": plan.dtype,
        "task": plan.task,
        "weights": plan.weights,
        "trust_remote_code": plan.trust_remote_code,
        "model": plan.repo_id,
        "cpu_offload": plan.cpu_offload,
    }
    fields = _IMAGE_FIELDS if family == "diffusers" else _PIPELINE_FIELDS
    if plan.task in EMBEDDING_TASKS:
        fields = _EMBEDDING_FIELDS
    elif plan.task in SPEECH_TASKS:
        fields = _SPEECH_FIELDS
    if family == "diffusers" and plan.task in VIDEO_TASKS:
        fields = _VIDEO_FIELDS
    if family == "diffusers" and plan.task.startswith("image-to-"):
        fields = {**fields, **_IMAGE_INPUT_FIELDS}
    context: dict[str, Any] = {
        "plan": plan,
        "video": plan.task in VIDEO_TASKS,
        "secret": secret,
        "model_dir": _model_dir(plan),
        "config_json": json.dumps(config, sort_keys=True),
        "fields_json": json.dumps(fields),
        "pins": [
            (name, PINS[name]) for name in _PACKAGES[family] + _TASK_PACKAGES.get(plan.task, ())
        ],
        "uv_version": UV_VERSION,
        "ignore": _IGNORE,
        "test_input": {"input": sample_input(plan, sample_prompt)},
    }
    names = {
        "Dockerfile": "Dockerfile.j2",
        "handler.py": "handler.py.j2",
        "pipeline.py": f"pipeline_{family}.py.j2",
        "fetch_weights.py": "fetch_weights.py.j2",
        "requirements.txt": "requirements.txt.j2",
        "test_input.json": "test_input.json.j2",
        "serve": "serve.j2",  # Amazon SageMaker's entry point: `docker run IMAGE serve`
    }
    files = {name: env.get_template(src).render(context) for name, src in names.items()}
    files[".dockerignore"] = "*\n" + "".join(f"!{name}\n" for name in sorted(names))
    return WorkerFiles(files=files)


def vllm_env(plan: WorkerPlan, *, hf_secret: str | None) -> dict[str, str]:
    """The environment of a template on RunPod's vLLM worker image.

    Args:
        plan: A vllm plan from `plan_worker`.
        hf_secret: Name of the user's RunPod secret holding their Hugging Face token, for
            gated or private models. It is referenced, never inlined.
    """
    if plan.kind != "vllm":
        raise ValueError("only a vllm plan runs on the prebuilt vLLM image")
    env = {
        "MODEL_NAME": plan.repo_id,
        "MODEL_REVISION": plan.revision,
        "DTYPE": plan.dtype,
        "GPU_MEMORY_UTILIZATION": f"{plan.gpu_memory_utilization:g}",
        "TENSOR_PARALLEL_SIZE": str(plan.tensor_parallel_size),
        "OPENAI_SERVED_MODEL_NAME_OVERRIDE": plan.repo_id,
    }
    if plan.max_model_len is not None:
        env["MAX_MODEL_LEN"] = str(plan.max_model_len)
    if plan.trust_remote_code:
        env["TRUST_REMOTE_CODE"] = "true"
    if hf_secret is not None:
        env["HF_TOKEN"] = "{{ RUNPOD_SECRET_" + check_secret_name(hf_secret) + " }}"
    return {check_env_key(k): check_env_value(v) for k, v in env.items()}


def build_commands(
    context_dir: str, image: str, *, secret: bool, hf_endpoint: str | None = None
) -> list[str]:
    """The exact commands that build and push the worker on the user's own machine, for
    when no Docker engine is reachable from here. Every value is shell-quoted."""
    args = ["DOCKER_BUILDKIT=1", "docker", "build", "--platform", "linux/amd64"]
    if secret:
        args += ["--secret", "id=hf_token,env=HF_TOKEN"]
    if hf_endpoint:
        args += ["--build-arg", f"HF_ENDPOINT={hf_endpoint}"]
    args += ["--tag", image, context_dir]
    build = " ".join(shell_word(a) if i > 1 else a for i, a in enumerate(args))
    lines = (
        ["export HF_TOKEN=...  # your Hugging Face token, for this shell only"] if secret else []
    )
    return [*lines, build, f"docker push {shell_word(image)}"]
