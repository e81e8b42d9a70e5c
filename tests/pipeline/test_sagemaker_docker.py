"""Our worker for Amazon SageMaker, built and pushed for real: dockerd builds the generated
context (the stub pipeline on the local base image), and the pipeline pushes it with the
login that ECR's `GetAuthorizationToken` gave through the user's assumed role, to a real
registry with htpasswd auth standing behind the AWS fake's ECR. SageMaker's model then
runs exactly the pushed image (its digest is in the registry), and teardown leaves nothing
in the account.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from pydantic import SecretStr

from tests.artifacts import worker_image as wi
from tests.pipeline.conftest import FAST, PipelineEnv
from tests.pipeline.target_deploys import AWS_ROLE
from tests.pipeline.target_services import build_targets
from tools.clients.aws_permissions import AwsNames
from tools.pipeline import api
from tools.pipeline.plan import DeployRequest, plan_deployment
from tools.pipeline.services import PipelineServices
from tools.simulator import aws_state
from tools.simulator.all import FakeStack
from tools.simulator.aws_state import RegistryBacking
from tools.targets.sagemaker import resource_name

pytestmark = pytest.mark.docker
DIFFUSION = "kriptik-test/tiny-diffusion"
REPOSITORY = AwsNames.for_external_id(aws_state.EXTERNAL_ID).repository


@pytest.fixture(scope="module")
def env() -> Iterator[wi.DockerEnv]:
    yield from wi.docker_env()


async def test_the_worker_is_built_and_pushed_with_ecrs_login_and_served_as_pushed(
    pipeline: PipelineEnv, services: Callable[..., PipelineServices], fakes: FakeStack,
    env: wi.DockerEnv, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    docker = env.services
    fakes.aws.state.registry = RegistryBacking(
        url=f"http://{docker.registry}", username=docker.username, password=docker.password
    )
    images = wi.StubImageService(
        docker_cli=wi.DOCKER_CLI, docker_host=docker.docker_host, base_image=env.base_image
    )
    svc = services(targets=build_targets(pipeline, monkeypatch), images=images, timings=FAST)
    user = await pipeline.new_user()
    await pipeline.vault.credentials.add(user, "aws", SecretStr(AWS_ROLE))
    plan = await plan_deployment(svc, user, DeployRequest(repo_id=DIFFUSION, target="sagemaker"))
    view = await api.create_deployment(pipeline.pipe, user_id=user, plan=plan)
    assert await api.wait_deployment(view.id) == "ready"

    record = await svc.deployments.get(view.id, user_id=None)
    assert record.image and record.image.startswith(f"{docker.registry}/{REPOSITORY}:")
    # In the registry, with the digest the pipeline recorded: a real push with ECR's login.
    assert record.image_digest
    assert await images.remote_digest(record.image, env.login) == record.image_digest
    model = fakes.aws.state.models[("us-east-1", resource_name(view.id))]
    assert model.body["PrimaryContainer"]["Image"] == record.image

    report = await api.teardown(pipeline.pipe, user, view.id)
    assert report.failure is None
    assert fakes.aws.state.resources() == {}
