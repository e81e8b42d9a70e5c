"""Tiny random-weight diffusers pipelines, one per pipeline class the diffusers worker serves,
built offline from configs and saved with `save_pretrained` (run in the workload venv).

    python tests/workloads/diffusers_models.py OUT_ROOT CLASS_NAME...   # OUT_ROOT/CLASS_NAME

The shapes are those of the real models where they matter to a job (a VAE that scales by 8,
Flux's 2x2 latent packing, Wan's 4x temporal compression); everything else is as small as
the libraries allow, so a job takes seconds on a CPU. Nothing is downloaded: the tokenizers
are made from a vocabulary written here.
"""

# Runs in the workload venv only: the project's own environment has no torch or diffusers.
# pyright: reportMissingImports=false

from __future__ import annotations

import string
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from tokenizers.pre_tokenizers import ByteLevel
from transformers import (
    CLIPTextConfig,
    CLIPTextModel,
    CLIPTextModelWithProjection,
    CLIPTokenizer,
    T5Config,
    T5EncoderModel,
    T5TokenizerFast,
)

CLASSES = (
    "StableDiffusionPipeline",
    "StableDiffusionImg2ImgPipeline",
    "StableDiffusionXLPipeline",
    "FluxPipeline",
    "WanPipeline",
)


def clip_tokenizer() -> CLIPTokenizer:
    """Byte-level BPE with no merges: every byte (and byte + word end) is a token."""
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for char in sorted(ByteLevel.alphabet()):
        vocab.setdefault(char, len(vocab))
        vocab.setdefault(char + "</w>", len(vocab))
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=77)


def t5_tokenizer() -> T5TokenizerFast:
    """A unigram vocabulary of printable characters, with and without a word start."""
    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("\u2581", -1.0)]
    pieces += [(c, -2.0) for c in string.printable if not c.isspace()]
    pieces += [("\u2581" + c, -3.0) for c in string.ascii_letters]
    return T5TokenizerFast(vocab=pieces, extra_ids=0, model_max_length=512)


def _clip_config() -> CLIPTextConfig:
    return CLIPTextConfig(
        bos_token_id=0, eos_token_id=1, pad_token_id=1, vocab_size=600, hidden_size=32,
        intermediate_size=37, num_attention_heads=4, num_hidden_layers=2, projection_dim=32,
        max_position_embeddings=77, hidden_act="gelu",
    )  # fmt: skip


def _t5_encoder() -> T5EncoderModel:
    config = T5Config(
        vocab_size=160, d_model=32, d_ff=37, d_kv=8, num_layers=2, num_heads=4,
        relative_attention_num_buckets=8, pad_token_id=0, eos_token_id=1,
    )  # fmt: skip
    return T5EncoderModel(config)


def _vae(latent_channels: int, **extra: Any) -> Any:
    from diffusers import AutoencoderKL

    # Four blocks: the VAE scales by 8, as every Stable Diffusion and Flux VAE does.
    return AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=latent_channels, layers_per_block=1,
        block_out_channels=(8, 8, 8, 8), norm_num_groups=4,
        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
        **extra,
    )  # fmt: skip


def _unet(cross_attention_dim: int, **extra: Any) -> Any:
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        sample_size=8, in_channels=4, out_channels=4, layers_per_block=1,
        block_out_channels=(8, 16), norm_num_groups=4, attention_head_dim=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=cross_attention_dim, **extra,
    )  # fmt: skip


def stable_diffusion() -> Any:
    from diffusers import PNDMScheduler, StableDiffusionPipeline

    return StableDiffusionPipeline(
        vae=_vae(4), text_encoder=CLIPTextModel(_clip_config()), tokenizer=clip_tokenizer(),
        unet=_unet(32), scheduler=PNDMScheduler(skip_prk_steps=True), safety_checker=None,
        feature_extractor=None, requires_safety_checker=False,
    )  # fmt: skip


def stable_diffusion_img2img() -> Any:
    from diffusers import StableDiffusionImg2ImgPipeline

    return StableDiffusionImg2ImgPipeline(**stable_diffusion().components)


def stable_diffusion_xl() -> Any:
    from diffusers import EulerDiscreteScheduler, StableDiffusionXLPipeline

    # The UNet sees both encoders' hidden states (32 + 32) and, as "text_time", the second
    # encoder's pooled projection (32) plus six size numbers of addition_time_embed_dim (8).
    unet = _unet(
        64, addition_embed_type="text_time", addition_time_embed_dim=8,
        projection_class_embeddings_input_dim=32 + 6 * 8, use_linear_projection=True,
    )  # fmt: skip
    return StableDiffusionXLPipeline(
        vae=_vae(4), text_encoder=CLIPTextModel(_clip_config()), tokenizer=clip_tokenizer(),
        text_encoder_2=CLIPTextModelWithProjection(_clip_config()), tokenizer_2=clip_tokenizer(),
        unet=unet, scheduler=EulerDiscreteScheduler(), force_zeros_for_empty_prompt=True,
    )  # fmt: skip


def flux() -> Any:
    from diffusers import FlowMatchEulerDiscreteScheduler, FluxPipeline, FluxTransformer2DModel

    # Latents of 1 channel, packed 2x2 into the transformer's 4 input channels.
    transformer = FluxTransformer2DModel(
        patch_size=1, in_channels=4, num_layers=1, num_single_layers=1, attention_head_dim=16,
        num_attention_heads=2, joint_attention_dim=32, pooled_projection_dim=32,
        axes_dims_rope=(4, 4, 8), guidance_embeds=True,
    )  # fmt: skip
    vae = _vae(1, use_quant_conv=False, use_post_quant_conv=False, shift_factor=0.06)
    return FluxPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(), vae=vae,
        text_encoder=CLIPTextModel(_clip_config()), tokenizer=clip_tokenizer(),
        text_encoder_2=_t5_encoder(), tokenizer_2=t5_tokenizer(), transformer=transformer,
    )  # fmt: skip


def wan() -> Any:
    from diffusers import (
        AutoencoderKLWan,
        FlowMatchEulerDiscreteScheduler,
        WanPipeline,
        WanTransformer3DModel,
    )

    # Spatial scale 8, temporal 4 (two temporal downsamples): frames must be 4k + 1.
    vae = AutoencoderKLWan(
        base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
        temperal_downsample=[False, True, True],
    )  # fmt: skip
    transformer = WanTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=16,
        out_channels=16, text_dim=32, freq_dim=256, ffn_dim=32, num_layers=2,
        cross_attn_norm=True, qk_norm="rms_norm_across_heads", rope_max_seq_len=32,
    )  # fmt: skip
    return WanPipeline(
        tokenizer=t5_tokenizer(), text_encoder=_t5_encoder(), vae=vae,
        scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0), transformer=transformer,
    )  # fmt: skip


BUILDERS: dict[str, Callable[[], Any]] = {
    "StableDiffusionPipeline": stable_diffusion,
    "StableDiffusionImg2ImgPipeline": stable_diffusion_img2img,
    "StableDiffusionXLPipeline": stable_diffusion_xl,
    "FluxPipeline": flux,
    "WanPipeline": wan,
}


def save(class_name: str, directory: Path) -> Path:
    """Build the tiny pipeline `class_name` with fixed random weights and save it."""
    torch.manual_seed(0)
    pipe = BUILDERS[class_name]()
    pipe.save_pretrained(directory, safe_serialization=True)
    return directory


if __name__ == "__main__":
    root = Path(sys.argv[1])
    for name in sys.argv[2:]:
        sys.stdout.write(f"{save(name, root / name)}\n")
