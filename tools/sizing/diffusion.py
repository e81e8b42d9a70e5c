"""`diffusion_sizing`: the peak GPU memory of a diffusers pipeline generating one request,
component by component, with each offload option diffusers offers.

A pipeline runs in phases, one component at a time: the text encoders encode the prompt,
the denoiser (UNet or transformer) runs every step at the latent size, the VAE decodes the
latent at full resolution. So what must fit depends on where the weights live:

```
none         every component resident:      sum(weights) + max(phase activations)
model        enable_model_cpu_offload():    max over components (its weights + its phase)
sequential   enable_sequential_cpu_offload(): largest submodule + max(phase activations)
```

plus, each time, the CUDA context, the cuBLAS workspace, a cuDNN workspace for the
convolutional phases and the caching allocator's fragmentation (passed in by
`tools.sizing.vram`, which owns those constants). Weights come from each component's
safetensors headers, re-cast to the serving dtype; activations from
`tools.sizing.diffusion_activations`. Sequential offload is slow (every submodule's weights
cross PCIe at every step): it is reported, never chosen for the user.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from tools.sizing.diffusion_activations import Latent, latent_for, makes_video
from tools.sizing.diffusion_parts import (
    CONV_WORKSPACE_BYTES,
    Part,
    Request,
    config_of,
    denoiser_batch,
    parts,
    role,
)
from tools.sizing.dtypes import ServeDtype
from tools.sizing.errors import InvalidOptionError
from tools.sizing.requirements import ComponentWeights, ModelRequirements

__all__ = [
    "OFFLOAD_WORDS", "DiffusionSizing", "OffloadOption", "Option", "Overheads",
    "diffusion_assumptions", "diffusion_sizing", "offload_options",
]  # fmt: skip

OffloadOption = Literal["none", "model", "sequential"]
#: What each offload option means, as a plan or a card says it.
OFFLOAD_WORDS: Final[dict[OffloadOption, str]] = {
    "none": "no offload: every component stays on the GPU",
    "model": "model CPU offload (enable_model_cpu_offload): one component on the GPU at a "
    "time, the others in CPU memory",
    "sequential": "sequential CPU offload (enable_sequential_cpu_offload): one submodule on "
    "the GPU at a time; slow, every step moves all the weights over PCIe",
}
_MIB: Final = 1 << 20
_IMAGE: Final = (1024, 1024, 1)
_VIDEO: Final = (480, 832, 81)  # WanPipeline's defaults


class DiffusionSizing(BaseModel):
    """A pipeline's memory, per component and per offload option, in bytes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    height: int
    width: int
    frames: int
    denoiser_batch: int = Field(description="Latents per denoiser pass (CFG doubles some).")
    component_weights: dict[str, int] = Field(description="At the serving dtype.")
    component_activations: dict[str, int] = Field(description="Each component's phase peak.")
    offload_totals: dict[OffloadOption, int] = Field(description="Total of each option.")
    offload: OffloadOption = Field(description="The option the estimate's total assumes.")
    peak_component: str = Field(description="Whose phase sets the peak under `offload`.")
    activation_basis: dict[str, str] = Field(
        description="How each component's activations were found: a traced class, or not."
    )


@dataclass(frozen=True)
class Overheads:
    """What every option adds, from `tools.sizing.vram`."""

    cuda_context: int
    cublas_workspace: int
    fragmentation_share: float
    fragmentation_floor: int


@dataclass(frozen=True)
class Option:
    """One offload option's peak, by part."""

    weights: int
    activations: int
    workspace: int
    fragmentation: int
    total: int
    component: str


def _geometry(vae: ComponentWeights, height: int | None, width: int | None,
              frames: int | None, batch: int) -> tuple[Latent, Request]:  # fmt: skip
    """The latent, and the request with each unset size at the pipeline's default."""
    video = makes_video(vae.class_name or "", config_of(vae))
    default = _VIDEO if video else _IMAGE
    request = Request(default[0] if height is None else height,
                      default[1] if width is None else width,
                      default[2] if frames is None else frames, batch)  # fmt: skip
    if min(request.height, request.width, request.frames) < 1:
        raise InvalidOptionError("height, width and frames must be at least 1")
    if request.frames > 1 and not video:
        raise InvalidOptionError("this pipeline makes images; frames apply to video pipelines")
    latent = latent_for(vae.class_name or "", config_of(vae), height=request.height,
                        width=request.width, frames=request.frames)  # fmt: skip
    return latent, request


def _option(weights: int, part: Part, over: Overheads) -> Option:
    fragmentation = max(over.fragmentation_floor, int(over.fragmentation_share * part.activations))
    total = (weights + part.activations + part.workspace + fragmentation + over.cublas_workspace
             + over.cuda_context)  # fmt: skip
    return Option(weights, part.activations, part.workspace, fragmentation, total, part.name)


def offload_options(found: list[Part], over: Overheads) -> dict[OffloadOption, Option]:
    """The peak of each offload option."""
    phase = max(found, key=lambda p: (p.activations + p.workspace, p.weights))
    return {
        "none": _option(sum(p.weights for p in found), phase, over),
        "model": max((_option(p.weights, p, over) for p in found), key=lambda o: o.total),
        "sequential": _option(max(p.largest for p in found), phase, over),
    }


def diffusion_sizing(
    requirements: ModelRequirements, serve: ServeDtype, *, height: int | None,
    width: int | None, frames: int | None, batch: int, offload: OffloadOption,
    overheads: Overheads,
) -> tuple[DiffusionSizing, Option] | None:  # fmt: skip
    """The pipeline's sizing and the `offload` option's peak; None when the repo lacks
    what the model needs (a VAE and a denoiser with their config.json).

    Raises:
        InvalidOptionError: A size below 1, or frames for an image pipeline.
    """
    by_role = {role(c): c for c in requirements.components if c.config}
    vae = by_role.get("vae")
    if vae is None or "denoiser" not in by_role:
        return None
    latent, request = _geometry(vae, height, width, frames, batch)
    found = parts(requirements, serve, latent, request)
    options = offload_options(found, overheads)
    chosen = options[offload]
    denoiser = by_role["denoiser"]
    sizing = DiffusionSizing(
        height=request.height, width=request.width, frames=request.frames,
        denoiser_batch=denoiser_batch(requirements.pipeline_class or "", denoiser, batch),
        component_weights={p.name: p.weights for p in found},
        component_activations={p.name: p.activations for p in found},
        activation_basis={p.name: p.how for p in found},
        offload_totals={name: o.total for name, o in options.items()},
        offload=offload, peak_component=chosen.component,
    )  # fmt: skip
    return sizing, chosen


def _gib(value: int) -> str:
    return f"{value / (1 << 30):.1f} GiB"


def diffusion_assumptions(sizing: DiffusionSizing, serve: ServeDtype) -> dict[str, str]:
    """What a diffusers estimate assumed, one sentence per term."""
    totals = ", ".join(f"{k} {_gib(v)}" for k, v in sizing.offload_totals.items())
    frames = f" x {sizing.frames} frames" if sizing.frames > 1 else ""
    return {
        "measurement": "peak process memory of one pipeline call as nvidia-smi shows it: "
        "resident weights + the largest phase's activations + workspaces + CUDA context + "
        "fragmentation",
        "offload": f"{OFFLOAD_WORDS[sizing.offload]}; every option: {totals}",
        "request": f"{sizing.width} x {sizing.height}{frames}; the denoiser runs "
        f"{sizing.denoiser_batch} latent(s) per step (classifier-free guidance doubles the "
        "batch where the pipeline concatenates it); the VAE decodes the batch at once",
        "weights": f"each component's safetensors headers, float tensors cast to {serve}; "
        "an SDXL VAE stays fp32 when served in fp16 (force_upcast)",
        "activations": "per class, the tensors alive at the peak of one forward pass, as "
        "traced on the meta device (diffusers 0.42.1, torch 2.8); SDPA attention (no score "
        "matrix); no VAE slicing or tiling",
        "untraced": "; ".join(
            f"{name}: {how}"
            for name, how in sizing.activation_basis.items()
            if not how.startswith("traced")
        )
        or "none: every component's class was traced",
        "conv_workspace": f"{CONV_WORKSPACE_BYTES // _MIB} MiB for a convolutional phase "
        "(UNet, VAE): cuDNN's workspace, which the meta device cannot show",
        "calibration": "published figures only (diffusers' benchmarks; docs/sizing.md), "
        "not measured here",
    }
