"""The REAL agent chatting with the simulated assistant of `kriptik demo`: a message that
names Hugging Face deploys the model there, behind an approval card priced from Hugging
Face's catalog, through the durable pipeline; tearing it down leaves zero endpoints."""

from __future__ import annotations

import dataclasses

import pytest
from pydantic import SecretStr

from agent.events import Approval
from tests.pipeline.target_services import targets_for
from tests.simulator.conftest import World

QWEN = "Qwen/Qwen2.5-0.5B-Instruct"


async def test_a_chat_deploys_on_hugging_face_then_tears_it_down(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    demo = world.demo
    pipe = await world.pipeline.ready()
    # The targets as the composition root builds them, beside the world's pipeline.
    pipe.services = dataclasses.replace(
        pipe.services, targets=targets_for(pipe.services, monkeypatch)
    )
    token = SecretStr(demo.keys["huggingface"])
    await world.vault.credentials.add(world.user_id, "huggingface", token)
    turn = await world.turn(f"Deploy {QWEN} on Hugging Face", approvals=[True])
    [card] = turn.of(Approval)
    assert card.provider == "Hugging Face Inference Endpoints", turn.transcript()
    assert card.facts["price"].endswith("/h per running replica")
    assert "price source" in card.facts
    [endpoint] = demo.providers.hf_endpoints.live()
    assert ("create_runpod_endpoint", "success") in turn.tools, turn.transcript()
    # Then the web app: without a GitHub key (none is given here) it stops, the endpoint up.
    assert f"Endpoint {endpoint.raw['name']} is ready" in turn.final.text, turn.transcript()

    down = await world.turn("tear it down", approvals=[True])
    assert ("teardown", "success") in down.tools, down.transcript()
    assert demo.providers.hf_endpoints.live() == []
    assert demo.providers.runpod.state.endpoints == {}  # nothing went to RunPod
