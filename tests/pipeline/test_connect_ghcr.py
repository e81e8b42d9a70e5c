"""The real deployment workflow (DBOS) with GHCR as the registry: a GitHub connection
without `write:packages` stops the deployment before its image is built or pushed and
before anything exists at RunPod, with one message naming the scope and offering to
reconnect; once the user connects again, the deployment resumes and is pushed."""

from __future__ import annotations

from collections.abc import Callable

from tests.pipeline.conftest import PipelineEnv
from tools.clients._http import Retry
from tools.connect import Connections
from tools.pipeline import api
from tools.pipeline.events import NeedsKey, ProgressEvent
from tools.pipeline.plan import DeployRequest, plan_deployment
from tools.pipeline.services import GhcrRegistry, PipelineServices
from tools.simulator.all import FakeStack
from tools.simulator.images import SimulatedImages, SimulatedRegistry

DIFFUSION = "kriptik-test/tiny-diffusion"  # a generated worker: built and pushed


async def _no_wait(seconds: float) -> None:
    return None


async def test_a_missing_packages_scope_stops_the_deployment_before_the_push(
    pipeline: PipelineEnv, services: Callable[..., PipelineServices], fakes: FakeStack
) -> None:
    settings = pipeline.settings.model_copy(
        update={**fakes.oauth_settings_fields(), "public_url": "http://127.0.0.1:8000"}
    )
    connections = Connections(pipeline.vault, settings, pipeline.http, sleep=_no_wait,
                              retry=Retry(max_attempts=1))  # fmt: skip
    images = SimulatedImages(SimulatedRegistry())
    svc = services(images=images, registry=GhcrRegistry(pipeline.vault, connections),
                   connections=connections)  # fmt: skip
    user = await pipeline.new_user()
    fakes.github.oauth.grant_scopes = ("repo",)  # the person's token lacks packages
    await connections.finish_device(user, (await connections.start_device(user)).flow_id)

    plan = await plan_deployment(svc, user, DeployRequest(repo_id=DIFFUSION))
    view = await api.create_deployment(pipeline.pipe, user_id=user, plan=plan)
    events: list[ProgressEvent] = []
    async for event in api.read_progress(view.id):
        events.append(event)
        if isinstance(event, NeedsKey):
            assert event.provider == "github"
            assert "lacks the write:packages scope" in event.message
            assert "Connect GitHub again" in event.message
            assert images.registry.images == {}  # neither built nor pushed
            state = fakes.runpod.state
            assert state.templates == {} and state.endpoints == {} and state.registries == {}
            record = await svc.deployments.get(view.id, user_id=user)
            assert record.state == "needs_key" and record.image is None
            # The user connects again (all scopes asked), and the deployment resumes.
            await connections.finish_device(user, (await connections.start_device(user)).flow_id)
            assert await api.resume_after_new_key(svc, user) == [view.id]
    assert any(isinstance(e, NeedsKey) for e in events)
    assert await api.wait_deployment(view.id) == "ready"
    record = await svc.deployments.get(view.id, user_id=user)
    assert record.image is not None and record.image.startswith("ghcr.io/octo-tester/")
    assert images.registry.digest_of(record.image) == record.image_digest
