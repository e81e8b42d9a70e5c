"""Activation peaks of a diffusers pipeline's components, from their config.json: the
denoiser's at the requested latent size, the VAE decoder's at the full resolution, and the
text encoders'.

Each peak is the bytes one forward pass holds at its high-water mark, weights excluded, as
PyTorch's caching allocator sees them allocated. The formulas count the tensors alive at
the peak of each class, as `benchmarks/vram/diffusion_trace.py` found them by running
diffusers 0.42.1 / transformers 5.24 / torch 2.8 at full size on the meta device
(tests/sizing/fixtures/diffusion_traced.json holds the traced peaks; each formula is
checked to lie 0-10% above them). Attention is SDPA's flash or memory-efficient kernel,
which never holds the score matrix. A class that was not traced gets the larger of the
traced transformer families' counts, and says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, cast

__all__ = [
    "Latent", "Peak", "denoiser_peak", "latent_for", "makes_video", "text_encoder_peak",
    "vae_peak",
]  # fmt: skip

_FP32: Final = 4
# Tensors below a MiB that every pass holds at its peak besides the counted ones: timestep
# and guidance embeddings, norm statistics, rotary tables (traced: 8 KiB to 400 KiB).
_SMALL: Final = 1 << 20


@dataclass(frozen=True)
class Latent:
    """The denoiser's input for one image or video: channels x frames x height x width."""

    channels: int
    frames: int
    height: int
    width: int

    @property
    def pixels(self) -> int:
        return self.frames * self.height * self.width


@dataclass(frozen=True)
class Peak:
    """An activation peak in bytes, and how it was found."""

    bytes: int
    how: str


def _int(config: Mapping[str, Any], key: str, default: int) -> int:
    value = config.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _list(config: Mapping[str, Any], key: str) -> list[object]:
    value = config.get(key)
    return cast("list[object]", value) if isinstance(value, list) else []


def _ints(config: Mapping[str, Any], key: str) -> list[int]:
    return [v for v in _list(config, key) if isinstance(v, int)]


def _flags(config: Mapping[str, Any], key: str, default: list[bool]) -> list[bool]:
    found = _list(config, key)
    return [bool(v) for v in found] if found else default


def _compression(vae_class: str, vae: Mapping[str, Any]) -> tuple[int, int]:
    """(spatial, temporal) compression of the VAE: 8x8 and 4 frames for Wan's."""
    if vae_class == "AutoencoderKLWan":
        steps = _flags(vae, "temperal_downsample", [False, True, True])
        return 2 ** len(steps), 2 ** sum(steps)
    chans = _ints(vae, "block_out_channels")
    spatial = _int(vae, "spatial_compression_ratio", 2 ** (len(chans) - 1) if chans else 8)
    return spatial, _int(vae, "temporal_compression_ratio", 1)


def makes_video(vae_class: str, vae: Mapping[str, Any]) -> bool:
    """Whether the VAE compresses time: a video pipeline's."""
    return _compression(vae_class, vae)[1] > 1


def latent_for(
    vae_class: str, vae: Mapping[str, Any], *, height: int, width: int, frames: int
) -> Latent:
    """The latent of one output: the VAE's spatial compression, and for video its temporal
    one (the first frame is kept, the rest compressed: (frames - 1) / 4 + 1 for Wan)."""
    spatial, temporal = _compression(vae_class, vae)
    latent_frames = (frames - 1) // temporal + 1 if temporal > 1 else frames
    channels = _int(vae, "latent_channels", _int(vae, "z_dim", 16))
    return Latent(channels, latent_frames, -(-height // spatial), -(-width // spatial))


def _unet(config: Mapping[str, Any], latent: Latent, batch: int, act: int, tokens: int) -> int:
    """UNet2DConditionModel: the up path holds every skip connection not yet consumed.
    At each up block, the larger of its first resnet (concatenated input, its group norm and
    SiLU) and its first transformer block's GEGLU feed-forward (hidden states, attention
    output, residuals, the 8c projection, GELU and product: 21c), plus the upsampled input."""
    chans = _ints(config, "block_out_channels") or [320, 640, 1280, 1280]
    per = _int(config, "layers_per_block", 2)
    kinds = [str(k) for k in _list(config, "up_block_types")] or ["CrossAttn"] * len(chans)
    n = len(chans)
    pix = [-(-latent.height // 2**i) * -(-latent.width // 2**i) for i in range(n)]
    skips = [(chans[0], 0)]
    for i, c in enumerate(chans):
        skips += [(c, i)] * per + ([(c, i + 1)] if i < n - 1 else [])
    held, prev, peak = sum(c * pix[level] for c, level in skips), chans[-1], 0
    for i, kind in enumerate(kinds[:n]):
        level = n - 1 - i
        c, p = chans[level], pix[level]
        block = skips[-(per + 1) :]
        del skips[-(per + 1) :]
        resnet = held + prev * p + 3 * (prev + block[-1][0]) * p
        attention = held + (prev + 21 * c) * p if "CrossAttn" in kind else 0
        peak = max(peak, resnet, attention)
        held -= sum(ch * pix[lv] for ch, lv in block)
        prev = c
    inputs = _int(config, "in_channels", 4) * pix[0] + tokens * _int(
        config, "cross_attention_dim", 2048
    )
    return batch * (peak + inputs) * act + _SMALL


def _tokens(config: Mapping[str, Any], latent: Latent, patch: int) -> tuple[int, int]:
    """(image tokens, model width) of a diffusion transformer: the latent cut into
    patches (frames x height x width for video, as `patch_size` [t, h, w] says)."""
    sizes = _ints(config, "patch_size") or [_int(config, "patch_size", 1)]
    frames_per = sizes[0] if len(sizes) == 3 else 1
    side = max(patch, *sizes[-2:])
    tokens = -(-latent.frames // frames_per) * -(-latent.height // side) * -(-latent.width // side)
    heads = _int(config, "num_attention_heads", 24)
    return tokens, heads * _int(config, "attention_head_dim", 128)


def _flux(config: Mapping[str, Any], latent: Latent, batch: int, act: int, text: int) -> int:
    """Flux's first single-stream block, over image and text tokens: the residual streams,
    their concatenation, the norm, the 4d MLP, q/k/v and the rotary embedding (which works
    on three fp32 copies of q): 11 tensors of width d in the compute dtype, 3 in fp32."""
    image, d = _tokens(config, latent, patch=2)  # the pipeline packs 2x2 latent patches
    n = image + text
    rope = 2 * n * _int(config, "attention_head_dim", 128) * _FP32
    inputs = image * _int(config, "in_channels", 64) + text * _int(
        config, "joint_attention_dim", 4096
    )
    return batch * (n * d * (11 * act + 3 * _FP32) + inputs * act) + rope + _SMALL


def _dit(config: Mapping[str, Any], latent: Latent, batch: int, act: int, text: int) -> int:
    """A Wan-style block's feed-forward: four width-d tensors (hidden, cross-attention
    output, residual, norm) and the FFN's projection and GELU."""
    tokens, d = _tokens(config, latent, patch=1)
    ffn = _int(config, "ffn_dim", 4 * d)
    head_dim = _int(config, "attention_head_dim", 128)
    # The latent, the prompt's embeddings, and those projected to the model's width.
    inputs = latent.channels * latent.pixels + text * (_int(config, "text_dim", 4096) + d)
    rope = 2 * tokens * head_dim * act
    return batch * (tokens * (4 * d + 2 * ffn) + inputs) * act + rope + _SMALL


def denoiser_peak(
    class_name: str, config: Mapping[str, Any], latent: Latent, *, batch: int, act_bytes: int,
    text_tokens: int,
) -> Peak:  # fmt: skip
    """The denoiser's peak for `batch` latents (CFG already folded into `batch`)."""
    if class_name == "UNet2DConditionModel":
        return Peak(_unet(config, latent, batch, act_bytes, text_tokens), "traced class")
    if class_name == "FluxTransformer2DModel":
        return Peak(_flux(config, latent, batch, act_bytes, text_tokens), "traced class")
    if class_name == "WanTransformer3DModel":
        return Peak(_dit(config, latent, batch, act_bytes, text_tokens), "traced class")
    both = max(
        _flux(config, latent, batch, act_bytes, text_tokens),
        _dit(config, latent, batch, act_bytes, text_tokens),
    )
    return Peak(both, "not traced: the larger of the Flux and Wan block counts")


def _kl_decode(vae: Mapping[str, Any], latent: Latent, batch: int, act: int) -> int:
    """AutoencoderKL's decoder: each up block's first resnet holds its input, a contiguous
    copy for GroupNorm (the mid block's attention leaves channels-last strides behind) and
    the norm's output: 3 tensors of the block's input width, largest at full resolution."""
    chans = list(reversed(_ints(vae, "block_out_channels") or [128, 256, 512, 512]))
    peak = 0
    for i, _ in enumerate(chans):
        c_in = chans[max(i - 1, 0)]
        peak = max(peak, 3 * c_in * latent.height * latent.width * 4**i)
    # The latent, and the post-quant conv's copy of it where the VAE has that conv.
    inputs = (
        latent.channels
        * latent.height
        * latent.width
        * (2 if vae.get("use_post_quant_conv", True) else 1)
    )
    return batch * latent.frames * (peak + inputs) * act + _SMALL


def _wan_decode(vae: Mapping[str, Any], latent: Latent, frames: int, act: int) -> int:
    """AutoencoderKLWan decodes one latent frame at a time (4 output frames), every causal
    conv keeping its last 2 input frames: those caches, the frames decoded so far, and the
    last block's resnet at full resolution (its input, sum and conv output in the compute
    dtype, and the RMS norm's two fp32 copies)."""
    base, z = _int(vae, "base_dim", 96), _int(vae, "z_dim", 16)
    mult = _ints(vae, "dim_mult") or [1, 2, 4, 4]
    res = _int(vae, "num_res_blocks", 2) + 1
    temporal = list(reversed(_flags(vae, "temperal_downsample", [False, True, True])))
    dims = [base * m for m in [mult[-1], *reversed(mult)]]
    p0 = latent.height * latent.width
    caches = 2 * p0 * (z + 4 * dims[0])  # conv_in, and the mid block's 2 resnets
    for i in range(len(dims) - 1):
        c_in, c_out, p = (dims[i] // 2 if i else dims[i]), dims[i + 1], p0 * 4**i
        convs = (c_in + c_out) + (res - 1) * 2 * c_out
        caches += 2 * p * (convs + (c_out if i < len(temporal) and temporal[i] else 0))
    full, chunk = p0 * 4 ** (len(dims) - 2), 2 ** sum(temporal)
    caches += 2 * dims[-1] * full  # conv_out
    block = chunk * dims[-1] * full * (3 * act + 2 * _FP32) + chunk * full * _FP32
    decoded = 3 * frames * full * act  # the output video, concatenated chunk by chunk
    inputs = 2 * latent.channels * latent.pixels * act  # the latent and its post-quant copy
    return caches * act + block + decoded + inputs + _SMALL


def vae_peak(
    class_name: str, vae: Mapping[str, Any], latent: Latent, *, batch: int, frames: int,
    act_bytes: int,
) -> Peak:  # fmt: skip
    """The VAE decoder's peak for `batch` outputs decoded at once (no slicing, no tiling)."""
    if class_name == "AutoencoderKLWan" and not vae.get("is_residual"):
        return Peak(batch * _wan_decode(vae, latent, frames, act_bytes), "traced class")
    how = "traced class" if class_name == "AutoencoderKL" else "not traced: AutoencoderKL's count"
    return Peak(_kl_decode(vae, latent, batch, act_bytes), how)


def _hidden(config: Mapping[str, Any]) -> tuple[int, int, int, int]:
    """(hidden, feed-forward, layers, heads) of a text encoder's config (CLIP, T5, LLMs)."""
    hidden = _int(config, "hidden_size", _int(config, "d_model", 768))
    ffn = _int(config, "intermediate_size", _int(config, "d_ff", 4 * hidden))
    layers = _int(config, "num_hidden_layers", _int(config, "num_layers", 12))
    heads = _int(config, "num_attention_heads", _int(config, "num_heads", 12))
    return hidden, ffn, layers, heads


def text_encoder_peak(
    config: Mapping[str, Any], *, tokens: int, keep_hidden_states: bool, act_bytes: int
) -> Peak:
    """One prompt through a text encoder: the residual stream (every layer's output when
    the pipeline reads hidden states), plus the larger of the attention phase (5 widths;
    T5's position bias and its copy) and the MLP (n x the FFN width: 2 for GELU, 3 for
    CLIP's quick GELU, 4 for T5's gated GELU)."""
    hidden, ffn, layers, heads = _hidden(config)
    t5 = "relative_attention_num_buckets" in config
    act = str(config.get("hidden_act") or config.get("dense_act_fn") or "")
    n = 4 if t5 or config.get("is_gated_act") else 3 if act == "quick_gelu" else 2
    bias = heads * tokens if t5 else 0
    stream = (layers + 1) * hidden if keep_hidden_states else 3 * hidden
    per_token = stream + max(5 * hidden + 2 * bias, hidden + n * ffn + bias)
    traced = str(config.get("model_type", "")).startswith(("clip", "t5"))
    how = "traced class" if traced else "not traced: the CLIP and T5 encoders' count"
    return Peak(tokens * per_token * act_bytes + tokens * 8, how)
