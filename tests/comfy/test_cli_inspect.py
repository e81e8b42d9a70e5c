"""`kriptik comfy inspect`, run as the console script against the Hub and ComfyUI registry
fakes: the real fixtures' models resolved to Hub files with their sizes, custom nodes mapped
to their packages, the inputs, the VRAM and GPU; what cannot be resolved is listed with
exit code 3; a file that is not a workflow exits 2 with the reason."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from tests.comfy.fixtures import CUSTOM_LORA, SDXL
from tests.services.kriptik import cli_env, kriptik
from tools.simulator.comfy_registry import ComfyRegistryFake
from tools.simulator.demo_models import demo_repos
from tools.simulator.huggingface import HuggingFaceFake
from tools.simulator.server import serve

FIXTURES = Path(__file__).parent / "fixtures"
SDXL_REPO = "stabilityai/stable-diffusion-xl-base-1.0"


@pytest.fixture(scope="module")
def fakes() -> Iterator[dict[str, str]]:
    hub = HuggingFaceFake()
    for repo in demo_repos():
        if repo.repo_id == SDXL_REPO:
            hub.add_repo(replace(repo, gated=False))
    with serve(hub) as hub_url, serve(ComfyRegistryFake()) as registry_url:
        yield {"KRIPTIK_HUGGINGFACE_BASE_URL": hub_url,
               "KRIPTIK_COMFY_REGISTRY_BASE_URL": registry_url}  # fmt: skip


def _inspect(tmp_path: Path, fakes: dict[str, str], *args: str) -> tuple[int, str, str]:
    done = kriptik("comfy", "inspect", *args, env=cli_env(tmp_path / "home", **fakes))
    return done.returncode, done.stdout, done.stderr


def test_the_sdxl_fixture_is_resolved_sized_and_priced_as_json(
    tmp_path: Path, fakes: dict[str, str]
) -> None:
    code, out, err = _inspect(tmp_path, fakes, str(FIXTURES / SDXL), "--json")
    assert code == 0, err
    found = json.loads(out)
    [model] = found["models"]
    assert model["folder"] == "checkpoints"
    assert model["source"]["repo_id"] == SDXL_REPO
    # The Hub's size (the demo Hub builds the file's header from SDXL's published configs:
    # within a kilobyte of the published 6,938,078,334 bytes), not a guess.
    [sdxl] = [r for r in demo_repos() if r.repo_id == SDXL_REPO]
    assert model["source"]["size_bytes"] == sdxl.files["sd_xl_base_1.0.safetensors"].size
    # Pinned to the commit the Hub named: the image gets exactly the file that was sized.
    assert re.fullmatch(r"[0-9a-f]{40}", model["source"]["revision"]), model["source"]
    assert found["custom_nodes"] == [] and found["unresolved"] == []
    inputs = {i["name"]: (i["node_id"], i["input_name"]) for i in found["inputs"]}
    assert inputs["prompt"] == ("6", "text") and inputs["seed"][1] == "seed"
    vram = found["vram"]
    assert vram["basis"] == "diffusion" and 7 < vram["total_gib"] < 12, vram
    assert vram["low_gib"] <= vram["total_gib"] <= vram["high_gib"]
    assert vram["gpu"] and vram["usd_per_hour"] > 0
    assert "stay on the GPU together" in vram["resident"]


def test_a_workflow_with_custom_nodes_lists_packages_and_asks_for_the_rest(
    tmp_path: Path, fakes: dict[str, str]
) -> None:
    code, out, err = _inspect(tmp_path, fakes, str(FIXTURES / CUSTOM_LORA))
    assert code == 3, err
    assert "comfyui-nunchaku@" in out  # NunchakuFluxDiTLoader's package, from the registry
    assert "needed: model flux.1-turbo-alpha.safetensors (loras)" in err
    assert "VRAM:" not in out  # not sized before every model is known


def test_a_file_that_is_not_a_workflow_exits_2_with_what_was_expected(
    tmp_path: Path, fakes: dict[str, str]
) -> None:
    bad = tmp_path / "notes.json"
    bad.write_text('{"hello": "world"}')
    code, _, err = _inspect(tmp_path, fakes, str(bad))
    assert code == 2
    assert "API format" in err and "UI format" in err
