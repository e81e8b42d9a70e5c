"""Each component of a diffusers pipeline as sizing models it: its role, its weights at the
serving dtype, and the activation peak of its phase (text encoding, denoising, decoding).

Pipeline-level choices live here too, because they decide what each phase holds: whether
classifier-free guidance doubles the denoiser's batch, how many tokens a prompt fills, and
whether an SDXL VAE is upcast to fp32.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from tools.sizing.diffusion_activations import (
    Latent,
    Peak,
    denoiser_peak,
    text_encoder_peak,
    vae_peak,
)
from tools.sizing.dtypes import (
    FLOAT_TENSOR_DTYPES,
    ServeDtype,
    tensor_dtype_bytes,
    weight_bytes_per_param,
)
from tools.sizing.requirements import ComponentWeights, ModelRequirements

__all__ = ["CONV_WORKSPACE_BYTES", "Part", "Role", "config_of", "denoiser_batch", "parts", "role"]

Role = Literal["text_encoder", "denoiser", "vae", "other"]
#: cuDNN's convolution workspace, which the meta-device trace cannot see: an allowance for
#: each convolutional phase (UNet, VAE). Diffusers' own benchmark of the SDXL UNet (bf16,
#: 1024x1024, batch 1: 5.05 GiB allocated, benchmarks/collated_results.csv) lies 85 MiB above
#: weights + traced activations + the cuBLAS workspace; rounded up to 128 MiB.
CONV_WORKSPACE_BYTES: Final = 128 << 20
# Pipelines that run classifier-free guidance as two passes of batch 1 (or, Flux, not at
# all) instead of one pass of batch 2: diffusers 0.42.1's denoising loops.
_SEPARATE_CFG: Final = ("Flux", "Wan", "HunyuanVideo", "HunyuanImage", "QwenImage", "Chroma",
                        "CogView4", "Cosmos", "SkyReels", "ZImage", "Lumina2")  # fmt: skip
_CLIP_TOKENS: Final = 77
_LONG_PROMPT: Final = 512  # T5-style encoders: Flux's and Wan's max_sequence_length


@dataclass(frozen=True)
class Part:
    """One component: its weights, its phase's activations and workspace, and its largest
    tensor (what sequential offload keeps on the GPU), in bytes."""

    name: str
    role: Role
    weights: int
    activations: int
    workspace: int
    largest: int
    how: str  # how its activations were found: a traced class, or not


def config_of(c: ComponentWeights | None) -> Mapping[str, Any]:
    return (c.config or {}) if c is not None else {}


def role(c: ComponentWeights) -> Role:
    """What a component does, from its model_index.json class (or its folder's name)."""
    cls = c.class_name or ""
    if "Autoencoder" in cls or "VQModel" in cls or c.name == "vae":
        return "vae"
    if c.name.startswith("text_encoder") or cls.endswith(("TextModel", "EncoderModel")):
        return "text_encoder"
    if "UNet" in cls or "Transformer" in cls or c.name in {"unet", "transformer"}:
        return "denoiser"
    return "other"


def _weights(c: ComponentWeights, serve: ServeDtype, upcast: bool) -> tuple[int, int]:
    """(bytes at the serving dtype, bytes of its largest tensor). Float tensors are re-cast,
    integer ones keep their storage; without headers, a file size over a guessed dtype."""
    counts = c.parameters_by_dtype or {
        c.dtype_tag: c.bytes // (tensor_dtype_bytes(c.dtype_tag) or 2)
    }
    total = 0.0
    for tag, count in counts.items():
        if upcast and tag in FLOAT_TENSOR_DTYPES:
            total += 4 * count
        elif serve == "auto" or tag not in FLOAT_TENSOR_DTYPES:
            total += count * (tensor_dtype_bytes(tag) or 1)
        else:
            total += count * weight_bytes_per_param(serve)
    per = total / max(sum(counts.values()), 1)
    largest = c.largest_tensor_params or max(counts.values()) // 10  # no header: a tenth
    return int(total), int(largest * per)


def _act_bytes(serve: ServeDtype, components: tuple[ComponentWeights, ...]) -> int:
    if serve == "auto":
        return 4 if {c.dtype_tag for c in components} <= {"F32", "F64"} else 2
    return 4 if serve == "fp32" else 2


def _tokens(c: ComponentWeights) -> int:
    """A prompt's tokens: CLIP pads to its 77 positions, T5-style encoders to 512."""
    position = config_of(c).get("max_position_embeddings")
    return position if isinstance(position, int) and position <= _CLIP_TOKENS else _LONG_PROMPT


def denoiser_batch(pipeline: str, denoiser: ComponentWeights, batch: int) -> int:
    """Latents per denoiser pass: classifier-free guidance doubles the batch where the
    pipeline concatenates the two halves (SD, SDXL), not where it is distilled into a
    guidance embedding (Flux: `guidance_embeds`) or runs two passes (Wan)."""
    if config_of(denoiser).get("guidance_embeds") or pipeline.startswith(_SEPARATE_CFG):
        return batch
    return 2 * batch


def _upcast(pipeline: str, vae: ComponentWeights, serve: ServeDtype) -> bool:
    """SDXL pipelines decode in fp32 when served in fp16 (`force_upcast`: the SDXL VAE
    overflows in fp16); in bf16 it decodes as it is."""
    force = bool(config_of(vae).get("force_upcast"))
    return serve == "fp16" and force and pipeline.startswith("StableDiffusionXL")


@dataclass(frozen=True)
class Request:
    """What one call makes: `batch` outputs of height x width (x frames)."""

    height: int
    width: int
    frames: int
    batch: int


def _peak(c: ComponentWeights, what: Role, latent: Latent, request: Request, pipeline: str,
          act: int, text: int) -> Peak:  # fmt: skip
    config, cls = config_of(c), c.class_name or ""
    if what == "denoiser":
        batch = denoiser_batch(pipeline, c, request.batch)
        return denoiser_peak(cls, config, latent, batch=batch, act_bytes=act, text_tokens=text)
    if what == "vae":
        return vae_peak(cls, config, latent, batch=request.batch, frames=request.frames,
                        act_bytes=act)  # fmt: skip
    if what == "text_encoder":
        # SDXL-style pipelines read CLIP's penultimate layer: every hidden state is kept.
        keep = _tokens(c) <= _CLIP_TOKENS and not pipeline.startswith("Flux")
        return text_encoder_peak(config, tokens=_tokens(c), keep_hidden_states=keep,
                                 act_bytes=act)  # fmt: skip
    return Peak(0, "no activations modelled")


def parts(requirements: ModelRequirements, serve: ServeDtype, latent: Latent,
          request: Request) -> list[Part]:  # fmt: skip
    """Every component with its weights and the peak of its phase."""
    pipeline = requirements.pipeline_class or ""
    act = _act_bytes(serve, requirements.components)
    encoders = [c for c in requirements.components if role(c) == "text_encoder"]
    text = max((_tokens(c) for c in encoders), default=_CLIP_TOKENS)
    found: list[Part] = []
    for c in requirements.components:
        what = role(c)
        upcast = what == "vae" and _upcast(pipeline, c, serve)
        weights, largest = _weights(c, serve, upcast)
        peak = _peak(c, what, latent, request, pipeline, 4 if upcast else act, text)
        conv = what == "vae" or "UNet" in (c.class_name or "")
        workspace = CONV_WORKSPACE_BYTES if conv else 0
        found.append(Part(c.name, what, weights, peak.bytes, workspace, largest, peak.how))
    return found
