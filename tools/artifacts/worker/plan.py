"""`plan_worker`: which worker a model gets, decided from what sizing found.

- A text-generation model whose architecture vLLM serves runs on RunPod's prebuilt vLLM
  worker image: nothing to build, only a template environment (`vllm_env`).
- A diffusers pipeline, a transformers pipeline or a model with custom code gets a
  generated worker (Dockerfile, handler, pipeline module, pinned requirements).

Every field of a `WorkerPlan` is validated here, so the templates can trust it.
"""

from __future__ import annotations

import math
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from tools.artifacts.worker.base_images import BASE_IMAGES, base_image, find_image
from tools.artifacts.worker.values import (
    UnsafeValue,
    check_dockerfile_value,
    check_image_ref,
    check_repo_id,
    check_revision,
)
from tools.comfy.model import ComfyWorker
from tools.sizing import ModelRequirements

__all__ = [
    "DEFAULT_BASE_IMAGE",
    "DEFAULT_VLLM_IMAGE",
    "VLLM_ARCHITECTURES",
    "WeightSource",
    "WorkerKind",
    "WorkerPlan",
    "kind_needs_build",
    "plan_comfy_worker",
    "plan_worker",
]

WorkerKind = Literal["vllm", "diffusers", "transformers", "custom", "comfyui"]
WeightSource = Literal["baked", "network_volume"]
TorchDtype = Literal["bfloat16", "float16", "float32", "auto"]

# Both defaults, and the CUDA they need, come from the one table (`base_images`).
DEFAULT_VLLM_IMAGE: Final = base_image("vllm").ref
DEFAULT_BASE_IMAGE: Final = base_image("cuda-torch").ref
BASE_MIN_CUDA: Final = base_image("cuda-torch").min_cuda

# Architectures (config.json `architectures`) that vLLM serves for text generation.
VLLM_ARCHITECTURES: Final = frozenset(
    {
        "LlamaForCausalLM",
        "MistralForCausalLM",
        "MixtralForCausalLM",
        "Qwen2ForCausalLM",
        "Qwen2MoeForCausalLM",
        "Qwen3ForCausalLM",
        "Qwen3MoeForCausalLM",
        "Phi3ForCausalLM",
        "PhiForCausalLM",
        "PhiMoEForCausalLM",
        "GemmaForCausalLM",
        "Gemma2ForCausalLM",
        "Gemma3ForCausalLM",
        "Gemma3ForConditionalGeneration",
        "FalconForCausalLM",
        "GPTNeoXForCausalLM",
        "GPT2LMHeadModel",
        "GPTBigCodeForCausalLM",
        "GPTJForCausalLM",
        "OPTForCausalLM",
        "BloomForCausalLM",
        "MPTForCausalLM",
        "StableLmForCausalLM",
        "Starcoder2ForCausalLM",
        "OlmoForCausalLM",
        "Olmo2ForCausalLM",
        "CohereForCausalLM",
        "Cohere2ForCausalLM",
        "DeepseekV2ForCausalLM",
        "DeepseekV3ForCausalLM",
        "GraniteForCausalLM",
        "GraniteMoeForCausalLM",
        "ExaoneForCausalLM",
        "InternLM2ForCausalLM",
        "DbrxForCausalLM",
        "JambaForCausalLM",
        "GptOssForCausalLM",
        "SmolLM3ForCausalLM",
        "Glm4ForCausalLM",
        "GlmForCausalLM",
        "Mistral3ForConditionalGeneration",
        "Llama4ForConditionalGeneration",
        "MllamaForConditionalGeneration",
        "LlavaForConditionalGeneration",
        "Qwen2VLForConditionalGeneration",
        "Qwen2_5_VLForConditionalGeneration",
    }
)
_VLLM_QUANT: Final = frozenset({"none", "awq", "gptq", "fp8", "compressed-tensors", "bnb-4bit"})
_TEXT_TASKS: Final = frozenset({"text-generation", "image-text-to-text", "text2text-generation"})
_TORCH_DTYPE: Final[dict[str, TorchDtype]] = {
    "bf16": "bfloat16",
    "fp16": "float16",
    "fp32": "float32",
}
_GB: Final = 1_000_000_000


def kind_needs_build(kind: str) -> bool:
    """Whether a worker of `kind` is an image KripTik builds: every kind but RunPod's
    prebuilt vLLM image (read also from stored plans, which keep the kind)."""
    return kind != "vllm"


class WorkerPlan(BaseModel):
    """What to deploy for one model; every field already validated for the templates.

    Attributes:
        kind: vllm (prebuilt image, no build) or a generated worker kind.
        repo_id: The Hugging Face repo.
        revision: The commit sha that was inspected; workers load exactly this.
        task: The pipeline task, e.g. text-generation or text-to-image.
        dtype: Torch dtype to load in; "auto" keeps a quantized checkpoint's own.
        max_model_len: vLLM context length (None: the model's maximum).
        gpu_memory_utilization: vLLM's share of each GPU.
        tensor_parallel_size: GPUs per worker.
        gated: The repo needs an accepted licence and a token.
        trust_remote_code: The model runs code from its repo.
        weights: baked into the image at build time, or read from a network volume.
        base_image: Base of a generated image (CUDA by default).
        image: The prebuilt image (vLLM), None when an image is built.
        disk_gb: Container disk for the template.
        cpu_offload: A diffusers worker calls `enable_model_cpu_offload()`: sizing found
            no GPU that holds every component at once, so one at a time is on the GPU.
        comfy: A ComfyUI worker's workflow, inputs, models and custom nodes (kind
            "comfyui" only; `repo_id` then names the workflow and `revision` is its digest).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: WorkerKind
    repo_id: str
    revision: str
    task: str
    dtype: TorchDtype
    max_model_len: int | None = Field(default=None, ge=1)
    gpu_memory_utilization: float = Field(default=0.9, gt=0, le=1)
    tensor_parallel_size: int = Field(default=1, ge=1)
    gated: bool = False
    trust_remote_code: bool = False
    weights: WeightSource = "baked"
    base_image: str = DEFAULT_BASE_IMAGE
    image: str | None = None
    disk_gb: int = Field(default=20, ge=5)
    cpu_offload: bool = False
    comfy: ComfyWorker | None = None

    @property
    def needs_build(self) -> bool:
        return kind_needs_build(self.kind)

    @property
    def min_cuda(self) -> str | None:
        """The lowest host CUDA the image that runs (vLLM) or is built on needs (None: any
        host), from the base-image table."""
        entry = find_image(self.image if self.image is not None else self.base_image)
        return entry.min_cuda if entry else None


def _kind(req: ModelRequirements, *, prebuilt: bool = True) -> WorkerKind:
    arch = req.architecture
    archs: set[str] = set(arch.architectures) if arch else set()
    if req.weight_format == "gguf":
        raise UnsafeValue(
            f"{req.repo_id} holds GGUF weights, which KripTik does not serve yet; pick the "
            "repo with safetensors weights that it was converted from"
        )
    if req.library == "diffusers":
        return "diffusers"
    if (
        (req.pipeline_tag or "text-generation") in _TEXT_TASKS
        and archs & VLLM_ARCHITECTURES
        and req.quantization.method in _VLLM_QUANT
        and req.weight_format in {"safetensors", "pytorch"}
    ):
        if not prebuilt:  # our own image instead: the generated worker serves the model
            return "custom" if req.trust_remote_code else "transformers"
        return "vllm"
    if req.trust_remote_code or req.library == "custom":
        return "custom"
    if req.library in {"transformers", "sentence-transformers", "timm", "peft"}:
        return "transformers"
    raise UnsafeValue(
        f"{req.repo_id} uses the {req.library or 'unknown'} library, which KripTik cannot "
        "serve yet; diffusers, transformers and vLLM-supported text models are"
    )


def plan_worker(
    requirements: ModelRequirements,
    *,
    dtype: str = "bf16",
    max_model_len: int | None = None,
    gpu_count: int = 1,
    gpu_memory_utilization: float = 0.9,
    weights: WeightSource = "baked",
    base_image: str = DEFAULT_BASE_IMAGE,
    vllm_image: str = DEFAULT_VLLM_IMAGE,
    cpu_offload: bool = False,
    prebuilt: bool = True,
) -> WorkerPlan:
    """Decide the worker for a model that `inspect_model` described.

    Args:
        requirements: From `inspect_model`; it must carry the commit sha it read.
        dtype: Serving dtype from sizing (bf16, fp16, fp32; others keep the checkpoint's).
        max_model_len: vLLM context length, e.g. the one sizing found to fit.
        gpu_count: GPUs per worker (tensor parallelism for vLLM).
        gpu_memory_utilization: vLLM's share of each GPU.
        weights: "baked" into the image, or "network_volume".
        base_image: Base image of a generated worker.
        vllm_image: The prebuilt vLLM worker image.
        cpu_offload: Model CPU offload, as sizing chose it (a diffusers worker only).
        prebuilt: False asks for a generated worker even where RunPod's prebuilt vLLM image
            would serve the model (a target that runs only our own image, such as Cloud
            Run): a generative text model then gets the `transformers` worker.

    Raises:
        UnsafeValue: The model cannot be served this way, or a value is unsafe.
    """
    if requirements.repo_id is None or requirements.sha is None:
        raise UnsafeValue("inspect the model on the Hub first: a deployment pins its commit")
    kind = _kind(requirements, prebuilt=prebuilt)
    if kind != "vllm" and gpu_count != 1:
        raise UnsafeValue("only vLLM workers split a model over several GPUs; use one GPU")
    if cpu_offload and kind != "diffusers":
        raise UnsafeValue("only a diffusers worker offloads components to the CPU")
    _listed(check_image_ref(check_dockerfile_value(base_image)))
    weights_gb = math.ceil(requirements.weights_bytes * 1.2 / _GB)
    return WorkerPlan(
        kind=kind,
        repo_id=check_repo_id(requirements.repo_id),
        revision=check_revision(requirements.sha),
        task=_task(requirements, kind),
        dtype=_TORCH_DTYPE.get(dtype, "auto"),
        max_model_len=max_model_len,
        gpu_memory_utilization=gpu_memory_utilization,
        tensor_parallel_size=gpu_count,
        gated=requirements.gated,
        trust_remote_code=requirements.trust_remote_code,
        weights=weights,
        base_image=base_image,
        image=_listed(check_image_ref(vllm_image)) if kind == "vllm" else None,
        # vLLM downloads the weights to container disk at start; a baked image holds them.
        disk_gb=max(20, weights_gb + 10) if kind == "vllm" else 20,
        cpu_offload=cpu_offload,
    )


def plan_comfy_worker(
    comfy: ComfyWorker, requirements: ModelRequirements, *, weights: WeightSource = "baked"
) -> WorkerPlan:
    """The worker for a ComfyUI workflow: RunPod's ComfyUI worker image (from the base-image
    table) with the workflow's custom nodes and model files added at build time.

    Args:
        comfy: The resolved workflow (`tools.comfy.analyze.worker_of`).
        requirements: Its sizing view (`tools.comfy.sizing.comfy_requirements`), which
            names it (`comfyui/<name>`) and pins it (the workflow digest).
        weights: "baked" into the image, or read from a network volume.

    Raises:
        UnsafeValue: A package is not pinned, or a value cannot go into a Dockerfile.
    """
    if requirements.repo_id is None or requirements.sha is None:
        raise UnsafeValue("size the workflow first: a deployment pins its digest")
    unpinned = [p.package_id for p in comfy.packages if not p.version]
    if unpinned:
        raise UnsafeValue(
            f"{', '.join(unpinned)} has no pinned version: give a version or a commit "
            "before building (nothing is installed at whatever is newest)"
        )
    weights_gb = math.ceil(requirements.weights_bytes * 1.1 / _GB)
    return WorkerPlan(
        kind="comfyui",
        repo_id=requirements.repo_id,
        revision=check_revision(requirements.sha),
        task=check_dockerfile_value(requirements.pipeline_tag or "text-to-image"),
        dtype="auto",
        gated=requirements.gated,
        weights=weights,
        base_image=_listed(base_image("comfyui").ref),
        # The models are baked into the image (or on the volume); ComfyUI writes outputs.
        disk_gb=max(20, weights_gb + 10) if weights == "baked" else 20,
        comfy=comfy,
    )


def _listed(ref: str) -> str:
    """`ref`, if the base-image table lists it; a deployment names no other image."""
    if find_image(ref) is None:
        known = ", ".join(entry.ref for entry in BASE_IMAGES)
        raise UnsafeValue(
            f"image {ref} is not in tools/artifacts/worker/base_images.py (known: {known}); "
            "add it there with its source before using it"
        )
    return ref


def _task(req: ModelRequirements, kind: WorkerKind) -> str:
    default = "text-to-image" if kind == "diffusers" else "text-generation"
    task = req.pipeline_tag or default
    return check_dockerfile_value(task)
