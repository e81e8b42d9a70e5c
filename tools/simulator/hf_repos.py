"""Data for the Hugging Face fake: repos as plain dataclasses, and builders for the kinds
of model repo that sizing has to understand.

A `HubRepo` is a set of `HubFile`s plus repo flags (gated, private, tags). Weight files are
virtual: a safetensors file holds its real header bytes (built from `Tensor` specs, in the
exact wire format: u64 little-endian length, JSON, space padding) and reports its full
size, and any byte past the header reads as zero. So a 70B-parameter repo costs a few
kilobytes, and HTTP Range reads of the header behave as on the Hub.

Builders (all return a fresh `HubRepo`; pass `repo_id=` and dimensions to vary them):
`safetensors_repo`, `sharded_repo`, `mixed_dtype_repo`, `gptq_repo`, `diffusers_repo`,
`gated_repo`, `bin_and_safetensors_repo`, `no_weights_repo`, `large_header_repo`.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from tools.simulator.hub_model import DTYPE_BYTES, HubFile, HubRepo, Tensor, safetensors_header

__all__ = [
    "DTYPE_BYTES", "HubFile", "HubRepo", "Tensor", "bin_and_safetensors_repo", "diffusers_repo",
    "gated_repo", "gptq_repo", "large_header_repo", "llama_config", "llama_tensors", "mixed_dtype_repo",
    "model_card", "no_weights_repo", "safetensors_header", "safetensors_repo", "sharded_repo",
]  # fmt: skip


# ---- model shapes ---------------------------------------------------------------------
def llama_config(*, hidden: int = 256, layers: int = 2, vocab: int = 1024, intermediate: int = 688,
                 heads: int = 8, kv_heads: int = 4, max_pos: int = 4096, dtype: str = "bfloat16",
                 tie: bool = False) -> dict[str, Any]:  # fmt: skip
    """A Llama `config.json` with these dimensions."""
    return {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": hidden,
        "num_hidden_layers": layers, "vocab_size": vocab, "intermediate_size": intermediate,
        "num_attention_heads": heads, "num_key_value_heads": kv_heads,
        "max_position_embeddings": max_pos, "torch_dtype": dtype, "tie_word_embeddings": tie,
        "rms_norm_eps": 1e-5, "rope_theta": 500000.0,
    }  # fmt: skip


def llama_tensors(config: dict[str, Any], dtype: str = "BF16") -> list[Tensor]:
    """The tensors of a Llama model with `config`'s dimensions, all in `dtype`."""
    h, inter, vocab = config["hidden_size"], config["intermediate_size"], config["vocab_size"]
    head_dim = h // config["num_attention_heads"]
    kv = config["num_key_value_heads"] * head_dim
    out = [Tensor("model.embed_tokens.weight", dtype, (vocab, h))]
    for i in range(config["num_hidden_layers"]):
        p = f"model.layers.{i}"
        out += [
            Tensor(f"{p}.self_attn.q_proj.weight", dtype, (h, h)),
            Tensor(f"{p}.self_attn.k_proj.weight", dtype, (kv, h)),
            Tensor(f"{p}.self_attn.v_proj.weight", dtype, (kv, h)),
            Tensor(f"{p}.self_attn.o_proj.weight", dtype, (h, h)),
            Tensor(f"{p}.mlp.gate_proj.weight", dtype, (inter, h)),
            Tensor(f"{p}.mlp.up_proj.weight", dtype, (inter, h)),
            Tensor(f"{p}.mlp.down_proj.weight", dtype, (h, inter)),
            Tensor(f"{p}.input_layernorm.weight", dtype, (h,)),
            Tensor(f"{p}.post_attention_layernorm.weight", dtype, (h,)),
        ]
    out.append(Tensor("model.norm.weight", dtype, (h,)))
    if not config.get("tie_word_embeddings"):
        out.append(Tensor("lm_head.weight", dtype, (vocab, h)))
    return out


def model_card(repo_id: str, *, license: str = "apache-2.0", extra: str = "") -> str:
    """A README.md with YAML front matter, like a Hub model card."""
    return f"---\nlicense: {license}\nlibrary_name: transformers\n---\n\n# {repo_id}\n\n{extra}A test model.\n"


def _common(repo: HubRepo, config: dict[str, Any]) -> HubRepo:
    return repo.add(
        HubFile.json("config.json", config),
        HubFile.json("generation_config.json", {"bos_token_id": 1, "eos_token_id": 2}),
        HubFile.json(
            "tokenizer_config.json",
            {"model_max_length": config.get("max_position_embeddings", 2048)},
        ),
        HubFile.text("README.md", model_card(repo.repo_id)),
        HubFile.text(".gitattributes", "*.safetensors filter=lfs diff=lfs merge=lfs -text\n"),
    )


# ---- builders ---------------------------------------------------------------------------
def safetensors_repo(
    repo_id: str = "kriptik-test/tiny-llama", *, dtype: str = "BF16", **dims: Any
) -> HubRepo:
    """One `model.safetensors`, every tensor in `dtype`; `dims` go to `llama_config`."""
    config = llama_config(**dims)
    repo = _common(HubRepo(repo_id, tags=["transformers", "safetensors", "llama"]), config)
    return repo.add(HubFile.safetensors("model.safetensors", llama_tensors(config, dtype)))


def sharded_repo(repo_id: str = "kriptik-test/sharded-llama", *, shards: int = 3, dtype: str = "BF16",
                 **dims: Any) -> HubRepo:  # fmt: skip
    """Weights split over `shards` files plus `model.safetensors.index.json`."""
    dims.setdefault("layers", 4)
    config = llama_config(**dims)
    tensors = llama_tensors(config, dtype)
    repo = _common(HubRepo(repo_id, tags=["transformers", "safetensors", "llama"]), config)
    per = math.ceil(len(tensors) / shards)
    weight_map: dict[str, str] = {}
    for i in range(shards):
        name = f"model-{i + 1:05d}-of-{shards:05d}.safetensors"
        part = tensors[i * per : (i + 1) * per]
        repo.add(HubFile.safetensors(name, part))
        weight_map |= {t.name: name for t in part}
    index = {"metadata": {"total_size": sum(t.nbytes for t in tensors)}, "weight_map": weight_map}
    return repo.add(HubFile.json("model.safetensors.index.json", index))


def mixed_dtype_repo(
    repo_id: str = "kriptik-test/mixed-moe", *, experts: int = 4, **dims: Any
) -> HubRepo:
    """BF16 attention and norms, MXFP4-style experts stored as U8 blocks and scales."""
    config: dict[str, Any] = llama_config(**dims) | {
        "num_local_experts": experts,
        "quantization_config": {"quant_method": "mxfp4"},
    }
    h, inter = config["hidden_size"], config["intermediate_size"]
    tensors = [t for t in llama_tensors(config) if ".mlp." not in t.name]
    for i in range(config["num_hidden_layers"]):
        p = f"model.layers.{i}.mlp.experts"
        tensors += [
            Tensor(f"{p}.gate_up_proj_blocks", "U8", (experts, 2 * inter, h // 32, 16)),
            Tensor(f"{p}.gate_up_proj_scales", "U8", (experts, 2 * inter, h // 32)),
            Tensor(f"{p}.down_proj_blocks", "U8", (experts, h, inter // 32, 16)),
            Tensor(f"{p}.down_proj_scales", "U8", (experts, h, inter // 32)),
            Tensor(f"model.layers.{i}.mlp.router.weight", "BF16", (experts, h)),
        ]
    repo = _common(HubRepo(repo_id, tags=["transformers", "safetensors", "mxfp4"]), config)
    return repo.add(HubFile.safetensors("model.safetensors", tensors))


def gptq_repo(repo_id: str = "kriptik-test/tiny-llama-gptq", *, bits: int = 4, group_size: int = 64,
              **dims: Any) -> HubRepo:  # fmt: skip
    """GPTQ-packed linear layers (I32 qweight/qzeros, F16 scales, I32 g_idx)."""
    quant = {
        "quant_method": "gptq",
        "bits": bits,
        "group_size": group_size,
        "desc_act": False,
        "sym": True,
    }
    config = llama_config(**dims) | {"quantization_config": quant, "torch_dtype": "float16"}
    pack = 32 // bits
    tensors: list[Tensor] = []
    for t in llama_tensors(config, "F16"):
        if t.name.startswith("model.layers.") and t.name.endswith("_proj.weight"):
            out_f, in_f = t.shape
            base = t.name.removesuffix(".weight")
            tensors += [
                Tensor(f"{base}.qweight", "I32", (in_f // pack, out_f)),
                Tensor(f"{base}.qzeros", "I32", (in_f // group_size, out_f // pack)),
                Tensor(f"{base}.scales", "F16", (in_f // group_size, out_f)),
                Tensor(f"{base}.g_idx", "I32", (in_f,)),
            ]
        else:
            tensors.append(t)
    repo = _common(HubRepo(repo_id, tags=["transformers", "safetensors", "gptq", "4-bit"]), config)
    return repo.add(HubFile.safetensors("model.safetensors", tensors))


def diffusers_repo(repo_id: str = "kriptik-test/tiny-diffusion") -> HubRepo:
    """A diffusers pipeline: `model_index.json` and one folder per component."""
    repo = HubRepo(repo_id, pipeline_tag="text-to-image", library_name="diffusers",
                   tags=["diffusers", "safetensors", "text-to-image"])  # fmt: skip
    index = {"_class_name": "StableDiffusionPipeline", "_diffusers_version": "0.30.0",
             "unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"],
             "text_encoder": ["transformers", "CLIPTextModel"], "tokenizer": ["transformers", "CLIPTokenizer"],
             "scheduler": ["diffusers", "PNDMScheduler"]}  # fmt: skip
    unet = [
        Tensor(f"down_blocks.{i}.resnets.0.conv1.weight", "F16", (320, 320, 3, 3)) for i in range(3)
    ]
    vae = [
        Tensor("decoder.conv_in.weight", "F32", (512, 4, 3, 3)),
        Tensor("encoder.conv_out.weight", "F32", (8, 512, 3, 3)),
    ]
    text = [Tensor("text_model.embeddings.token_embedding.weight", "F16", (49408, 768))]
    return repo.add(
        HubFile.json("model_index.json", index),
        HubFile.json(
            "unet/config.json", {"_class_name": "UNet2DConditionModel", "sample_size": 64}
        ),
        HubFile.safetensors("unet/diffusion_pytorch_model.safetensors", unet),
        HubFile.json("vae/config.json", {"_class_name": "AutoencoderKL"}),
        HubFile.safetensors("vae/diffusion_pytorch_model.safetensors", vae),
        HubFile.json(
            "text_encoder/config.json", {"architectures": ["CLIPTextModel"], "hidden_size": 768}
        ),
        HubFile.safetensors("text_encoder/model.safetensors", text),
        HubFile.json("tokenizer/tokenizer_config.json", {"model_max_length": 77}),
        HubFile.json("scheduler/scheduler_config.json", {"_class_name": "PNDMScheduler"}),
        HubFile.text("README.md", model_card(repo_id)),
    )


def gated_repo(
    repo_id: str = "kriptik-test/gated-llama", *, mode: Literal["auto", "manual"] = "manual"
) -> HubRepo:
    """A gated repo: metadata is public, files need accepted conditions."""
    repo = safetensors_repo(repo_id)
    repo.gated = mode
    return repo


def bin_and_safetensors_repo(repo_id: str = "kriptik-test/both-formats", **dims: Any) -> HubRepo:
    """Both `pytorch_model.bin` and `model.safetensors` with the same weights."""
    repo = safetensors_repo(repo_id, **dims)
    weights = repo.files["model.safetensors"]
    return repo.add(HubFile.blob("pytorch_model.bin", weights.size - len(weights.content) + 1024))


def no_weights_repo(repo_id: str = "kriptik-test/bin-only", **dims: Any) -> HubRepo:
    """Only `pytorch_model.bin`: no safetensors at all."""
    config = llama_config(**dims)
    size = sum(t.nbytes for t in llama_tensors(config))
    return _common(HubRepo(repo_id, tags=["transformers", "pytorch"]), config).add(
        HubFile.blob("pytorch_model.bin", size)
    )


def large_header_repo(
    repo_id: str = "kriptik-test/many-tensors", *, tensors: int = 2500
) -> HubRepo:
    """A header over 100 kB, which the Hub client fetches with a second Range request."""
    many = [Tensor(f"blocks.{i}.weight", "F32", (16, 16)) for i in range(tensors)]
    repo = _common(HubRepo(repo_id), llama_config())
    return repo.add(HubFile.safetensors("model.safetensors", many))
