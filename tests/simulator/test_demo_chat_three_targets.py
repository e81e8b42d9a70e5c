"""One model, three targets, from the chat: the REAL agent with the simulated assistant of
`kriptik demo` deploys the same model on RunPod serverless, on Hugging Face Inference
Endpoints and on Google Cloud Run, each behind an approval card priced from that target's
own catalog, through the durable pipeline; each teardown leaves zero resources there, and
nothing reaches the other targets.

The world's pipeline gets what the composition root gives the demo: the targets beside
RunPod, and the simulator's image builder and registry (Cloud Run runs our own worker
image, so it is built and pushed first)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from typing import Final

import pytest
from pydantic import SecretStr

from agent.events import AppLive, Approval
from tests.pipeline.target_services import targets_for
from tests.simulator.conftest import World
from tools.pipeline.services import StaticRegistry
from tools.simulator.all import FakeStack
from tools.simulator.images import SimulatedImages, SimulatedRegistry
from tools.simulator.server import ServedApp
from tools.targets.cloudrun import L4_USD_PER_HOUR

QWEN: Final = "Qwen/Qwen2.5-0.5B-Instruct"
CHAT: Final = "POST /api/v1/chat/completions"
# target -> (what the user writes, the card's provider, the resource count at its fake)
ASKED: Final = {
    "runpod": f"Deploy {QWEN} as an API",
    "huggingface": f"Deploy {QWEN} on Hugging Face",
    "cloudrun": f"Deploy {QWEN} on Google Cloud Run",
}
PROVIDER: Final = {
    "runpod": "RunPod",
    "huggingface": "Hugging Face Inference Endpoints",
    "cloudrun": "Google Cloud Run",
}


def _resources(fakes: FakeStack) -> dict[str, int]:
    """What each target holds now: endpoints, endpoints, services."""
    return {
        "runpod": len(fakes.runpod.state.endpoints),
        "huggingface": len(fakes.hf_endpoints.live()),
        "cloudrun": len(fakes.cloudrun.services),
    }


@pytest.fixture
async def on_every_target(world: World, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[World]:
    """`world` with the targets, the simulated image builder and registry, and the user's
    Hugging Face token and Google service-account key stored (the RunPod key is asked)."""
    registry = SimulatedRegistry()
    served = ServedApp(registry)
    pipe = await world.pipeline.ready()
    pipe.services = dataclasses.replace(
        pipe.services,
        targets=targets_for(pipe.services, monkeypatch),
        images=SimulatedImages(registry),
        registry=StaticRegistry(host=f"127.0.0.1:{served.port}", space="demo"),
    )
    fakes = world.demo.providers
    await world.vault.credentials.add(
        world.user_id, "huggingface", SecretStr(world.demo.keys["huggingface"])
    )
    gcp_key = fakes.google_oauth.state.new_service_account()
    await world.vault.credentials.add(world.user_id, "gcp", SecretStr(gcp_key))
    try:
        yield world
    finally:
        served.stop()


@pytest.mark.parametrize("target", ["runpod", "huggingface", "cloudrun"])
async def test_the_same_model_deploys_on_each_target_and_tears_down_to_zero(
    on_every_target: World, target: str
) -> None:
    world, fakes = on_every_target, on_every_target.demo.providers
    secrets = [world.demo.keys["runpod"]] if target == "runpod" else []
    turn = await world.turn(ASKED[target], secrets=secrets, approvals=[True])

    [card] = turn.of(Approval)
    assert card.provider == PROVIDER[target], turn.transcript()
    assert ("create_runpod_endpoint", "success") in turn.tools, turn.transcript()
    assert _resources(fakes) == {t: int(t == target) for t in PROVIDER}
    assert turn.final.status == "done"
    _check_price(card, target, fakes)

    down = await world.turn("tear it down", approvals=[True])
    assert ("teardown", "success") in down.tools, down.transcript()
    assert _resources(fakes) == dict.fromkeys(PROVIDER, 0)


def _check_price(card: Approval, target: str, fakes: FakeStack) -> None:
    """The card's price is the one of that target's own catalog, for the GPU it names."""
    price = card.facts["price"]
    if target == "cloudrun":
        assert price == f"${L4_USD_PER_HOUR:.4f}/h per running instance", card.facts
        assert card.facts["price source"].startswith("cloud.google.com/run/pricing")
    elif target == "huggingface":
        [endpoint] = fakes.hf_endpoints.live()
        hw = endpoint.hardware  # the catalog entry the endpoint was created on
        assert price == f"${hw.price_per_hour:.4f}/h per running replica", card.facts
        assert card.facts["price source"].startswith("Hugging Face Inference Endpoints API")
    else:
        assert price.endswith("/h per running worker") and "AMPERE_16" in card.facts["GPU pool"]


# target -> the server-side variables its app gets: its key, and where to call it.
APP_ENV: Final = {
    "huggingface": ["HF_TOKEN", "HF_ENDPOINT_URL"],
    "cloudrun": ["GCP_SERVICE_ACCOUNT_JSON", "CLOUD_RUN_URL"],
}


RUNS_ON: Final = {
    "huggingface": "a Hugging Face Inference Endpoint",
    "cloudrun": "a private Google Cloud Run service",
}


@pytest.mark.parametrize("target", ["huggingface", "cloudrun"])
async def test_a_web_app_on_another_target_gets_that_target_s_key_and_url(
    on_every_target: World, target: str
) -> None:
    world, fakes, keys = on_every_target, on_every_target.demo.providers, on_every_target.demo.keys
    asked = ASKED[target].replace("Deploy", "Build a web app on").replace(" as an API", "")
    turn = await world.turn(asked, secrets=[keys["github"], keys["vercel"]],
                            approvals=[True, True, True])  # fmt: skip

    cards = turn.of(Approval)
    assert [c.tool for c in cards] == ["create_runpod_endpoint", "push_to_github",
                                       "deploy_vercel"], turn.transcript()  # fmt: skip
    assert cards[2].facts["server-side variables"] == ", ".join(APP_ENV[target])
    [project] = fakes.vercel.state.projects.values()
    env = project["_env"]
    assert sorted(env) == sorted(APP_ENV[target]), env
    assert ("deploy_vercel", "success") in turn.tools, turn.transcript()
    # The endpoint's URL is what the app calls; the key never reached the model or the chat.
    url = str(env[APP_ENV[target][1]]["value"])
    assert url.startswith("http://127.0.0.1:"), url
    sent = "\n".join(call.body.decode() for call in world.demo.llm.calls_to(CHAT))
    key = str(env[APP_ENV[target][0]]["value"])
    # The closing summary names the target's own URL and what runs there.
    [live] = turn.of(AppLive)
    assert f"- Endpoint: {url}" in live.summary, live.summary
    assert f"Running: {RUNS_ON[target]} with 0 to 1" in live.summary
    secret = json.loads(key)["private_key"].splitlines()[5] if target == "cloudrun" else key
    assert len(secret) > 20 and secret not in sent and secret not in turn.transcript()

    down = await world.turn("tear it down", approvals=[True])
    assert ("teardown", "success") in down.tools, down.transcript()
    assert _resources(fakes) == dict.fromkeys(PROVIDER, 0)
    assert fakes.vercel.state.projects == {}
