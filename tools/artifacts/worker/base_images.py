"""The one table of container images a deployment names (RunPod's vLLM and ComfyUI workers,
the generated workers' CUDA/torch base, the local test base): each with its tag, what it is
for, the host CUDA it needs and the page its tag was checked against.

Nothing else in KripTik spells an image: `plan_worker` takes its defaults from here and
refuses an image that is not listed, and endpoints ask RunPod for hosts whose CUDA is at
least the entry's `min_cuda`. An entry whose `checked` is False names a tag nobody has yet
seen on its `source` pages: check it there (and record the digest) before a release.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["BASE_IMAGES", "BaseImage", "ImageKey", "base_image", "find_image"]

ImageKey = Literal["vllm", "cuda-torch", "comfyui", "test"]
_CUDA: Final = r"^\d+\.\d+$"


class BaseImage(BaseModel):
    """One image KripTik deploys or builds on.

    Attributes:
        key: How code asks for it (`base_image("vllm")`).
        image: Repository, e.g. `runpod/worker-v1-vllm`.
        tag: The pinned tag.
        digest: `sha256:...` of the manifest, once read from the registry (None: not yet).
        purpose: What it is for.
        min_cuda: Lowest host CUDA (`major.minor`) the image runs on; None: needs no GPU.
        cuda_source: Where `min_cuda` comes from.
        source: The release page or registry listing the tag is checked against.
        checked: True once the tag was seen on `source` (a release page or registry
            listing); the digest is recorded when a registry listing was read.
        checked_on: The day of that check.
        note: What is known, and what must still be done.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: ImageKey
    image: str
    tag: str
    digest: str | None = Field(default=None, pattern=r"^sha256:[0-9a-f]{64}$")
    purpose: str
    min_cuda: str | None = Field(pattern=_CUDA)
    cuda_source: str
    source: tuple[str, ...] = Field(min_length=1)
    checked: bool
    checked_on: date | None
    note: str = ""

    @property
    def ref(self) -> str:
        """The reference a Dockerfile or template names: `image:tag[@digest]`."""
        ref = f"{self.image}:{self.tag}"
        return f"{ref}@{self.digest}" if self.digest else ref


BASE_IMAGES: Final[tuple[BaseImage, ...]] = (
    BaseImage(
        key="vllm",
        image="runpod/worker-v1-vllm",
        tag="v2.25.2",
        purpose="RunPod's prebuilt vLLM worker (runpod-workers/worker-vllm), configured by "
        "env alone: the image of every vLLM template",
        min_cuda="13.0",
        cuda_source="runpod-workers/worker-vllm at tag v2.25.2 (7a92503, 2026-08-20): "
        '.runpod/hub.json sets "allowedCudaVersions": ["13.0"] (since 32b29d4, 2026-05-20), '
        "and the Dockerfile builds FROM vllm/vllm-openai:v0.27.1, whose CUDA runtime the "
        "image inherits (its README)",
        source=(
            "https://github.com/runpod-workers/worker-vllm/releases/tag/v2.25.2",
            "https://hub.docker.com/r/runpod/worker-v1-vllm/tags?name=v2.25.2",
        ),
        checked=True,
        checked_on=date(2026, 12, 6),
        note="v2.25.2 is a release tag of runpod-workers/worker-vllm (commit 7a92503), whose "
        "README publishes each release as runpod/worker-v1-vllm:<version>. The tag used "
        "before, v2.26.0, could not be found among the repository's tags, so it is no longer "
        "used. Every env name `vllm_env` sets was checked against that release's "
        "src/args_builder.py: MODEL_NAME, MODEL_REVISION and OPENAI_SERVED_MODEL_NAME_OVERRIDE "
        "are its aliases; DTYPE, MAX_MODEL_LEN, GPU_MEMORY_UTILIZATION, TENSOR_PARALLEL_SIZE "
        "and TRUST_REMOTE_CODE map to vLLM flags by its generic scan; HF_TOKEN is read by its "
        "download step. The digest is not recorded: no registry is reachable from the build "
        "machine; read it from the Docker Hub listing and add it here.",
    ),
    BaseImage(
        key="cuda-torch",
        image="pytorch/pytorch",
        tag="2.8.0-cuda12.8-cudnn9-runtime",
        purpose="Base of every generated worker (diffusers, transformers, custom): CUDA 12.8, "
        "cuDNN 9 and torch 2.8.0 in /opt/conda, which the worker's requirements reuse",
        min_cuda="12.8",
        cuda_source="the tag itself (cuda12.8): a CUDA 12.8 runtime needs a host driver "
        "that reports CUDA 12.8 or newer",
        source=("https://hub.docker.com/r/pytorch/pytorch/tags?name=2.8.0-cuda12.8",),
        checked=False,
        checked_on=None,
        note="Not yet seen on Docker Hub from here (no registry is reachable from the "
        "build machine): check the tag and record the digest before release.",
    ),
    BaseImage(
        key="comfyui",
        image="runpod/worker-comfyui",
        tag="5.8.5-base",
        purpose="Base of every ComfyUI worker: RunPod's official ComfyUI worker without models "
        "(ComfyUI in /comfyui, its Python in /opt/venv, `comfy-node-install`, and start.sh, "
        "which starts ComfyUI on 127.0.0.1:8188 and then runs /handler.py)",
        min_cuda="12.6",
        cuda_source="runpod-workers/worker-comfyui at tag 5.8.5 (d2a5572, 2026-03-20): the "
        "Dockerfile builds on nvidia/cuda:12.6.3-cudnn-runtime-ubuntu24.04 and docker-bake.hcl "
        "installs ComfyUI's torch for CUDA 12.6 (CUDA_VERSION_FOR_COMFY); .runpod/hub.json sets "
        '"allowedCudaVersions": ["12.7", "12.6"]',
        source=(
            "https://github.com/runpod-workers/worker-comfyui/releases/tag/5.8.5",
            "https://hub.docker.com/r/runpod/worker-comfyui/tags?name=5.8.5-base",
        ),
        checked=True,
        checked_on=date(2026, 12, 7),
        note="5.8.5 is a release tag of runpod-workers/worker-comfyui (commit d2a5572, "
        "2026-03-20), whose docker-bake.hcl tags the `base` target "
        "runpod/worker-comfyui:<release>-base and whose README lists <version>-base as the "
        "image without models. Read in that release: src/extra_model_paths.yaml maps "
        "/runpod-volume/models/{checkpoints,clip,clip_vision,configs,controlnet,embeddings,"
        "loras,upscale_models,vae,unet}; the image installs runpod, requests and "
        "websocket-client unpinned, and ComfyUI at COMFYUI_VERSION=latest (the version inside "
        "is the one current at its build). The repository is AGPL: read for facts only. The "
        "digest is not recorded: no registry is reachable from the build machine; read it "
        "from the Docker Hub listing and add it here.",
    ),
    BaseImage(
        key="test",
        image="kriptik-local/python",
        tag="3.11-bookworm",
        purpose="CPU-only base of the worker-image tests: Debian bookworm minbase with "
        "python3, built locally by scripts/build-base-image.sh, never pulled or deployed",
        min_cuda=None,
        cuda_source="no CUDA: the tests run the stub pipeline on CPU",
        source=("scripts/build-base-image.sh (debootstrap bookworm, `docker import`)",),
        checked=True,
        checked_on=date(2026, 12, 7),
        note="Built on the test machine, so it exists wherever the tests run.",
    ),
)

_REF: Final = re.compile(
    r"^(?P<image>[^@]+?):(?P<tag>[^:@/]+)(?:@(?P<digest>sha256:[0-9a-f]{64}))?$"
)


def base_image(key: ImageKey) -> BaseImage:
    """The table's entry for `key`."""
    return next(entry for entry in BASE_IMAGES if entry.key == key)


def find_image(ref: str) -> BaseImage | None:
    """The entry an image reference names (`image:tag`, optionally `@digest`), or None.
    A digest in `ref` must be the entry's own when the entry records one."""
    match = _REF.match(ref)
    if match is None:
        return None
    for entry in BASE_IMAGES:
        if (entry.image, entry.tag) != (match["image"], match["tag"]):
            continue
        if match["digest"] in (None, entry.digest):
            return entry
    return None
