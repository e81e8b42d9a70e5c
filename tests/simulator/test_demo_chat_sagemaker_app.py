"""`kriptik demo`'s SageMaker web app passes its integration check: the REAL agent with the
simulated assistant deploys a model on SageMaker with the demo's AWS key (the access key pair
a demo user is given), pushes the app and publishes it on Vercel, everything through one
client whose transport is the simulated web edge, as `kriptik demo` runs it. The app's
function (SIMULATED, `tools/simulator/_edge_sagemaker.py`) signs InvokeEndpoint with that
key and names the endpoint's inference component (it scales to zero). Both serving modes:
TGI for a language model, KripTik's worker image for a diffusion model. The secret key is
in no page, answer, chat message or LLM request."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from typing import Final

import httpx
import pytest

from agent.events import AppLive
from tests.pipeline.target_services import targets_for
from tests.simulator.conftest import World
from tools.simulator import aws_state as st
from tools.simulator.edge import WebEdge
from tools.simulator.images import SimulatedImages, SimulatedRegistry

CHAT: Final = "POST /api/v1/chat/completions"
COMPONENT: Final = "x-amzn-sagemaker-inference-component"
# model -> what the app's check sends to the endpoint: the chat check's history as TGI's
# Messages API; the worker's own example input, as it is.
MODELS: Final = {
    "Qwen/Qwen2.5-0.5B-Instruct": {"messages": [{"role": "user", "content": "Reply with OK."}],
                                   "max_tokens": 8},
    "stabilityai/stable-diffusion-xl-base-1.0": {
        "prompt": "A lighthouse on a cliff at dawn", "num_inference_steps": 4, "width": 512,
        "height": 512, "seed": 7},
}  # fmt: skip


@pytest.fixture
async def through_the_edge(world: World, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[World]:
    """`world` as `kriptik demo` has it: the deploy targets and the simulator's image builder,
    and one HTTP client for everything whose transport is `WebEdge` (no AWS key stored)."""
    pipe = await world.pipeline.ready()
    pipe.services = dataclasses.replace(
        pipe.services, targets=targets_for(pipe.services, monkeypatch),
        images=SimulatedImages(SimulatedRegistry()),
    )  # fmt: skip
    async with httpx.AsyncClient(transport=WebEdge(world.demo.providers), trust_env=False) as http:
        world.http = http
        yield world


@pytest.mark.parametrize("model", list(MODELS))
async def test_the_demo_s_sagemaker_web_app_passes_its_integration_check(
    through_the_edge: World, model: str
) -> None:
    world, fakes, keys = (
        through_the_edge,
        through_the_edge.demo.providers,
        through_the_edge.demo.keys,
    )
    secret = keys["aws"].split()[1]
    assert secret == st.SECRET_ACCESS_KEY
    turn = await world.turn(f"Build a web app on {model} on SageMaker",
                            secrets=[keys["aws"], keys["github"], keys["vercel"]],
                            approvals=[True] * 3)  # fmt: skip

    assert ("deploy_vercel", "success") in turn.tools, turn.transcript()
    [live] = turn.of(AppLive)
    assert "integration check passed" in live.summary, live.summary
    [project] = fakes.vercel.state.projects.values()
    assert project["_env"]["SAGEMAKER_ACCESS_KEY_ID"]["value"] == st.ACCESS_KEY_ID
    # The check's request reached the endpoint from the app's function (the pipeline's own
    # calls are boto3's): signed with the demo's key, naming the inference component, in
    # the shape its serving mode reads.
    [checked] = [c for c in fakes.aws.calls if c.path.endswith("/invocations")
                 and not c.headers.get("user-agent", "").startswith("Boto3/")]  # fmt: skip
    assert checked.json() == MODELS[model]
    assert checked.status == 200
    assert f"Credential={st.ACCESS_KEY_ID}/" in checked.headers["authorization"]
    [endpoint] = [e for (_, name), e in fakes.aws.state.endpoints.items()]
    assert checked.headers[COMPONENT] == endpoint.name

    # The page and the function's answers, fetched as a visitor would: no secret anywhere.
    app = live.summary.split("- App: ")[1].split()[0]
    seen = [await world.http.get(f"{app}/"), await world.http.get(f"{app}/app.js"),
            await world.http.get(f"{app}/api/infer", params={"health": "1"}),
            await world.http.post(f"{app}/api/infer", json={"input": MODELS[model]})]  # fmt: skip
    assert [r.status_code for r in seen] == [200, 200, 200, 200], seen[-1].text
    sent = "\n".join(call.body.decode() for call in world.demo.llm.calls_to(CHAT))
    for text in [*(r.text for r in seen), *(json.dumps(dict(r.headers)) for r in seen),
                 sent, turn.transcript(), live.summary]:  # fmt: skip
        assert secret not in text, "the AWS secret key leaked"

    down = await world.turn("tear it down", approvals=[True])
    assert ("teardown", "success") in down.tools, down.transcript()
    assert fakes.aws.state.resources() == {} and fakes.vercel.state.projects == {}
