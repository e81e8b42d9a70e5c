"""Each real public fixture, taken all the way to a worker: parsed, analysed through the
real Hugging Face client and the registry client against their fakes (the Hub files at
their published sizes), what cannot be resolved supplied as the user would, sized at the
workflow's resolution, planned with `plan_comfy_worker` and rendered into its build
context. The Dockerfile installs the pinned nodes and fetches every model; the baked job
contract sends `prompt` to the node that feeds the sampler's positive conditioning."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any, Final

import httpx
import pytest
from pydantic import SecretStr

from tests.comfy.fixtures import CUSTOM_LORA, FLUX, SDXL, fixture_bytes
from tests.comfy.hub_files import SIZES, SUPPLIED, hub_repos
from tools.artifacts.worker import plan_comfy_worker, render_worker
from tools.clients.huggingface import HuggingFaceClient
from tools.comfy import WorkflowAnalysis
from tools.comfy.analyze import worker_of
from tools.comfy.parse import parse_workflow
from tools.comfy.sizing import comfy_requirements, estimate_workflow, family_of
from tools.pipeline.comfy_plan import analyze_with_clients
from tools.simulator.comfy_registry import ComfyRegistryFake
from tools.simulator.huggingface import HuggingFaceFake
from tools.simulator.server import serve
from vault.settings import Settings

GIB: Final = 1 << 30


@pytest.fixture(scope="module")
async def settings(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Settings]:
    hub = HuggingFaceFake()
    for repo in await hub_repos([SDXL, FLUX, CUSTOM_LORA]):
        hub.add_repo(repo)
    with serve(hub) as hub_url, serve(ComfyRegistryFake()) as registry_url:
        yield Settings(
            home=tmp_path_factory.mktemp("home"), huggingface_base_url=hub_url,
            comfy_registry_base_url=registry_url, master_key=SecretStr("x" * 44),
        )  # fmt: skip


async def _analysed(name: str, settings: Settings, supplied: Mapping[str, Any]) -> WorkflowAnalysis:
    workflow = parse_workflow(fixture_bytes(name), name=Path(name).stem)
    async with httpx.AsyncClient(trust_env=False) as http:
        hub = HuggingFaceClient(http=http, base_url=settings.huggingface_base_url, token=None)
        return await analyze_with_clients(
            workflow, hub=hub, http=http, settings=settings, supplied=supplied
        )


@pytest.mark.parametrize(
    ("name", "family", "low_gib", "high_gib", "supplied"),
    [
        (SDXL, "sdxl", 7, 12, {}),
        (FLUX, "flux", 16, 24, {}),
        (CUSTOM_LORA, "flux", 12, 22, {"models": SUPPLIED}),
    ],
)
async def test_each_fixture_is_analysed_sized_and_rendered_into_a_worker(
    settings: Settings, name: str, family: str, low_gib: float, high_gib: float,
    supplied: Mapping[str, Any],
) -> None:  # fmt: skip
    analysis = await _analysed(name, settings, supplied)
    assert analysis.unresolved == (), analysis.unresolved
    for m in analysis.models:  # every file sized from the Hub, at a pinned commit
        assert m.source is not None and m.source.size_bytes == SIZES[m.filename]
        assert len(m.source.revision) == 40
    assert family_of(analysis) == family
    estimate = estimate_workflow(analysis)
    assert estimate.basis == "diffusion"
    assert low_gib < estimate.total_bytes / GIB < high_gib, estimate.total_bytes / GIB

    plan = plan_comfy_worker(worker_of(analysis), comfy_requirements(analysis))
    files = render_worker(plan, secret=True).files
    dockerfile = files["Dockerfile"]
    assert "ARG BASE_IMAGE=runpod/worker-comfyui:5.8.5-base\n" in dockerfile
    for package in analysis.packages:
        assert f"{package.package_id}@{package.version}" in dockerfile
    baked = {m["filename"] for m in json.loads(files["models.json"])["files"]}
    assert baked == {m.filename for m in analysis.models}
    contract = json.loads(files["inputs.json"])
    fields = {f["name"]: (f["node_id"], f["input_name"]) for f in contract["fields"]}
    workflow = json.loads(files["workflow.json"])
    node, inp = fields["prompt"]
    assert workflow[node]["inputs"][inp] == analysis.workflow.nodes[node].inputs[inp]


async def test_the_custom_node_fixture_asks_for_what_no_list_knows(settings: Settings) -> None:
    analysis = await _analysed(CUSTOM_LORA, settings, {})
    [package] = analysis.packages
    assert package.package_id == "comfyui-nunchaku" and package.version
    asks = "\n".join(analysis.unresolved)
    for filename in SUPPLIED:
        assert filename in asks
