"""Amazon SageMaker running our own worker image (every workload besides a public language
model), through the durable pipeline: real DBOS on SQLite, the real planner against the
simulator's Hub, and the real `SageMakerTarget` against the AWS fake (boto3, SigV4, botocore's
models).

The worker is built, then pushed to KripTik's one ECR repository in the user's account with
ECR's own login (user `AWS`, a token fetched through the assumed role); SageMaker's model
runs exactly that image; the smoke test sends the worker's own job input; teardown leaves
nothing in the account: no endpoint, config, model, image or repository.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from pydantic import SecretStr

from tests.pipeline.conftest import FAST, PipelineEnv
from tests.pipeline.target_deploys import AWS_ROLE
from tests.pipeline.target_services import build_targets
from tools.clients._http import Retry
from tools.clients.aws_permissions import AwsNames
from tools.pipeline import api, lifetime
from tools.pipeline.events import (
    Completed,
    ProgressEvent,
    ResourceCreated,
    StageChanged,
    WorkersSeen,
)
from tools.pipeline.plan import DeployRequest, plan_deployment
from tools.pipeline.services import PipelineServices, RegistryLogin
from tools.simulator import aws_state
from tools.simulator.all import FakeStack
from tools.simulator.images import SimulatedImages, SimulatedRegistry
from tools.targets.base import Progress, TargetEndpoint
from tools.targets.sagemaker import SageMakerTarget, resource_name

DIFFUSION = "kriptik-test/tiny-diffusion"
REPOSITORY = AwsNames.for_external_id(aws_state.EXTERNAL_ID).repository


class EcrPushes(SimulatedImages):
    """The simulator's builder; each push also lands in the AWS fake's ECR, as a docker
    push to ECR would (the fake's registry has no blob store of its own)."""

    def __init__(self, fakes: FakeStack) -> None:
        super().__init__(SimulatedRegistry())
        self.fakes = fakes
        self.pushed: list[tuple[str, str]] = []

    async def push(self, ref: str, login: object, *, on_line: Callable[[str], None]) -> str:
        assert isinstance(login, RegistryLogin)
        self.pushed.append((ref, login.username))
        repository, _, tag = ref.split("/", 1)[1].partition(":")
        self.fakes.aws.push_image("us-east-1", repository, tag)
        return await super().push(ref, login, on_line=on_line)


@pytest.fixture
def on_sagemaker(
    pipeline: PipelineEnv, services: Callable[..., PipelineServices], fakes: FakeStack,
    monkeypatch: pytest.MonkeyPatch,
) -> PipelineServices:  # fmt: skip
    return services(
        targets=build_targets(pipeline, monkeypatch), images=EcrPushes(fakes), timings=FAST
    )


async def _events(deployment_id: str) -> list[ProgressEvent]:
    return [event async for event in api.read_progress(deployment_id)]


async def test_a_diffusion_model_is_built_pushed_to_ecr_served_and_torn_down_to_nothing(
    pipeline: PipelineEnv, on_sagemaker: PipelineServices, fakes: FakeStack
) -> None:
    user = await pipeline.new_user()
    await pipeline.vault.credentials.add(user, "aws", SecretStr(AWS_ROLE))
    plan = await plan_deployment(
        on_sagemaker, user, DeployRequest(repo_id=DIFFUSION, target="sagemaker")
    )
    assert plan.worker.needs_build
    view = await api.create_deployment(pipeline.pipe, user_id=user, plan=plan)
    assert await api.wait_deployment(view.id) == "ready"
    events = await _events(view.id)
    stages = [e.stage for e in events if isinstance(e, StageChanged)]
    assert stages == ["building", "creating_endpoint", "waiting", "smoke_test"]
    record = await on_sagemaker.deployments.get(view.id, user_id=None)
    images = on_sagemaker.images
    assert isinstance(images, EcrPushes)
    # Pushed once, to the user's one repository, as ECR's own login user.
    host = f"{aws_state.USER_ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com"
    assert images.pushed == [(record.image, "AWS")]
    assert record.image and record.image.startswith(f"{host}/{REPOSITORY}:")
    assert view.id in record.image and len(record.image.split(":")[-1]) <= 128
    name = resource_name(view.id)
    model = fakes.aws.state.models[("us-east-1", name)]
    assert model.body["PrimaryContainer"]["Image"] == record.image  # exactly what was pushed
    made = [(e.resource, e.name) for e in events if isinstance(e, ResourceCreated)]
    assert made[0] == ("image", record.image)
    done = events[-1]
    assert isinstance(done, Completed) and "prompt" in done.smoke_output  # the worker's input
    report = await api.teardown(pipeline.pipe, user, view.id)
    assert report.failure is None
    assert fakes.aws.state.resources() == {}  # no endpoint, config, model, image, repository


async def test_an_endpoint_that_scales_to_zero_counts_as_used_while_an_instance_is_up(
    pipeline: PipelineEnv, on_sagemaker: PipelineServices, fakes: FakeStack
) -> None:
    """Its idle limit runs from the last time an instance was up (requests keep one up),
    not from readiness: KripTik sees no request counts, but it sees instances."""
    user = await pipeline.new_user()
    await pipeline.vault.credentials.add(user, "aws", SecretStr(AWS_ROLE))
    plan = await plan_deployment(
        on_sagemaker, user, DeployRequest(repo_id=DIFFUSION, target="sagemaker")
    )
    view = await api.create_deployment(pipeline.pipe, user_id=user, plan=plan)
    assert await api.wait_deployment(view.id) == "ready"
    fakes.aws.calls.clear()
    await lifetime.check(on_sagemaker, view.id, None)  # an instance is up: used now
    used = (await on_sagemaker.deployments.get(view.id, user_id=None)).last_active_at
    assert used is not None
    # One look at the endpoint serves both the activity and the cost count.
    looks = [c for c in fakes.aws.calls if "DescribeEndpoint" in c.headers.get("x-amz-target", "")]
    assert len(looks) == 1, looks
    fakes.aws.scale_in(resource_name(view.id))  # idle: the component scales to zero
    await lifetime.check(on_sagemaker, view.id, None)
    record = await on_sagemaker.deployments.get(view.id, user_id=None)
    assert record.last_active_at == used  # no instance up: no use since
    assert (await api.teardown(pipeline.pipe, user, view.id)).failure is None


class _ScaledToZeroBeforeItsTest(SageMakerTarget):
    """The real target, but the endpoint has scaled to zero by the time its test request
    comes (as it would after its idle time)."""

    fakes: FakeStack | None = None

    async def smoke_test(
        self, user_id: str, endpoint: TargetEndpoint, payload: dict[str, Any],
        progress: Progress | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        assert self.fakes is not None
        self.fakes.aws.scale_in(endpoint.resource_id)
        return await super().smoke_test(user_id, endpoint, payload, progress)


async def test_a_test_request_that_wakes_the_endpoint_says_so_in_the_progress(
    pipeline: PipelineEnv, on_sagemaker: PipelineServices, fakes: FakeStack,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    waking = _ScaledToZeroBeforeItsTest(
        settings=pipeline.settings, tokens=partial(on_sagemaker.token, provider="aws"),
        retry=Retry(max_attempts=1), poll_s=0.01,
        prices_path=pipeline.settings.home / "sagemaker-prices.json",
    )  # fmt: skip
    waking.fakes = fakes
    on_sagemaker.targets = {**on_sagemaker.targets, "sagemaker": waking}
    user = await pipeline.new_user()
    await pipeline.vault.credentials.add(user, "aws", SecretStr(AWS_ROLE))
    plan = await plan_deployment(
        on_sagemaker, user, DeployRequest(repo_id=DIFFUSION, target="sagemaker")
    )
    view = await api.create_deployment(pipeline.pipe, user_id=user, plan=plan)
    assert await api.wait_deployment(view.id) == "ready"  # the request woke it, then answered
    events = await _events(view.id)
    at = [e.stage for e in events if isinstance(e, StageChanged)].index("smoke_test")
    said = [e.message for e in events[at:] if isinstance(e, WorkersSeen)]
    assert any("scaled to zero, so this first request starts it" in text for text in said), said
    assert (await api.teardown(pipeline.pipe, user, view.id)).failure is None
