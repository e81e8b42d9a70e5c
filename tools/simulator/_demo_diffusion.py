"""Tensor lists of the diffusers components the demo Hub serves: the Flux transformer,
the SDXL UNet and the KL autoencoder, named and shaped as diffusers stores them, each
built from the component's own published config.json."""

from __future__ import annotations

from typing import Any

from tools.simulator._demo_tensors import linear, norm
from tools.simulator.hub_model import Tensor

__all__ = ["autoencoder_kl_tensors", "flux_transformer_tensors", "unet_2d_condition_tensors"]


def _conv(name: str, out: int, inp: int, dtype: str, k: int = 3) -> list[Tensor]:
    return [
        Tensor(f"{name}.weight", dtype, (out, inp, k, k)),
        Tensor(f"{name}.bias", dtype, (out,)),
    ]


def _attn(p: str, q_dim: int, kv_dim: int, dtype: str, *, qkv_bias: bool) -> list[Tensor]:
    """A diffusers `Attention`: to_q/k/v and to_out.0."""
    return [
        *linear(f"{p}.to_q", q_dim, q_dim, dtype, bias=qkv_bias),
        *linear(f"{p}.to_k", q_dim, kv_dim, dtype, bias=qkv_bias),
        *linear(f"{p}.to_v", q_dim, kv_dim, dtype, bias=qkv_bias),
        *linear(f"{p}.to_out.0", q_dim, q_dim, dtype),
    ]


def flux_transformer_tensors(config: dict[str, Any], dtype: str) -> list[Tensor]:
    """`FluxTransformer2DModel`: 19 double-stream (MM-DiT) and 38 single-stream blocks."""
    d = config["num_attention_heads"] * config["attention_head_dim"]
    hd, mlp = config["attention_head_dim"], 4 * d
    out = [
        *linear("time_text_embed.timestep_embedder.linear_1", d, 256, dtype),
        *linear("time_text_embed.timestep_embedder.linear_2", d, d, dtype),
        *linear("time_text_embed.guidance_embedder.linear_1", d, 256, dtype),
        *linear("time_text_embed.guidance_embedder.linear_2", d, d, dtype),
        *linear(
            "time_text_embed.text_embedder.linear_1", d, config["pooled_projection_dim"], dtype
        ),
        *linear("time_text_embed.text_embedder.linear_2", d, d, dtype),
        *linear("context_embedder", d, config["joint_attention_dim"], dtype),
        *linear("x_embedder", d, config["in_channels"], dtype),
    ]
    for i in range(config["num_layers"]):
        p = f"transformer_blocks.{i}"
        out += [
            *linear(f"{p}.norm1.linear", 6 * d, d, dtype),
            *linear(f"{p}.norm1_context.linear", 6 * d, d, dtype),
            *_attn(f"{p}.attn", d, d, dtype, qkv_bias=True),
            *linear(f"{p}.attn.add_q_proj", d, d, dtype), *linear(f"{p}.attn.add_k_proj", d, d, dtype),
            *linear(f"{p}.attn.add_v_proj", d, d, dtype), *linear(f"{p}.attn.to_add_out", d, d, dtype),
            *[t for n in ("norm_q", "norm_k", "norm_added_q", "norm_added_k")
              for t in norm(f"{p}.attn.{n}", hd, dtype, bias=False)],
            *linear(f"{p}.ff.net.0.proj", mlp, d, dtype), *linear(f"{p}.ff.net.2", d, mlp, dtype),
            *linear(f"{p}.ff_context.net.0.proj", mlp, d, dtype),
            *linear(f"{p}.ff_context.net.2", d, mlp, dtype),
        ]  # fmt: skip
    for i in range(config["num_single_layers"]):
        p = f"single_transformer_blocks.{i}"
        out += [
            *linear(f"{p}.norm.linear", 3 * d, d, dtype), *linear(f"{p}.proj_mlp", mlp, d, dtype),
            *linear(f"{p}.proj_out", d, d + mlp, dtype),
            *linear(f"{p}.attn.to_q", d, d, dtype), *linear(f"{p}.attn.to_k", d, d, dtype),
            *linear(f"{p}.attn.to_v", d, d, dtype),
            *norm(f"{p}.attn.norm_q", hd, dtype, bias=False), *norm(f"{p}.attn.norm_k", hd, dtype, bias=False),
        ]  # fmt: skip
    patch_out = config["patch_size"] ** 2 * config.get("out_channels", config["in_channels"])
    return (
        out + linear("norm_out.linear", 2 * d, d, dtype) + linear("proj_out", patch_out, d, dtype)
    )


def _resnet(p: str, inp: int, out: int, dtype: str, *, temb: int | None) -> list[Tensor]:
    """A `ResnetBlock2D` (with a time-embedding projection in a UNet, none in a VAE)."""
    found = [*norm(f"{p}.norm1", inp, dtype), *_conv(f"{p}.conv1", out, inp, dtype)]
    if temb is not None:
        found += linear(f"{p}.time_emb_proj", out, temb, dtype)
    found += [*norm(f"{p}.norm2", out, dtype), *_conv(f"{p}.conv2", out, out, dtype)]
    if inp != out:
        found += _conv(f"{p}.conv_shortcut", out, inp, dtype, k=1)
    return found


def _vae_mid(p: str, c: int, dtype: str) -> list[Tensor]:
    return [
        *_resnet(f"{p}.resnets.0", c, c, dtype, temb=None),
        *norm(f"{p}.attentions.0.group_norm", c, dtype),
        *_attn(f"{p}.attentions.0", c, c, dtype, qkv_bias=True),
        *_resnet(f"{p}.resnets.1", c, c, dtype, temb=None),
    ]


def autoencoder_kl_tensors(config: dict[str, Any], dtype: str) -> list[Tensor]:
    """`AutoencoderKL`: encoder, decoder, and the quant convs unless the config drops them."""
    chans, per, latent = (
        config["block_out_channels"],
        config["layers_per_block"],
        config["latent_channels"],
    )
    out = _conv("encoder.conv_in", chans[0], config["in_channels"], dtype)
    prev = chans[0]
    for i, c in enumerate(chans):
        for j in range(per):
            out += _resnet(
                f"encoder.down_blocks.{i}.resnets.{j}", prev if j == 0 else c, c, dtype, temb=None
            )
        if i < len(chans) - 1:
            out += _conv(f"encoder.down_blocks.{i}.downsamplers.0.conv", c, c, dtype)
        prev = c
    out += [*_vae_mid("encoder.mid_block", prev, dtype), *norm("encoder.conv_norm_out", prev, dtype),
            *_conv("encoder.conv_out", 2 * latent, prev, dtype)]  # fmt: skip
    out += [
        *_conv("decoder.conv_in", prev, latent, dtype),
        *_vae_mid("decoder.mid_block", prev, dtype),
    ]
    for i, c in enumerate(reversed(chans)):
        for j in range(per + 1):
            out += _resnet(
                f"decoder.up_blocks.{i}.resnets.{j}", prev if j == 0 else c, c, dtype, temb=None
            )
        if i < len(chans) - 1:
            out += _conv(f"decoder.up_blocks.{i}.upsamplers.0.conv", c, c, dtype)
        prev = c
    out += [
        *norm("decoder.conv_norm_out", prev, dtype),
        *_conv("decoder.conv_out", config["out_channels"], prev, dtype),
    ]
    if config.get("use_quant_conv", True):
        out += _conv("quant_conv", 2 * latent, 2 * latent, dtype, k=1)
    if config.get("use_post_quant_conv", True):
        out += _conv("post_quant_conv", latent, latent, dtype, k=1)
    return out


def _transformer_2d(p: str, c: int, depth: int, cross: int, dtype: str) -> list[Tensor]:
    """A `Transformer2DModel` with linear projections (SDXL): `depth` basic blocks."""
    out = [*norm(f"{p}.norm", c, dtype), *linear(f"{p}.proj_in", c, c, dtype)]
    for k in range(depth):
        b = f"{p}.transformer_blocks.{k}"
        out += [
            *norm(f"{b}.norm1", c, dtype), *_attn(f"{b}.attn1", c, c, dtype, qkv_bias=False),
            *norm(f"{b}.norm2", c, dtype), *_attn(f"{b}.attn2", c, cross, dtype, qkv_bias=False),
            *norm(f"{b}.norm3", c, dtype),
            *linear(f"{b}.ff.net.0.proj", 8 * c, c, dtype), *linear(f"{b}.ff.net.2", c, 4 * c, dtype),
        ]  # fmt: skip
    return out + linear(f"{p}.proj_out", c, c, dtype)


def unet_2d_condition_tensors(config: dict[str, Any], dtype: str) -> list[Tensor]:
    """`UNet2DConditionModel` for SDXL's config (text_time added embedding, linear
    projections): down blocks push skips, up blocks pop them into wider resnets."""
    chans, per, cross = (
        config["block_out_channels"],
        config["layers_per_block"],
        config["cross_attention_dim"],
    )
    depths, temb = config["transformer_layers_per_block"], 4 * chans[0]
    out = [
        *_conv("conv_in", chans[0], config["in_channels"], dtype),
        *linear("time_embedding.linear_1", temb, chans[0], dtype), *linear("time_embedding.linear_2", temb, temb, dtype),
        *linear("add_embedding.linear_1", temb, config["projection_class_embeddings_input_dim"], dtype),
        *linear("add_embedding.linear_2", temb, temb, dtype),
    ]  # fmt: skip
    skips, prev = [chans[0]], chans[0]
    for i, kind in enumerate(config["down_block_types"]):
        c = chans[i]
        for j in range(per):
            out += _resnet(
                f"down_blocks.{i}.resnets.{j}", prev if j == 0 else c, c, dtype, temb=temb
            )
            if kind.startswith("CrossAttn"):
                out += _transformer_2d(
                    f"down_blocks.{i}.attentions.{j}", c, depths[i], cross, dtype
                )
            skips.append(c)
        if i < len(chans) - 1:
            out += _conv(f"down_blocks.{i}.downsamplers.0.conv", c, c, dtype)
            skips.append(c)
        prev = c
    out += [
        *_resnet("mid_block.resnets.0", prev, prev, dtype, temb=temb),
        *_transformer_2d("mid_block.attentions.0", prev, depths[-1], cross, dtype),
        *_resnet("mid_block.resnets.1", prev, prev, dtype, temb=temb),
    ]
    for i, kind in enumerate(config["up_block_types"]):
        c, depth = chans[-1 - i], depths[-1 - i]
        for j in range(per + 1):
            out += _resnet(f"up_blocks.{i}.resnets.{j}", prev + skips.pop(), c, dtype, temb=temb)
            if kind.startswith("CrossAttn"):
                out += _transformer_2d(f"up_blocks.{i}.attentions.{j}", c, depth, cross, dtype)
            prev = c
        if i < len(chans) - 1:
            out += _conv(f"up_blocks.{i}.upsamplers.0.conv", c, c, dtype)
    return (
        out
        + norm("conv_norm_out", prev, dtype)
        + _conv("conv_out", config["out_channels"], prev, dtype)
    )
