"""Sizing a ComfyUI workflow: its resolved model files become the components of a diffusers
pipeline of the same family, so the diffusion sizing (`tools.sizing.diffusion`) prices it at
the workflow's own resolution, batch and frames.

ComfyUI keeps every model it loaded on the GPU while they fit, and unloads the idle ones
when the next one does not: that is the "none" offload option when the GPU holds them all,
and the "model" option (one model at a time) otherwise; `choose_gpu` falls back to the
second by itself. The family (SDXL, SD 1.5, FLUX) gives each component its class and
config, which the activation formulas read; a single-file checkpoint is split between its
components by their parameter counts. A file the family does not cover (a LoRA, a
ControlNet, an upscaler, an unknown base) counts by its weights only.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any, Final

from tools.comfy.model import ModelFile, WorkflowAnalysis, WorkflowError
from tools.sizing import (
    ComponentWeights,
    GpuChoice,
    ModelRequirements,
    OffloadOption,
    VramEstimate,
    choose_gpu,
    estimate_vram,
)
from tools.sizing.dtypes import tensor_dtype_bytes

__all__ = [
    "FAMILIES", "comfy_requirements", "estimate_workflow", "family_of", "gpu_for_workflow",
    "resident_note",
]  # fmt: skip

_FAMILY_FILE: Final = Path(__file__).with_name("families.json")
FAMILIES: Final = ("sdxl", "sd15", "flux")
# The folders whose file is the base model (decides the family).
_BASE_FOLDERS: Final = frozenset({"checkpoints", "diffusion_models", "unet"})
# Storage dtype by bytes per parameter of the family's component; under one byte a file is
# packed (4-bit, e.g. SVDQuant or GGUF Q4), counted as the bytes it holds.
_BY_RATIO: Final = ((0.75, "U8"), (1.5, "F8_E4M3"), (3.0, "F16"), (99.0, "F32"))


@cache
def _families() -> dict[str, Any]:
    return json.loads(_FAMILY_FILE.read_text())


def family_of(analysis: WorkflowAnalysis) -> str | None:
    """The base model's family, from its file names and the node classes (None: unknown)."""
    bases = " ".join(m.filename.lower() for m in analysis.models if m.folder in _BASE_FOLDERS)
    classes = {n.class_type for n in analysis.workflow.nodes.values()}
    if "flux" in bases or classes & {"FluxGuidance", "CLIPTextEncodeFlux"}:
        return "flux"
    if "xl" in bases or "CLIPTextEncodeSDXL" in classes:
        return "sdxl"
    if any(w in bases for w in ("v1-5", "v1.5", "sd15", "sd_1.5", "sd1.5")):
        return "sd15"
    return None


def _tag(size: int, params: int, family: str) -> str:
    """The storage dtype, from bytes per parameter (fp8, 16-bit or fp32)."""
    ratio = size / max(params, 1)
    tag = next(t for limit, t in _BY_RATIO if ratio < limit)
    return "BF16" if tag == "F16" and family == "flux" else tag


def _component(
    name: str, spec: dict[str, Any], size: int, family: str, file: str
) -> ComponentWeights:
    tag = _tag(size, int(spec["params"]), family)
    # Counted from the file's own bytes, so what is sized is what the file holds.
    count = size // (tensor_dtype_bytes(tag) or 1)
    return ComponentWeights(
        name=name, files=(file,), bytes=size, format="safetensors", dtype_tag=tag,
        dtype_guessed=True, class_name=spec["class_name"], parameters_by_dtype={tag: count},
        config=spec["config"],
    )  # fmt: skip


def _text_encoder_slot(filename: str, parts: dict[str, Any]) -> str | None:
    """Which of the family's text encoders a separate file is (T5, CLIP-L or CLIP-G)."""
    name = filename.lower()
    wanted = (
        "T5EncoderModel" if "t5" in name
        else "CLIPTextModelWithProjection" if "clip_g" in name
        else "CLIPTextModel" if "clip_l" in name
        else None
    )  # fmt: skip
    return next((slot for slot, s in parts.items() if s["class_name"] == wanted), None)


def _split_checkpoint(m: ModelFile, size: int, family: str) -> list[ComponentWeights]:
    parts: dict[str, Any] = _families()[family]["components"]
    total = sum(int(s["params"]) for s in parts.values())
    return [
        _component(slot, s, size * int(s["params"]) // total, family, m.filename)
        for slot, s in parts.items()
    ]


def _slot_of(m: ModelFile, parts: dict[str, Any]) -> str | None:
    if m.folder in {"diffusion_models", "unet"}:
        return next(s for s in parts if s in {"unet", "transformer"})
    if m.folder == "vae":
        return "vae"
    if m.folder in {"clip", "text_encoders"}:
        return _text_encoder_slot(m.filename, parts)
    return None


def _weights_only(m: ModelFile, size: int, index: int) -> ComponentWeights:
    # A file outside the family's components: its weights count, its activations do not.
    return ComponentWeights(
        name=f"{m.folder}_{index}", files=(m.filename,), bytes=size, format="safetensors",
        dtype_tag="F16", dtype_guessed=True, class_name=None,
    )  # fmt: skip


def _components(analysis: WorkflowAnalysis, family: str | None) -> list[ComponentWeights]:
    parts: dict[str, Any] = _families()[family]["components"] if family else {}
    found: dict[str, ComponentWeights] = {}
    for index, m in enumerate(analysis.models):
        size = m.source.size_bytes if m.source else None
        if size is None:
            raise WorkflowError(f"{m.filename} has no known size: resolve its source first")
        if family and m.folder == "checkpoints" and m.filename not in _other_files(analysis):
            found |= {c.name: c for c in _split_checkpoint(m, size, family)}
            continue
        slot = _slot_of(m, parts) if family else None
        if family and slot and slot not in found:
            found[slot] = _component(slot, parts[slot], size, family, m.filename)
        else:
            found[f"{m.folder}_{index}"] = _weights_only(m, size, index)
    return list(found.values())


def _other_files(analysis: WorkflowAnalysis) -> set[str]:
    """Checkpoints loaded only for a part (e.g. a refiner beside the base) stay whole."""
    checkpoints = [m.filename for m in analysis.models if m.folder == "checkpoints"]
    return set(checkpoints[1:])


def comfy_requirements(analysis: WorkflowAnalysis) -> ModelRequirements:
    """The workflow as a diffusers pipeline for `estimate_vram`.

    Raises:
        WorkflowError: A model file has no known size (its source is not resolved).
    """
    family = family_of(analysis)
    components = tuple(_components(analysis, family))
    pipeline = _families()[family]["pipeline_class"] if family else None
    workflow = analysis.workflow
    return ModelRequirements(
        repo_id=workflow.repo_id, sha=workflow.digest[:40], library="diffusers",
        pipeline_tag="text-to-video" if analysis.frames else "text-to-image",
        weights_bytes=sum(c.bytes for c in components), weight_format="safetensors",
        weight_files=tuple(m.filename for m in analysis.models),
        components=components, pipeline_class=pipeline,
        gated=any(m.source is not None and m.source.gated for m in analysis.models),
        sources={"weights": "the workflow's model files, sized from the Hub"},
    )  # fmt: skip


def estimate_workflow(
    analysis: WorkflowAnalysis,
    *,
    requirements: ModelRequirements | None = None,
    offload: OffloadOption = "none",
) -> VramEstimate:
    """Peak GPU memory of one run of the workflow at its resolution, batch and frames
    (`requirements`: its `comfy_requirements`, when the caller has them already)."""
    return estimate_vram(
        requirements or comfy_requirements(analysis), "auto", batch=analysis.batch,
        height=analysis.height, width=analysis.width, frames=analysis.frames, offload=offload,
    )  # fmt: skip


def gpu_for_workflow(analysis: WorkflowAnalysis) -> tuple[VramEstimate, GpuChoice]:
    """The estimate and the cheapest GPU of the packaged table that holds the workflow,
    falling back to ComfyUI's one-model-at-a-time (model offload) when none holds every
    model, as `plan_deployment` chooses (the chat's card and `kriptik comfy inspect`)."""
    requirements = comfy_requirements(analysis)
    estimate = estimate_workflow(analysis, requirements=requirements)
    choice = choose_gpu(estimate, requirements=requirements)
    return choice.estimate or estimate, choice


def resident_note(analysis: WorkflowAnalysis, offload: OffloadOption | None) -> str:
    """Which models stay on the GPU together, as the card says it."""
    names = ", ".join(m.filename for m in analysis.models)
    if offload == "model":
        return (
            "Not every model fits at once: ComfyUI keeps one on the GPU at a time "
            f"({names}) and moves the others to CPU memory, which is slower"
        )
    return f"All {len(analysis.models)} model file(s) stay on the GPU together: {names}"
