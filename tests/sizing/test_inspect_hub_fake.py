"""`inspect_model` through the real `HuggingFaceClient` against the loopback Hub fake."""

from __future__ import annotations

import pytest

from tools.clients.hub_reader import SizingHubReader
from tools.clients.huggingface import HuggingFaceClient
from tools.simulator import hf_repos
from tools.simulator.huggingface import HuggingFaceFake
from tools.sizing import (
    GatedRepoError,
    NoWeightsError,
    UnknownRepoError,
    estimate_vram,
    inspect_model,
    weights_bytes_at,
)

Fake = tuple[HuggingFaceFake, str]


def _weights_size(fake: HuggingFaceFake, repo_id: str, *paths: str) -> int:
    return sum(fake.repos[repo_id].files[p].size for p in paths)


async def test_safetensors_repo(hf_client: HuggingFaceClient, hf_fake: Fake) -> None:
    fake, _ = hf_fake
    repo = fake.repos["kriptik-test/tiny-llama"]
    r = await inspect_model(SizingHubReader(hf_client), "kriptik-test/tiny-llama")
    assert r.parameters_by_dtype == repo.safetensors_parameters()
    assert r.weights_bytes == repo.files["model.safetensors"].size
    assert r.sha == repo.sha and r.license == "apache-2.0" and not r.gated
    assert r.architecture is not None and r.architecture.num_layers == 2
    e = estimate_vram(r, "bf16", 2048, 4)
    assert e.weights_bytes == 2 * sum(repo.safetensors_parameters().values())
    assert e.kv_cache_bytes == 2 * 2 * 4 * 32 * 2 * 2048 * 4  # K,V x layers x kv x dim x bf16
    fake.assert_clean()


async def test_sharded_repo_sums_every_shard(hf_client: HuggingFaceClient, hf_fake: Fake) -> None:
    fake, _ = hf_fake
    shards = [f"model-0000{i}-of-00003.safetensors" for i in (1, 2, 3)]
    r = await inspect_model(SizingHubReader(hf_client), "kriptik-test/sharded-llama")
    assert r.weight_files == tuple(shards)
    assert r.weights_bytes == _weights_size(fake, "kriptik-test/sharded-llama", *shards)
    assert r.parameter_count == sum(
        fake.repos["kriptik-test/sharded-llama"].safetensors_parameters().values()
    )
    fake.assert_clean()


async def test_mixed_dtype_repo_keeps_u8_storage(
    hf_client: HuggingFaceClient, hf_fake: Fake
) -> None:
    fake, _ = hf_fake
    r = await inspect_model(SizingHubReader(hf_client), "kriptik-test/mixed-moe")
    counts = fake.repos["kriptik-test/mixed-moe"].safetensors_parameters()
    assert set(r.parameters_by_dtype) == {"BF16", "U8"} and r.parameters_by_dtype == counts
    assert r.quantization.method == "mxfp4"
    # BF16 tensors at 2 bytes, the U8 expert blocks exactly as stored: never "total x 2"
    assert weights_bytes_at(r, "bf16") == 2 * counts["BF16"] + counts["U8"]
    assert weights_bytes_at(r, "bf16") < 2 * sum(counts.values())
    fake.assert_clean()


async def test_gptq_repo(hf_client: HuggingFaceClient, hf_fake: Fake) -> None:
    fake, _ = hf_fake
    r = await inspect_model(SizingHubReader(hf_client), "kriptik-test/tiny-llama-gptq")
    q = r.quantization
    assert (q.method, q.bits, q.group_size, q.source) == (
        "gptq", 4, 64, "config.json quantization_config"
    )  # fmt: skip
    dense = await inspect_model(SizingHubReader(hf_client), "kriptik-test/tiny-llama")
    assert r.parameter_count == dense.parameter_count  # real weights, not packed int32 elements
    counts = r.parameters_by_dtype
    assert weights_bytes_at(r, "bf16") == 4 * counts["I32"] + 2 * counts["F16"]
    assert weights_bytes_at(r, "bf16") < weights_bytes_at(dense, "bf16")
    fake.assert_clean()


async def test_diffusers_repo(hf_client: HuggingFaceClient, hf_fake: Fake) -> None:
    fake, _ = hf_fake
    r = await inspect_model(SizingHubReader(hf_client), "kriptik-test/tiny-diffusion")
    assert (r.library, r.pipeline_tag, r.architecture) == ("diffusers", "text-to-image", None)
    components = {c.name: c for c in r.components}
    assert set(components) == {"unet", "vae", "text_encoder"}  # scheduler/tokenizer hold none
    assert components["unet"].bytes == _weights_size(
        fake, "kriptik-test/tiny-diffusion", "unet/diffusion_pytorch_model.safetensors"
    )
    assert r.weights_bytes == sum(c.bytes for c in r.components)
    assert {c.name: c.class_name for c in r.components}["unet"] == "UNet2DConditionModel"
    assert estimate_vram(r, "fp16", 77, 1).basis == "diffusion"  # configs and headers read
    fake.assert_clean()


async def test_gated_repo_until_access_is_granted(
    hf_client: HuggingFaceClient, hf_fake: Fake
) -> None:
    fake, _ = hf_fake
    with pytest.raises(GatedRepoError) as raised:
        await inspect_model(SizingHubReader(hf_client), "kriptik-test/gated-llama")
    assert raised.value.access_url.endswith("/kriptik-test/gated-llama")
    fake.grant("kriptik-tester", "kriptik-test/gated-llama")
    r = await inspect_model(SizingHubReader(hf_client), "kriptik-test/gated-llama")
    assert r.gated and r.parameter_count
    fake.assert_clean()


async def test_bin_next_to_safetensors_counts_once(
    hf_client: HuggingFaceClient, hf_fake: Fake
) -> None:
    fake, _ = hf_fake
    r = await inspect_model(SizingHubReader(hf_client), "kriptik-test/both-formats")
    assert r.weight_format == "safetensors" and r.weight_files == ("model.safetensors",)
    repo = fake.repos["kriptik-test/both-formats"]
    assert r.weights_bytes == repo.files["model.safetensors"].size
    assert r.download_bytes is not None
    assert (
        r.download_bytes
        < sum(f.size for f in repo.files.values()) - repo.files["pytorch_model.bin"].size + 1
    )
    fake.assert_clean()


async def test_unknown_repo_revision_and_empty_repo(
    hf_client: HuggingFaceClient, hf_fake: Fake
) -> None:
    fake, _ = hf_fake
    with pytest.raises(UnknownRepoError, match="could not find the model kriptik-test/does-not"):
        await inspect_model(SizingHubReader(hf_client), "kriptik-test/does-not-exist")
    with pytest.raises(UnknownRepoError, match="no revision 'v9'"):
        await inspect_model(SizingHubReader(hf_client), "kriptik-test/tiny-llama", revision="v9")
    empty = hf_repos.HubRepo("kriptik-test/empty").add(hf_repos.HubFile.text("README.md", "# hi"))
    fake.add_repo(empty)
    with pytest.raises(NoWeightsError):
        await inspect_model(SizingHubReader(hf_client), "kriptik-test/empty")
    fake.assert_clean()
