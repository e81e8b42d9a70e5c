"""A chat deploys a model on Amazon SageMaker through the user's assumed AWS role, and tears
it down to 0 resources: the REAL agent with the simulated assistant of `kriptik demo`, the
approval card priced from the AWS Price List, the durable pipeline, and the real
`SageMakerTarget` against the AWS fake (every request SigV4-checked and validated against
botocore's models). The role's short-lived keys never reach the model or the chat."""

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
from tools.simulator import aws_state as st
from tools.simulator.images import SimulatedImages, SimulatedRegistry

QWEN: Final = "Qwen/Qwen2.5-0.5B-Instruct"
CHAT: Final = "POST /api/v1/chat/completions"
ROLE: Final = {"role_arn": st.ROLE_ARN, "external_id": st.EXTERNAL_ID, "region": "us-east-1"}


@pytest.fixture
async def on_aws(world: World, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[World]:
    """`world` with the deploy targets, and the user's AWS role stored as their credential."""
    pipe = await world.pipeline.ready()
    pipe.services = dataclasses.replace(
        pipe.services, targets=targets_for(pipe.services, monkeypatch)
    )
    await world.vault.credentials.add(world.user_id, "aws", SecretStr(json.dumps(ROLE)))
    yield world


async def test_a_chat_deploys_on_sagemaker_through_the_role_and_tears_down_to_zero(
    on_aws: World,
) -> None:
    world, aws = on_aws, on_aws.demo.providers.aws
    turn = await world.turn(f"Deploy {QWEN} on SageMaker", approvals=[True])

    [card] = turn.of(Approval)
    assert card.provider == "Amazon SageMaker", turn.transcript()
    assert card.facts["GPU"].startswith("ml.") and "(Amazon SageMaker, us-east-1)" in card.facts[
        "GPU"]  # fmt: skip
    assert card.facts["price source"].startswith("AWS Price List API (AmazonSageMaker, us-east-1)")
    # No instance always on: an inference component that scales to zero.
    assert card.facts["scale to zero"].startswith("after 10 minutes without requests")
    assert "nothing bills while it is at zero" in card.price
    assert ("create_runpod_endpoint", "success") in turn.tools, turn.transcript()
    assert turn.final.status == "done", turn.transcript()
    kinds = aws.state.resources()
    assert {k: len(v) for k, v in kinds.items()} == {
        "model": 1, "endpoint-config": 1, "endpoint": 1, "inference-component": 1,
        "scalable-target": 1, "scaling-policy": 2,
        "alarm": 3,  # the wake-up alarm, and the two that target tracking makes itself
    }, kinds  # fmt: skip
    # Through the user's role, assumed with their external id; its keys stayed server-side.
    sessions = [a for a in aws.state.accounts.values() if a.role == st.ROLE_ARN]
    assert sessions
    sent = "\n".join(call.body.decode() for call in world.demo.llm.calls_to(CHAT))
    for session in sessions:
        assert session.secret not in sent and session.secret not in turn.transcript()
        assert (session.session_token or "") not in sent

    down = await world.turn("tear it down", approvals=[True])
    assert ("teardown", "success") in down.tools, down.transcript()
    assert aws.state.resources() == {}


SDXL: Final = "stabilityai/stable-diffusion-xl-base-1.0"


async def test_a_chat_deploys_a_diffusion_model_on_sagemaker_with_our_worker_image(
    on_aws: World,
) -> None:
    """Not a language model: the card says our worker is built and pushed to ECR in the
    user's account; SageMaker's model runs that image; teardown leaves nothing."""
    world, aws = on_aws, on_aws.demo.providers.aws
    pipe = await world.pipeline.ready()  # the demo's image builder (`kriptik demo`)
    pipe.services = dataclasses.replace(pipe.services, images=SimulatedImages(SimulatedRegistry()))
    turn = await world.turn(f"Deploy {SDXL} on SageMaker", approvals=[True])
    [card] = turn.of(Approval)
    assert card.provider == "Amazon SageMaker", turn.transcript()
    assert "pushed to ECR in your AWS account" in card.facts["image"]
    assert turn.final.status == "done", turn.transcript()
    [model] = aws.state.models.values()
    image = model.body["PrimaryContainer"]["Image"]
    assert f"{st.USER_ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/kriptik-" in image
    down = await world.turn("tear it down", approvals=[True])
    assert ("teardown", "success") in down.tools, down.transcript()
    assert aws.state.resources() == {}


KEYS: Final = {"access_key_id": st.ACCESS_KEY_ID, "secret_access_key": st.SECRET_ACCESS_KEY,
               "region": "us-east-1"}  # fmt: skip
APP_ENV: Final = ["SAGEMAKER_ACCESS_KEY_ID", "SAGEMAKER_SECRET_ACCESS_KEY",
                  "SAGEMAKER_ENDPOINT_URL", "SAGEMAKER_REGION"]  # fmt: skip


async def test_a_chat_builds_the_web_app_for_a_sagemaker_endpoint(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With an access key pair stored, "build a web app" deploys the endpoint and an app whose
    function gets the key, the endpoint's URL and its region as server-side variables (the
    function's signing runs under node in tests/webapp/test_sagemaker_app.py)."""
    pipe = await world.pipeline.ready()
    pipe.services = dataclasses.replace(
        pipe.services, targets=targets_for(pipe.services, monkeypatch)
    )
    await world.vault.credentials.add(world.user_id, "aws", SecretStr(json.dumps(KEYS)))
    fakes, keys = world.demo.providers, world.demo.keys
    turn = await world.turn(f"Build a web app on {QWEN} on SageMaker",
                            secrets=[keys["github"], keys["vercel"]], approvals=[True] * 3)  # fmt: skip
    cards = turn.of(Approval)
    assert [c.tool for c in cards] == ["create_runpod_endpoint", "push_to_github",
                                       "deploy_vercel"], turn.transcript()  # fmt: skip
    assert cards[2].facts["server-side variables"] == ", ".join(APP_ENV)
    assert "goes to your SageMaker endpoint, billed by AWS" in cards[2].price, cards[2].price
    assert ("deploy_vercel", "success") in turn.tools, turn.transcript()
    [project] = fakes.vercel.state.projects.values()
    env = project["_env"]
    assert sorted(env) == sorted(APP_ENV), env
    assert str(env["SAGEMAKER_ENDPOINT_URL"]["value"]).endswith("/invocations")
    [live] = turn.of(AppLive)
    assert "Running: an Amazon SageMaker real-time endpoint" in live.summary, live.summary
    sent = "\n".join(call.body.decode() for call in world.demo.llm.calls_to(CHAT))
    assert st.SECRET_ACCESS_KEY not in sent and st.SECRET_ACCESS_KEY not in turn.transcript()
    down = await world.turn("tear it down", approvals=[True])
    assert ("teardown", "success") in down.tools, down.transcript()
    assert fakes.aws.state.resources() == {} and fakes.vercel.state.projects == {}
