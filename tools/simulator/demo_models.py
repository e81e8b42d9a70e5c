"""The demo Hub's models: real repos (the starters' models, and a few of every workload
kind KripTik serves) as `HubRepo`s, with their published configs and cards, and
safetensors headers built from those configs. No weights: each file's bytes past its header
read as zeros, and it reports the full size a header implies.

```
vLLM text generation   Qwen/Qwen2.5-7B-Instruct, Qwen/Qwen2.5-0.5B-Instruct,
                       meta-llama/Llama-3.1-8B-Instruct (gated), mistralai/Mistral-7B-Instruct-v0.3 (gated)
diffusers              black-forest-labs/FLUX.1-dev (gated), stabilityai/stable-diffusion-xl-base-1.0
transformers           openai/whisper-large-v3 (speech recognition), BAAI/bge-large-en-v1.5,
                       sentence-transformers/all-MiniLM-L6-v2 (embeddings)
custom code            nomic-ai/nomic-embed-text-v1.5 (auto_map), tencent/HunyuanWorld-Voyager
                       (no library: code on GitHub, .pt checkpoints, VRAM stated in its card)
```

Each repo's small files (config.json, model_index.json, cards...) live in `demo_hub/<repo>/`,
copied from the Hub; the cards keep their published front matter (licence, tags, pipeline)
with abridged prose. Weights are sharded as the real repo shards them (HF's greedy split
at the repo's max shard size), with the index file beside them. Left out on purpose: the
single-file checkpoint of FLUX.1-dev for other UIs (`flux1-dev.safetensors`), which
diffusers never reads; SDXL's (`sd_xl_base_1.0.safetensors`) is built from the same
components in fp16, for the ComfyUI workflows that load it. Sizes of opaque files (.pt,
.bin, tokenizers) are the Hub's, rounded. The gated repos gate as on the Hub: `DemoStack`
grants the simulator's Hugging Face account access, so its token reads them.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from huggingface_hub.repocard import RepoCard

from tools.simulator._demo_diffusion import (
    autoencoder_kl_tensors,
    flux_transformer_tensors,
    unet_2d_condition_tensors,
)
from tools.simulator._demo_tensors import (
    bert_tensors,
    clip_text_tensors,
    clip_vision_tensors,
    decoder_tensors,
    linear,
    mistral_consolidated_tensors,
    nomic_bert_tensors,
    t5_encoder_tensors,
    whisper_tensors,
)
from tools.simulator.hub_model import HubFile, HubRepo, Tensor

__all__ = ["DEMO_REPO_IDS", "GATED", "demo_repos"]

_HUB = Path(__file__).parent / "demo_hub"
_GB = 1_000_000_000
Gate = Literal[False, "auto", "manual"]
# As on the Hub: Meta reviews each request by hand; Mistral and Black Forest Labs approve
# anyone who shares their contact details and accepts the licence.
GATED: dict[str, Gate] = {
    "meta-llama/Llama-3.1-8B-Instruct": "manual",
    "mistralai/Mistral-7B-Instruct-v0.3": "auto",
    "black-forest-labs/FLUX.1-dev": "auto",
}


def _config(repo_id: str, path: str = "config.json") -> dict[str, Any]:
    data: dict[str, Any] = json.loads((_HUB / repo_id / path).read_text(encoding="utf-8"))
    return data


def _published(repo_id: str) -> list[HubFile]:
    """The repo's small files, byte for byte as kept in `demo_hub/`."""
    base = _HUB / repo_id
    return [
        HubFile(p.relative_to(base).as_posix(), p.read_bytes())
        for p in sorted(base.rglob("*"))
        if p.is_file()
    ]


def shards(folder: str, stem: str, tensors: list[Tensor], max_bytes: int) -> list[HubFile]:
    """Weights as `save_pretrained` writes them: one file when they fit `max_bytes`, else
    `stem-0000i-of-0000n.safetensors` filled in order plus `stem.safetensors.index.json`."""
    prefix = f"{folder}/" if folder else ""
    groups: list[list[Tensor]] = [[]]
    size = 0
    for t in tensors:
        if groups[-1] and size + t.nbytes > max_bytes:
            groups.append([])
            size = 0
        groups[-1].append(t)
        size += t.nbytes
    if len(groups) == 1:
        return [HubFile.safetensors(f"{prefix}{stem}.safetensors", tensors)]
    n = len(groups)
    files = [
        HubFile.safetensors(f"{prefix}{stem}-{i + 1:05d}-of-{n:05d}.safetensors", group)
        for i, group in enumerate(groups)
    ]
    weight_map = {t.name: f.path.removeprefix(prefix) for f in files for t in f.tensors}
    index = {"metadata": {"total_size": sum(t.nbytes for t in tensors)}, "weight_map": weight_map}
    return [*files, HubFile.json(f"{prefix}{stem}.safetensors.index.json", index)]


def _repo(repo_id: str, *, pipeline: str, library: str | None, weights: list[HubFile],
          extra: tuple[tuple[str, int], ...] = ()) -> HubRepo:  # fmt: skip
    """The repo: its published files, its weights, opaque files of known size, and the
    Hub's model-info fields (card data from the card's front matter, tags as the Hub
    derives them)."""
    card = RepoCard((_HUB / repo_id / "README.md").read_text(encoding="utf-8")).data.to_dict()
    has_config = (_HUB / repo_id / "config.json").exists()
    model_type = _config(repo_id).get("model_type") if has_config else None
    license_tag = f"license:{card.get('license', 'unknown')}"
    tags = [
        library,
        "safetensors",
        model_type,
        pipeline,
        *card.get("tags", []),
        license_tag,
        "region:us",
    ]
    repo = HubRepo(repo_id, gated=GATED.get(repo_id, False), pipeline_tag=pipeline,
                   library_name=library, card_data=card,
                   tags=list(dict.fromkeys(t for t in tags if t)))  # fmt: skip
    repo.add(*_published(repo_id), *weights, *(HubFile.blob(p, size) for p, size in extra))
    return repo.add(
        HubFile.text(".gitattributes", "*.safetensors filter=lfs diff=lfs merge=lfs -text\n")
    )


def _qwen(repo_id: str, max_shard: int) -> HubRepo:
    config = _config(repo_id)
    tensors = decoder_tensors(config, "BF16", qkv_bias=True)
    extra = (("tokenizer.json", 7_031_645), ("vocab.json", 2_776_833), ("merges.txt", 1_671_853),
             ("LICENSE", 11_343))  # fmt: skip
    return _repo(repo_id, pipeline="text-generation", library="transformers",
                 weights=shards("", "model", tensors, max_shard), extra=extra)  # fmt: skip


def _llama() -> HubRepo:
    repo_id = "meta-llama/Llama-3.1-8B-Instruct"
    tensors = decoder_tensors(_config(repo_id), "BF16")
    # Meta's own checkpoint for llama-models sits in original/, which loaders skip.
    extra = (("tokenizer.json", 9_085_657), ("original/consolidated.00.pth", 16_060_617_592),
             ("original/tokenizer.model", 2_183_982), ("LICENSE", 7_627), ("USE_POLICY.md", 4_691))  # fmt: skip
    return _repo(repo_id, pipeline="text-generation", library="transformers",
                 weights=shards("", "model", tensors, 5 * _GB), extra=extra)  # fmt: skip


def _mistral() -> HubRepo:
    repo_id = "mistralai/Mistral-7B-Instruct-v0.3"
    config = _config(repo_id)
    # Two copies of the weights, as published: transformers' shards, and the one
    # consolidated.safetensors that mistral-inference loads.
    weights = [
        *shards("", "model", decoder_tensors(config, "BF16"), 5 * _GB),
        HubFile.safetensors(
            "consolidated.safetensors", mistral_consolidated_tensors(config, "BF16")
        ),
    ]
    extra = (
        ("tokenizer.json", 3_671_893),
        ("tokenizer.model", 587_404),
        ("tokenizer.model.v3", 587_404),
    )
    return _repo(
        repo_id, pipeline="text-generation", library="transformers", weights=weights, extra=extra
    )


def _flux() -> HubRepo:
    repo_id = "black-forest-labs/FLUX.1-dev"
    weights = [
        *shards("transformer", "diffusion_pytorch_model",
                flux_transformer_tensors(_config(repo_id, "transformer/config.json"), "BF16"), 10 * _GB),
        *shards("text_encoder", "model", clip_text_tensors(_config(repo_id, "text_encoder/config.json"), "BF16"), 10 * _GB),
        *shards("text_encoder_2", "model", t5_encoder_tensors(_config(repo_id, "text_encoder_2/config.json"), "BF16"), 5 * _GB),
        *shards("vae", "diffusion_pytorch_model", autoencoder_kl_tensors(_config(repo_id, "vae/config.json"), "BF16"), 10 * _GB),
    ]  # fmt: skip
    extra = (("tokenizer_2/spiece.model", 791_656), ("tokenizer_2/tokenizer.json", 2_424_035),
             ("tokenizer/vocab.json", 1_059_962), ("LICENSE.md", 18_621))  # fmt: skip
    return _repo(
        repo_id, pipeline="text-to-image", library="diffusers", weights=weights, extra=extra
    )


def _fp32_and_fp16(folder: str, stem: str, tensors: list[Tensor]) -> list[HubFile]:
    """A component stored twice, as SDXL's repo does: fp32, and the `fp16` variant."""
    half = [Tensor(t.name, "F16", t.shape) for t in tensors]
    return [HubFile.safetensors(f"{folder}/{stem}.safetensors", tensors),
            HubFile.safetensors(f"{folder}/{stem}.fp16.safetensors", half)]  # fmt: skip


def _sdxl() -> HubRepo:
    repo_id = "stabilityai/stable-diffusion-xl-base-1.0"
    text_2 = clip_text_tensors(
        _config(repo_id, "text_encoder_2/config.json"), "F32", projection=True
    )
    parts = {
        "unet": unet_2d_condition_tensors(_config(repo_id, "unet/config.json"), "F32"),
        "vae": autoencoder_kl_tensors(_config(repo_id, "vae/config.json"), "F32"),
        "text_encoder": clip_text_tensors(_config(repo_id, "text_encoder/config.json"), "F32"),
        "text_encoder_2": text_2,
    }
    weights = [
        *_fp32_and_fp16("unet", "diffusion_pytorch_model", parts["unet"]),
        *_fp32_and_fp16("vae", "diffusion_pytorch_model", parts["vae"]),
        *_fp32_and_fp16("text_encoder", "model", parts["text_encoder"]),
        *_fp32_and_fp16("text_encoder_2", "model", text_2),
        _single_file(parts),
    ]  # fmt: skip
    extra = (("tokenizer/vocab.json", 1_059_962), ("tokenizer_2/vocab.json", 1_059_962),
             ("LICENSE.md", 14_202))  # fmt: skip
    return _repo(
        repo_id, pipeline="text-to-image", library="diffusers", weights=weights, extra=extra
    )


# The single-file checkpoint's key prefixes (the original SD-XL layout ComfyUI loads).
_SINGLE_FILE_PREFIX = {"unet": "model.diffusion_model.", "vae": "first_stage_model.",
                       "text_encoder": "conditioner.embedders.0.transformer.",
                       "text_encoder_2": "conditioner.embedders.1.model."}  # fmt: skip


def _single_file(parts: dict[str, list[Tensor]]) -> HubFile:
    """`sd_xl_base_1.0.safetensors`, the whole pipeline in one fp16 file, as ComfyUI
    workflows load it (CheckpointLoaderSimple); diffusers never reads it."""
    tensors = [Tensor(_SINGLE_FILE_PREFIX[part] + t.name, "F16", t.shape)
               for part, found in parts.items() for t in found]  # fmt: skip
    return HubFile.safetensors("sd_xl_base_1.0.safetensors", tensors)


def _root_model(repo_id: str, *, pipeline: str, library: str, dtype: str,
                build: Callable[[dict[str, Any], str], list[Tensor]],
                extra: tuple[tuple[str, int], ...]) -> HubRepo:  # fmt: skip
    """A one-file model (speech, embeddings): model.safetensors plus other formats."""
    weights = [HubFile.safetensors("model.safetensors", build(_config(repo_id), dtype))]
    return _repo(repo_id, pipeline=pipeline, library=library, weights=weights, extra=extra)


def _voyager() -> HubRepo:
    repo_id = "tencent/HunyuanWorld-Voyager"
    clip = _config(repo_id, "text_encoder_2/config.json")
    text, vision = clip["text_config"], clip["vision_config"]
    tensors = [
        *clip_text_tensors(text, "F32"), *clip_vision_tensors(vision, "F32"),
        *linear("visual_projection", clip["projection_dim"], vision["hidden_size"], "F32", bias=False),
        *linear("text_projection", clip["projection_dim"], text["hidden_size"], "F32", bias=False),
        Tensor("logit_scale", "F32", ()),
    ]  # fmt: skip
    extra = (("Voyager/transformers/mp_rank_00_model_states.pt", 33_000_000_000),
             ("Voyager/transformers/mp_rank_00_model_states_fp8.pt", 16_500_000_000),
             ("Voyager/transformers/mp_rank_00_model_states_fp8_map.pt", 104_000),
             ("vae/pytorch_model.pt", 986_000_000), ("LICENSE", 17_000), ("Notice", 9_000))  # fmt: skip
    weights = [HubFile.safetensors("text_encoder_2/model.safetensors", tensors)]
    return _repo(repo_id, pipeline="image-to-video", library=None, weights=weights, extra=extra)


_BUILDERS: tuple[Callable[[], HubRepo], ...] = (
    lambda: _qwen("Qwen/Qwen2.5-7B-Instruct", 4 * _GB),
    lambda: _qwen("Qwen/Qwen2.5-0.5B-Instruct", 5 * _GB),
    _llama, _mistral, _flux, _sdxl,
    lambda: _root_model("openai/whisper-large-v3", pipeline="automatic-speech-recognition",
                        library="transformers", dtype="F16", build=whisper_tensors,
                        extra=(("pytorch_model.bin", 3_087_284_237), ("flax_model.msgpack", 3_087_014_591),
                               ("tokenizer.json", 2_480_466))),
    lambda: _root_model("BAAI/bge-large-en-v1.5", pipeline="feature-extraction",
                        library="sentence-transformers", dtype="F32", build=bert_tensors,
                        extra=(("pytorch_model.bin", 1_340_698_349), ("onnx/model.onnx", 1_340_919_450),
                               ("vocab.txt", 231_508))),
    lambda: _root_model("sentence-transformers/all-MiniLM-L6-v2", pipeline="sentence-similarity",
                        library="sentence-transformers", dtype="F32", build=bert_tensors,
                        extra=(("pytorch_model.bin", 90_888_945), ("onnx/model.onnx", 90_405_214),
                               ("vocab.txt", 231_508))),
    lambda: _root_model("nomic-ai/nomic-embed-text-v1.5", pipeline="sentence-similarity",
                        library="sentence-transformers", dtype="F32", build=nomic_bert_tensors,
                        extra=(("onnx/model.onnx", 547_552_410), ("tokenizer.json", 711_396))),
    _voyager,
)  # fmt: skip


@functools.cache
def _built() -> tuple[HubRepo, ...]:
    # Building the headers of ~10 repos takes a moment; build once, hand out copies.
    return tuple(build() for build in _BUILDERS)


DEMO_REPO_IDS: tuple[str, ...] = (
    "Qwen/Qwen2.5-7B-Instruct", "Qwen/Qwen2.5-0.5B-Instruct", "meta-llama/Llama-3.1-8B-Instruct",
    "mistralai/Mistral-7B-Instruct-v0.3", "black-forest-labs/FLUX.1-dev",
    "stabilityai/stable-diffusion-xl-base-1.0", "openai/whisper-large-v3", "BAAI/bge-large-en-v1.5",
    "sentence-transformers/all-MiniLM-L6-v2", "nomic-ai/nomic-embed-text-v1.5",
    "tencent/HunyuanWorld-Voyager",
)  # fmt: skip


def demo_repos() -> list[HubRepo]:
    """Every demo repo, as fresh copies (a test may change one; the files are shared)."""
    return [
        dataclasses.replace(r, files=dict(r.files), tags=list(r.tags), card_data=dict(r.card_data))
        for r in _built()
    ]
