"""The small API-format SDXL text-to-image workflow the ComfyUI worker tests run, and a
comfyui `WorkerPlan` for it built by hand (as `plan_comfy_worker` builds one)."""

from __future__ import annotations

from typing import Any

from tools.artifacts.worker.plan import WeightSource, WorkerPlan, plan_comfy_worker
from tools.comfy.model import (
    ComfyWorker,
    InputKind,
    ModelFile,
    ModelSource,
    NodePackage,
    UserInput,
)
from tools.sizing import ModelRequirements

__all__ = ["SDXL_WORKFLOW", "comfy_plan", "sdxl_inputs"]


#: A small API-format SDXL text-to-image workflow, as ComfyUI's "Save (API)" writes one.
SDXL_WORKFLOW: dict[str, Any] = {
    "4": {
        "class_type": "CheckpointLoaderSimple",
        "inputs": {"ckpt_name": "sd_xl_base_1.0.safetensors"},
    },
    "5": {
        "class_type": "EmptyLatentImage",
        "inputs": {"width": 1024, "height": 1024, "batch_size": 1},
    },
    "6": {
        "class_type": "CLIPTextEncode",
        "inputs": {"text": "a photo of a cat", "clip": ["4", 1]},
        "_meta": {"title": "Positive"},
    },
    "7": {
        "class_type": "CLIPTextEncode",
        "inputs": {"text": "blurry, text", "clip": ["4", 1]},
        "_meta": {"title": "Negative"},
    },
    "3": {
        "class_type": "KSampler",
        "inputs": {
            "seed": 42,
            "steps": 20,
            "cfg": 7.0,
            "sampler_name": "euler",
            "scheduler": "normal",
            "denoise": 1.0,
            "model": ["4", 0],
            "positive": ["6", 0],
            "negative": ["7", 0],
            "latent_image": ["5", 0],
        },
    },
    "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
    "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "ComfyUI", "images": ["8", 0]}},
}


def sdxl_inputs() -> tuple[UserInput, ...]:
    """The workflow's exposed inputs, as the analysis names them."""
    spec: list[tuple[str, str, InputKind, str, str, Any, float | None, float | None]] = [
        ("prompt", "Prompt", "text", "6", "text", "a photo of a cat", None, None),
        ("negative_prompt", "Negative prompt", "text", "7", "text", "blurry, text", None, None),
        ("seed", "Seed", "integer", "3", "seed", 42, 0, 2**64 - 1),
        ("steps", "Steps", "integer", "3", "steps", 20, 1, 150),
        ("cfg", "CFG", "number", "3", "cfg", 7.0, 0, 30),
        ("width", "Width", "integer", "5", "width", 1024, 64, 4096),
        ("height", "Height", "integer", "5", "height", 1024, 64, 4096),
    ]
    return tuple(
        UserInput(
            name=n, label=lab, kind=k, node_id=nid, input_name=i, default=d, minimum=lo, maximum=hi
        )
        for n, lab, k, nid, i, d, lo, hi in spec
    )


def comfy_plan(
    workflow: dict[str, Any] | None = None,
    inputs: tuple[UserInput, ...] | None = None,
    *,
    packages: tuple[NodePackage, ...] = (),
    models: tuple[ModelFile, ...] | None = None,
    weights: WeightSource = "baked",
) -> WorkerPlan:
    """A comfyui WorkerPlan, from `plan_comfy_worker` as a deployment makes it."""
    checkpoint = ModelFile(
        filename="sd_xl_base_1.0.safetensors",
        folder="checkpoints",
        node_ids=("4",),
        class_type="CheckpointLoaderSimple",
        source=ModelSource(
            repo_id="stabilityai/stable-diffusion-xl-base-1.0",
            path="sd_xl_base_1.0.safetensors",
            revision="462165984030d82259a11f4367a4eed129e94a7b",
            size_bytes=6_938_078_334,
        ),
    )
    comfy = ComfyWorker(
        name="SDXL text to image",
        workflow=workflow or SDXL_WORKFLOW,
        inputs=sdxl_inputs() if inputs is None else inputs,
        models=(checkpoint,) if models is None else models,
        packages=packages,
        output_node_ids=("9",) if workflow is None else (),
    )
    sized = ModelRequirements(
        repo_id="comfyui/sdxl-text-to-image", sha="0123456789abcdef0123456789abcdef01234567",
        library="diffusers", pipeline_tag="text-to-image",
        weights_bytes=sum(m.source.size_bytes or 0 for m in comfy.models if m.source),
    )  # fmt: skip
    return plan_comfy_worker(comfy, sized, weights=weights)
