"""Choosing one set of weight files, never counting duplicates."""

from __future__ import annotations

from tools.sizing.weights import RepoFile, select_components, select_weights


def _files(**sizes: int) -> list[RepoFile]:
    return [RepoFile(path.replace("__", "/"), size) for path, size in sizes.items()]


def test_safetensors_win_over_bin_next_to_them() -> None:
    picked = select_weights(
        [RepoFile("model.safetensors", 1000), RepoFile("pytorch_model.bin", 1000),
         RepoFile("config.json", 10)]
    )  # fmt: skip
    assert picked is not None
    assert picked.format == "safetensors"
    assert [f.path for f in picked.files] == ["model.safetensors"]
    assert picked.bytes == 1000


def test_shards_are_summed_and_consolidated_is_skipped() -> None:
    picked = select_weights(
        [RepoFile("model-00001-of-00002.safetensors", 600),
         RepoFile("model-00002-of-00002.safetensors", 400),
         RepoFile("model.safetensors.index.json", 5),
         RepoFile("consolidated.safetensors", 1000)]
    )  # fmt: skip
    assert picked is not None and picked.bytes == 1000
    assert all(f.path.startswith("model-") for f in picked.files)


def test_consolidated_alone_is_used() -> None:
    picked = select_weights([RepoFile("consolidated.safetensors", 1000)])
    assert picked is not None and picked.bytes == 1000


def test_bin_shards_when_there_are_no_safetensors_and_training_files_are_not_weights() -> None:
    picked = select_weights(
        [RepoFile("pytorch_model-00001-of-00002.bin", 700),
         RepoFile("pytorch_model-00002-of-00002.bin", 300),
         RepoFile("training_args.bin", 5), RepoFile("optimizer.pt", 2000)]
    )  # fmt: skip
    assert picked is not None and picked.format == "pytorch" and picked.bytes == 1000


def test_one_gguf_quantization_is_chosen() -> None:
    picked = select_weights(
        [RepoFile("m.Q2_K.gguf", 10), RepoFile("m.Q4_K_M.gguf", 20), RepoFile("m.Q8_0.gguf", 40)]
    )
    assert picked is not None and [f.path for f in picked.files] == ["m.Q4_K_M.gguf"]
    assert picked.note is not None and "3 GGUF files" in picked.note


def test_alternative_single_files_count_once() -> None:
    picked = select_weights(
        [
            RepoFile("v1-5-pruned.safetensors", 7000),
            RepoFile("v1-5-pruned-emaonly.safetensors", 4000),
        ]
    )
    assert picked is not None and picked.bytes == 7000
    assert picked.note is not None and "2 alternatives" in picked.note


def test_no_weights_at_all() -> None:
    assert select_weights([RepoFile("README.md", 10), RepoFile("config.json", 5)]) is None


def test_diffusers_components_skip_variants_and_infer_fp32_from_the_fp16_twin() -> None:
    files = [
        RepoFile("unet/diffusion_pytorch_model.safetensors", 2000),
        RepoFile("unet/diffusion_pytorch_model.fp16.safetensors", 1000),
        RepoFile("unet/diffusion_pytorch_model.bin", 2000),
        RepoFile("vae/diffusion_pytorch_model.safetensors", 300),
        RepoFile("scheduler/scheduler_config.json", 1),
        RepoFile("safety_checker/model.safetensors", 999),
    ]
    components = {c.name: c for c in select_components(files, names=["unet", "vae", "scheduler"])}
    assert set(components) == {"unet", "vae"}  # safety_checker is not in model_index.json
    assert components["unet"].bytes == 2000
    assert (components["unet"].dtype_tag, components["unet"].dtype_guessed) == ("F32", False)
    assert components["vae"].dtype_guessed


def test_custom_layout_groups_by_top_folder_and_skips_duplicate_folders() -> None:
    files = [
        RepoFile("hunyuan3d-dit-v2-0/model.fp16.safetensors", 4000),
        RepoFile("hunyuan3d-dit-v2-0/model.fp16.ckpt", 4000),
        RepoFile("hunyuan3d-paint-v2-0/unet/diffusion_pytorch_model.bin", 3000),
        RepoFile("hunyuan3d-paint-v2-0/vae/diffusion_pytorch_model.bin", 300),
        RepoFile("hunyuan3d-paint-v2-0/text_encoder/pytorch_model.bin", 500),
        RepoFile("original/consolidated.00.pth", 9999),
        RepoFile("onnx/model.onnx", 9999),
    ]
    components = {c.name: c for c in select_components(files)}
    assert set(components) == {"hunyuan3d-dit-v2-0", "hunyuan3d-paint-v2-0"}
    assert components["hunyuan3d-dit-v2-0"].bytes == 4000
    assert components["hunyuan3d-dit-v2-0"].dtype_tag == "F16"
    assert components["hunyuan3d-paint-v2-0"].bytes == 3800
