"""`kriptik size` on diffusers repos of the demo Hub (SDXL and FLUX.1-dev, as the Hub
serves their metadata and safetensors headers): every component's weights, the activations
at the requested resolution, each offload option, and the one the estimate assumes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from tests.services.kriptik import cli_env, kriptik
from tools.simulator.demo_models import demo_repos
from tools.simulator.huggingface import HuggingFaceFake
from tools.simulator.server import serve
from ui.cli import build_parser
from ui.cli.size import SizeOutcome, run_size
from vault import get_settings

SDXL, FLUX = "stabilityai/stable-diffusion-xl-base-1.0", "black-forest-labs/FLUX.1-dev"


@pytest.fixture(scope="module")
def demo_url() -> Iterator[str]:
    fake = HuggingFaceFake()
    for repo in demo_repos():
        if repo.repo_id in {SDXL, FLUX}:
            fake.add_repo(replace(repo, gated=False))  # the gate is tested with the demo Hub
    with serve(fake) as url:
        yield url


@pytest.fixture
def hub(demo_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("KRIPTIK_HUGGINGFACE_BASE_URL", demo_url)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def size(*args: str) -> SizeOutcome:
    return run_size(build_parser().parse_args(["size", *args]))


@pytest.mark.usefixtures("hub")
def test_sdxl_table_shows_components_resolution_and_offload() -> None:
    outcome = size(SDXL, "--dtype", "fp16", "--height", "768", "--width", "1344")
    assert outcome.code == 0, outcome.err
    text = "\n".join(outcome.out)
    assert "Workload     1344 x 768, batch 1, fp16; the denoiser runs 2 latent(s) a step" in text
    for name, cls in (("unet", "UNet2DConditionModel"), ("vae", "AutoencoderKL"),
                      ("text_encoder", "CLIPTextModel"),
                      ("text_encoder_2", "CLIPTextModelWithProjection")):  # fmt: skip
        assert any(line.split()[:2] == [name, cls] for line in outcome.out), name
    assert "Components at 1344 x 768" in text and "KV cache" not in text
    assert "Offload      none " in text and "model CPU offload" in text
    assert "Assumed      no offload: every component stays on the GPU" in text
    assert "at the vae's phase" in text  # the fp32 decode at full resolution
    assert "fits on 16 GB (AMPERE_16)" in text


@pytest.mark.usefixtures("hub")
def test_flux_json_carries_every_option_and_the_assumed_one() -> None:
    outcome = size(FLUX, "--json")
    assert outcome.code == 0, outcome.err
    data = json.loads(outcome.out[0])
    sizing = data["estimate"]["diffusion"]
    assert (sizing["height"], sizing["width"], sizing["denoiser_batch"]) == (1024, 1024, 1)
    assert set(sizing["component_weights"]) == {
        "text_encoder", "text_encoder_2", "transformer", "vae"
    }  # fmt: skip
    assert sizing["component_weights"]["transformer"] == 2 * 11_901_408_320
    assert set(sizing["offload_totals"]) == {"none", "model", "sequential"}
    assert sizing["offload"] == "none" and data["gpu"]["offload"] == "none"
    assert data["total_bytes"] == sizing["offload_totals"]["none"]
    parts = ("weights_bytes", "kv_cache_bytes", "activation_bytes", "overhead_bytes")
    assert data["total_bytes"] == sum(data[k] for k in parts) and data["kv_cache_bytes"] == 0
    assert data["estimate"]["basis"] == "diffusion"
    assert "offload" in data["assumptions"]


@pytest.mark.usefixtures("hub")
def test_a_named_offload_is_what_the_estimate_assumes() -> None:
    outcome = size(FLUX, "--offload", "model", "--json")
    data = json.loads(outcome.out[0])
    assert data["estimate"]["diffusion"]["offload"] == "model"
    assert data["total_bytes"] == data["estimate"]["diffusion"]["offload_totals"]["model"]
    table = "\n".join(size(FLUX, "--offload", "model").out)
    assert "Assumed      model CPU offload (enable_model_cpu_offload)" in table
    assert "at the transformer's phase" in table


@pytest.mark.usefixtures("hub")
def test_frames_for_an_image_pipeline_is_bad_input() -> None:
    outcome = size(SDXL, "--frames", "16")
    assert outcome.code == 2 and "makes images" in outcome.err[0]


@pytest.mark.usefixtures("hub")
def test_when_no_card_holds_every_component_the_plan_offloads_and_says_so() -> None:
    # At 20% of each card no pool holds FLUX's 34 GiB, but one component at a time fits.
    outcome = size(FLUX, "--gpu-util", "0.2")
    assert outcome.code == 0, outcome.err
    text = "\n".join(outcome.out)
    assert "with model CPU offload: no pool holds every component at once" in text
    assert "Assumed      model CPU offload (enable_model_cpu_offload)" in text
    forced = size(FLUX, "--gpu-util", "0.2", "--offload", "none")
    assert forced.code == 1 and "does not fit" in "\n".join(forced.out)


def test_flux_end_to_end_as_a_user_runs_it(demo_url: str, tmp_path: Path) -> None:
    env = cli_env(tmp_path / "home", KRIPTIK_HUGGINGFACE_BASE_URL=demo_url)
    result = kriptik("size", FLUX, "--height", "768", "--width", "1360", env=env)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Components at 1360 x 768" in out
    assert any(line.split()[:2] == ["transformer", "FluxTransformer2DModel"]
               for line in out.splitlines())  # fmt: skip
    assert "Assumed      no offload: every component stays on the GPU" in out
