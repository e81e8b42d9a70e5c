"""A generated worker through the whole workflow with a real engine and registry: build with
the token as a BuildKit secret, push with auth, registry credentials given to RunPod, the
template on the pushed image, smoke test, then teardown that deletes the image too."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.artifacts import worker_image as wi
from tests.pipeline.conftest import PipelineEnv
from tests.pipeline.test_workflow import deploy
from tools.pipeline import api
from tools.pipeline.events import LogLine, ResourceCreated
from tools.pipeline.services import PipelineServices, StaticRegistry
from tools.simulator import hf_repos
from tools.simulator.all import FakeStack

pytestmark = pytest.mark.docker
REPO_ID = "kriptik-test/gated-diffusion"


@pytest.fixture(scope="module")
def env() -> Iterator[wi.DockerEnv]:
    yield from wi.docker_env()


async def test_a_gated_diffusers_model_is_built_pushed_deployed_and_torn_down(
    pipeline: PipelineEnv,
    services: Callable[..., PipelineServices],
    fakes: FakeStack,
    env: wi.DockerEnv,
) -> None:
    gated = hf_repos.diffusers_repo(REPO_ID)
    gated.gated = "manual"
    fakes.huggingface.add_repo(gated)
    fakes.huggingface.grant("kriptik-tester", REPO_ID)
    images = wi.StubImageService(
        docker_cli=wi.DOCKER_CLI, docker_host=env.services.docker_host, base_image=env.base_image
    )
    registry = StaticRegistry(
        env.services.registry, "kriptik", env.services.username, env.login.password
    )
    svc = services(images=images, registry=registry)
    user = await pipeline.new_user()

    view, events, outcome = await deploy(pipeline.pipe, user, REPO_ID)
    assert outcome == "ready", events[-1]
    record = await svc.deployments.get(view.id, user_id=user)
    assert record.kind == "diffusers" and record.image and record.image_digest
    assert record.image.startswith(f"{env.services.registry}/kriptik/kriptik-kriptik-test-gated-")
    assert f":{view.id}-" in record.image  # tagged with the deployment id and content hash
    assert await images.remote_digest(record.image, env.login) == record.image_digest
    made = {e.resource: e for e in events if isinstance(e, ResourceCreated)}
    assert set(made) == {"image", "registry", "template", "endpoint"}
    state = fakes.runpod.state
    [template] = state.templates.values()
    assert template["image"] == record.image
    assert template["registry"] == record.registry_auth_id in state.registries
    assert state.registries[record.registry_auth_id or ""]["username"] == env.services.username
    assert fakes.huggingface.calls_to("GET /{repo}/resolve/{rev}/{file}")  # weights were baked
    logs = [e.line for e in events if isinstance(e, LogLine)]
    assert any("fetch_weights.py" in line for line in logs)
    assert not any("hf_fake" in line for line in logs)

    report = await api.teardown(pipeline.pipe, user, view.id, remove_image=True)
    assert report.failure is None, report.text()
    assert f"image {record.image}" in report.removed
    assert state.templates == {} and state.endpoints == {} and state.registries == {}
    assert await images.remote_digest(record.image, env.login) is None
