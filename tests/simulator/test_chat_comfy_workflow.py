"""A ComfyUI workflow attached in the chat, deployed end to end with the simulator: the
REAL agent with the simulated assistant reads the attached SDXL fixture (the analysis card:
its checkpoint resolved to the Hub file with its size, its inputs), prices it on the
approval card, builds the ComfyUI worker (simulated builder) and brings the endpoint to
ready, then publishes a web page whose prompt field reaches the workflow's positive-prompt
node. The workflow's JSON never reaches the LLM: only the marker with its id does."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from typing import Any, Final

import pytest

from agent.events import Approval, WorkflowCard
from tests.comfy.fixtures import CUSTOM_LORA, SDXL, fixture_bytes
from tests.comfy.hub_files import SUPPLIED, hub_repos
from tests.simulator.conftest import World
from tools.pipeline.services import StaticRegistry
from tools.simulator.images import SimulatedImages, SimulatedRegistry
from tools.simulator.server import ServedApp
from tools.workflow_import import import_workflow, workflow_marker

CHAT: Final = "POST /api/v1/chat/completions"
SDXL_REPO: Final = "stabilityai/stable-diffusion-xl-base-1.0"


@pytest.fixture
async def with_builder(world: World) -> AsyncIterator[World]:
    """`world` with the simulated image builder and registry (the worker is built)."""
    registry = SimulatedRegistry()
    served = ServedApp(registry)
    pipe = await world.pipeline.ready()
    pipe.services = dataclasses.replace(
        pipe.services, images=SimulatedImages(registry),
        registry=StaticRegistry(host=f"127.0.0.1:{served.port}", space="demo"),
    )  # fmt: skip
    try:
        yield world
    finally:
        served.stop()


def _positive_node(workflow: dict[str, Any]) -> str:
    """The node feeding the sampler's `positive` input, read from the fixture itself."""
    [sampler] = [n for n in workflow.values() if n["class_type"] == "KSampler"]
    return str(sampler["inputs"]["positive"][0])


async def test_an_attached_sdxl_workflow_becomes_an_endpoint_and_a_web_page(
    with_builder: World,
) -> None:
    world, fakes, keys = with_builder, with_builder.demo.providers, with_builder.demo.keys
    stored, nodes = await import_workflow(
        world.vault, world.user_id, fixture_bytes(SDXL), name="sdxl-txt2img"
    )
    text = f"Build me a web app for this workflow.\n{workflow_marker(stored, nodes)}"
    turn = await world.turn(
        text, secrets=[keys["runpod"], keys["github"], keys["vercel"]],
        approvals=[True, True, True],
    )  # fmt: skip

    [card] = turn.of(WorkflowCard)
    report = card.report
    assert report.models == [
        f"sd_xl_base_1.0.safetensors (checkpoints): {SDXL_REPO}/sd_xl_base_1.0.safetensors, "
        "6.46 GiB"
    ], report
    assert report.ask_user == [] and report.vram_gib is not None and report.gpu
    approvals = turn.of(Approval)
    assert [a.tool for a in approvals] == [
        "create_runpod_endpoint", "push_to_github", "deploy_vercel"
    ], turn.transcript()  # fmt: skip
    endpoint = approvals[0]
    assert endpoint.price and "/h" in endpoint.price
    assert any("ComfyUI worker image" in line for line in endpoint.creates), endpoint.creates
    assert ("create_runpod_endpoint", "success") in turn.tools, turn.transcript()
    assert ("deploy_vercel", "success") in turn.tools, turn.transcript()

    workflow = json.loads(fixture_bytes(SDXL))
    positive = _positive_node(workflow)
    [view] = await (await world.pipeline.ready()).services.deployments.list(world.user_id)
    comfy = view.plan["worker"]["comfy"]
    [prompt] = [i for i in comfy["inputs"] if i["name"] == "prompt"]
    assert (prompt["node_id"], prompt["input_name"]) == (positive, "text")
    # The app's integration check ran a job through the page's function: its prompt field
    # is the job's `prompt`, the field the worker writes into that node.
    jobs = [job.input for ep in fakes.runpod.state.endpoints.values() for job in ep.jobs.values()]
    assert any(job.get("prompt") == workflow[positive]["inputs"]["text"] for job in jobs), jobs

    sent = "\n".join(call.body.decode() for call in world.demo.llm.calls_to(CHAT))
    assert workflow[positive]["inputs"]["text"] not in sent  # the workflow stayed out
    assert stored.id in sent


async def test_what_cannot_be_resolved_is_asked_for_then_the_answers_are_kept(
    with_builder: World,
) -> None:
    """The Nunchaku fixture: three files no list knows. The user is asked (nothing is
    guessed and nothing priced); their answers are checked on the Hub and kept, and the
    deploy goes on to its approval card."""
    world, fakes, keys = with_builder, with_builder.demo.providers, with_builder.demo.keys
    for repo in await hub_repos([CUSTOM_LORA]):
        fakes.huggingface.add_repo(repo)
    stored, nodes = await import_workflow(
        world.vault, world.user_id, fixture_bytes(CUSTOM_LORA), name="nunchaku-lora"
    )
    marker = workflow_marker(stored, nodes)
    asked = await world.turn(f"Deploy this workflow.\n{marker}")
    [card] = asked.of(WorkflowCard)
    assert len(card.report.ask_user) == 3, card.report.ask_user
    assert card.report.vram_gib is None  # not sized before every file is known
    assert not asked.of(Approval)
    for filename in SUPPLIED:
        assert filename in asked.final.text

    answers = "; ".join(f"{name} is {source}" for name, source in SUPPLIED.items())
    answered = await world.turn(answers, secrets=[keys["runpod"]], approvals=[False])
    [card] = answered.of(WorkflowCard)
    assert card.report.ask_user == [] and card.report.vram_gib, card.report
    assert any("comfyui-nunchaku@" in line for line in card.report.custom_nodes)
    [approval] = answered.of(Approval)  # priced, then declined: nothing is created
    assert approval.tool == "create_runpod_endpoint"
    assert any("comfyui-nunchaku@" in line for line in approval.creates), approval.creates
    assert fakes.runpod.state.endpoints == {}
    kept = await world.vault.workflows.get(world.user_id, stored.id)
    assert kept.supplied["models"] == SUPPLIED
