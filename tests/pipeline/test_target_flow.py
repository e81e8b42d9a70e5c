"""Hugging Face Inference Endpoints and Google Cloud Run deployments through the durable
pipeline: real DBOS on SQLite, the real `HuggingFaceTarget` and `CloudRunTarget` against the
simulator's fakes on 127.0.0.1.

A recorded plan deploys to ready (Cloud Run: our worker image built and pushed to Artifact
Registry first), its smoke test passes, the record holds the resource id and URL, and
teardown leaves zero endpoints or services. Each fault (a model that fails to load, a quota,
no GPU in the region) ends failed with the provider's message and nothing left; a revoked
credential parks the deployment in `needs_key` until a new key resumes it; a cancel while
waiting deletes what was created; the lifetime tears a target deployment down by itself.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from dbos import DBOS, WorkflowHandleAsync
from huggingface_hub import constants as hf_constants
from pydantic import SecretStr

from tests.pipeline.conftest import FAST, PipelineEnv, TickingClock
from tests.pipeline.target_deploys import (
    HF_L4_HARDWARE,
    LLAMA,
    artifact_registry,
    build_targets,
    deployment_plan,
)
from tools.pipeline import api, cost
from tools.pipeline.artifact_registry import ArtifactRegistryAccess
from tools.pipeline.events import (
    Completed,
    Failed,
    NeedsKey,
    ProgressEvent,
    ResourceCreated,
    StageChanged,
)
from tools.pipeline.lifetime import lifetime_id
from tools.pipeline.services import PipelineServices, RegistryLogin, StaticRegistry
from tools.pipeline.target_plan import target_plan_of
from tools.simulator.all import FakeStack
from tools.simulator.huggingface import DEFAULT_TOKEN, HfUser
from tools.simulator.images import SimulatedImages, SimulatedRegistry
from tools.targets.cloudrun import service_id_for
from tools.targets.huggingface import endpoint_name
from ui.root import Root
from vault.deployments import DeploymentView

NEW_HF_TOKEN = "hf_NEWtokenNEWtokenNEWtokenNEWtoken000"


class PushedImages(SimulatedImages):
    """The simulator's image builder, telling the test which refs it pushed."""

    def __init__(self) -> None:
        super().__init__(SimulatedRegistry())
        self.pushed: list[tuple[str, str | None]] = []
        self.on_push: Callable[[str], None] = lambda ref: None

    async def push(self, ref: str, login: object, *, on_line: Callable[[str], None]) -> str:
        assert isinstance(login, RegistryLogin)
        self.pushed.append((ref, login.username))
        self.on_push(ref)
        return await super().push(ref, login, on_line=on_line)


@pytest.fixture
def hf_root(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The Inference Endpoints root is a process-wide constant the target sets: restored."""
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(
        hf_constants, "INFERENCE_ENDPOINTS_ENDPOINT", hf_constants.INFERENCE_ENDPOINTS_ENDPOINT
    )
    yield


@pytest.fixture
def images() -> PushedImages:
    return PushedImages()


@pytest.fixture
def targets(
    pipeline: PipelineEnv, services: Callable[..., PipelineServices], hf_root: None,
    images: PushedImages,
) -> PipelineServices:  # fmt: skip
    """This test's services: both targets, the simulated builder, Artifact Registry."""
    env = pipeline
    return services(
        targets=build_targets(env.http, env.settings, env.base.token), images=images,
        cloudrun_registry=artifact_registry(env.http, env.settings, env.base.token),
        timings=FAST,
    )  # fmt: skip


async def _user(env: PipelineEnv, fakes: FakeStack) -> str:
    """A user with a Hugging Face token and a Google service-account key."""
    user_id = await env.new_user(hf=True)
    key = fakes.google_oauth.state.new_service_account()
    await env.vault.credentials.add(user_id, "gcp", SecretStr(key))
    return user_id


async def _deploy(env: PipelineEnv, user_id: str, target: Any, **kw: Any) -> DeploymentView:
    plan = deployment_plan(target, **kw)
    return await api.create_deployment(env.pipe, user_id=user_id, plan=plan)


async def _events(deployment_id: str) -> list[ProgressEvent]:
    return [event async for event in api.read_progress(deployment_id)]


def _stages(events: list[ProgressEvent]) -> list[str]:
    return [e.stage for e in events if isinstance(e, StageChanged)]


def _failure(events: list[ProgressEvent]) -> str:
    last = events[-1]
    assert isinstance(last, Failed), last
    return last.failure.text()


def _resources(fakes: FakeStack) -> int:
    """Endpoints and services that exist at either provider."""
    return len(fakes.hf_endpoints.live()) + len(fakes.cloudrun.services)


# ---- deployed to ready, then torn down to zero --------------------------------------------
async def test_hugging_face_deploys_to_ready_and_tears_down_to_zero(
    pipeline: PipelineEnv, fakes: FakeStack, targets: PipelineServices
) -> None:
    user_id = await _user(pipeline, fakes)
    view = await _deploy(pipeline, user_id, "huggingface")
    assert await api.wait_deployment(view.id) == "ready"
    events = await _events(view.id)
    assert _stages(events) == ["creating_endpoint", "waiting", "smoke_test"]
    done = events[-1]
    assert isinstance(done, Completed) and "generated_text" in done.smoke_output
    record = await targets.deployments.get(view.id, user_id=None)
    name = endpoint_name(view.id)
    assert (record.state, record.endpoint_id) == ("ready", name)
    [endpoint] = fakes.hf_endpoints.live()
    assert endpoint.raw["name"] == name and record.urls == {"base": endpoint.raw["status"]["url"]}
    assert done.urls == record.urls and record.urls["base"].startswith("http://127.0.0.1:")
    made = [(e.resource, e.id) for e in events if isinstance(e, ResourceCreated)]
    assert made == [("endpoint", name)]
    assert len(fakes.hf_endpoints.calls_to("POST /v2/endpoint/{namespace}")) == 1
    assert record.cost_accrued_to is not None and cost.running_cost_known(record)
    status = await api.deployment_status(targets, user_id, view.id)
    assert status.running_usd_per_hour == 0.8 and status.workers is None
    report = await api.teardown(pipeline.pipe, user_id, view.id)
    assert report.failure is None and report.removed == (f"Hugging Face endpoint {name}",)
    assert _resources(fakes) == 0
    gone = await targets.deployments.get(view.id, user_id=None)
    assert gone.state == "torn_down" and "Hugging Face's bill not read" in cost.spent_text(gone)


async def test_cloud_run_builds_to_artifact_registry_deploys_and_tears_down_to_zero(
    pipeline: PipelineEnv, fakes: FakeStack, targets: PipelineServices, images: PushedImages
) -> None:
    user_id = await _user(pipeline, fakes)
    view = await _deploy(pipeline, user_id, "cloudrun")
    assert await api.wait_deployment(view.id) == "ready"
    events = await _events(view.id)
    assert _stages(events) == ["building", "creating_endpoint", "waiting", "smoke_test"]
    record = await targets.deployments.get(view.id, user_id=None)
    registry_host = pipeline.settings.artifact_registry_base_url.split("://")[-1]
    # Pushed once, to Artifact Registry in the key's project, as oauth2accesstoken.
    assert images.pushed == [(record.image, "oauth2accesstoken")]
    assert record.image and record.image.startswith(f"{registry_host}/kriptik-demo/kriptik/")
    assert fakes.artifact_registry.calls_to("GET /v2/token")
    service_id = service_id_for(view.id)
    [service] = fakes.cloudrun.services.values()
    assert service.service_id == service_id == record.endpoint_id
    assert service.body["template"]["containers"][0]["image"] == record.image
    assert record.state == "ready" and record.urls == {"base": service.uri}
    done = events[-1]
    assert isinstance(done, Completed) and '"echo"' in done.smoke_output
    assert not cost.running_cost_known(record)  # 0..1 instances: Cloud Run does not say
    assert cost.spent_text(record).startswith("unknown")
    status = await api.deployment_status(targets, user_id, view.id)
    assert status.note and "unknown" in status.note
    report = await api.teardown(pipeline.pipe, user_id, view.id, remove_image=True)
    assert report.failure is None and report.removed == (f"Cloud Run service {service_id}",)
    assert any("stays in Artifact Registry" in note for note in report.notes)
    assert _resources(fakes) == 0


# ---- faults: failed with the provider's words, nothing left --------------------------------
@pytest.mark.parametrize(
    ("fault", "words"),
    [
        ("failed_load", "failed to load on Hugging Face: CUDA out of memory"),
        ("quota", "GPU quota is used up"),
        ("unavailable", "No NVIDIA L4 is available in aws us-east-1"),
    ],
)
async def test_a_hugging_face_fault_ends_failed_with_its_message_and_nothing_left(
    pipeline: PipelineEnv, fakes: FakeStack, targets: PipelineServices, fault: str, words: str
) -> None:
    ie = fakes.hf_endpoints
    if fault == "failed_load":
        ie.failing_models[LLAMA] = "CUDA out of memory"
    elif fault == "quota":
        ie.quota["nvidia-l4"] = 0
    else:
        ie.set_status(HF_L4_HARDWARE, "not_available")
    user_id = await _user(pipeline, fakes)
    view = await _deploy(pipeline, user_id, "huggingface")
    assert await api.wait_deployment(view.id) == "failed"
    assert words in _failure(await _events(view.id))
    record = await targets.deployments.get(view.id, user_id=None)
    assert record.state == "failed" and words in (record.message or "")
    assert (record.workers_min, record.workers_max) == (0, 0)
    assert _resources(fakes) == 0


@pytest.mark.parametrize(
    ("fault", "words"),
    [
        ("crash", "did not start"),
        ("quota", "Quota exceeded"),
        ("no_gpu", "not supported in region 'us-central1'"),
    ],
)
async def test_a_cloud_run_fault_ends_failed_with_its_message_and_nothing_left(
    pipeline: PipelineEnv, fakes: FakeStack, targets: PipelineServices, images: PushedImages,
    fault: str, words: str,
) -> None:  # fmt: skip
    run = fakes.cloudrun
    if fault == "crash":
        images.on_push = run.crashing_images.add
    elif fault == "quota":
        run.gpu_quota["us-central1"] = 0
    else:
        run.gpu_regions.discard("us-central1")
    user_id = await _user(pipeline, fakes)
    view = await _deploy(pipeline, user_id, "cloudrun")
    assert await api.wait_deployment(view.id) == "failed"
    text = _failure(await _events(view.id))
    assert words in text, text
    record = await targets.deployments.get(view.id, user_id=None)
    assert record.state == "failed" and (record.workers_min, record.workers_max) == (0, 0)
    assert _resources(fakes) == 0


# ---- a revoked credential: needs_key, then a new key resumes it ---------------------------
async def _wait_for_needs_key(deployment_id: str) -> NeedsKey:
    async for event in api.read_progress(deployment_id):
        if isinstance(event, NeedsKey):
            return event
    raise AssertionError("the deployment ended without asking for a key")


async def test_a_revoked_hugging_face_token_parks_in_needs_key_until_a_new_one(
    pipeline: PipelineEnv, fakes: FakeStack, targets: PipelineServices
) -> None:
    user_id = await _user(pipeline, fakes)
    hub = fakes.huggingface
    [old_token] = list(hub.users)
    fakes.hf_endpoints.revoke(old_token)
    view = await _deploy(pipeline, user_id, "huggingface")
    asked = await _wait_for_needs_key(view.id)
    assert asked.provider == "Hugging Face" and "kriptik keys add huggingface" in asked.message
    record = await targets.deployments.get(view.id, user_id=None)
    assert record.state == "needs_key" and _resources(fakes) == 0
    hub.add_token(NEW_HF_TOKEN, HfUser(role="write"))
    await pipeline.vault.credentials.add(user_id, "huggingface", SecretStr(NEW_HF_TOKEN))
    assert await api.resume_after_new_key(targets, user_id) == [view.id]
    assert await api.wait_deployment(view.id) == "ready"
    assert len(fakes.hf_endpoints.live()) == 1
    await api.teardown(pipeline.pipe, user_id, view.id)
    assert _resources(fakes) == 0


async def test_a_revoked_service_account_key_parks_in_needs_key_until_a_new_one(
    pipeline: PipelineEnv, fakes: FakeStack, targets: PipelineServices
) -> None:
    user_id = await pipeline.new_user(hf=True)
    gcp = fakes.google_oauth.state
    await pipeline.vault.credentials.add(user_id, "gcp", SecretStr(gcp.new_service_account()))
    [email] = list(gcp.accounts)
    gcp.revoke(email)
    view = await _deploy(pipeline, user_id, "cloudrun")
    asked = await _wait_for_needs_key(view.id)
    assert asked.provider == "Google Cloud" and "kriptik keys add gcp" in asked.message
    record = await targets.deployments.get(view.id, user_id=None)
    assert record.state == "needs_key" and _resources(fakes) == 0
    new_key = gcp.new_service_account(name="kriptik-deployer-2")
    await pipeline.vault.credentials.add(user_id, "gcp", SecretStr(new_key))
    assert await api.resume_after_new_key(targets, user_id) == [view.id]
    assert await api.wait_deployment(view.id) == "ready"
    assert len(fakes.cloudrun.services) == 1
    await api.teardown(pipeline.pipe, user_id, view.id)
    assert _resources(fakes) == 0


# ---- cancel while waiting; the lifetime's own teardown ------------------------------------
async def test_cancelled_while_waiting_deletes_the_endpoint(
    pipeline: PipelineEnv, fakes: FakeStack, targets: PipelineServices
) -> None:
    fakes.hf_endpoints.knobs.polls_per_state = 10**6  # it stays pending
    user_id = await _user(pipeline, fakes)
    view = await _deploy(pipeline, user_id, "huggingface")
    async for event in api.read_progress(view.id):
        if isinstance(event, StageChanged) and event.stage == "waiting":
            break
    await api.cancel_deployment(view.id)
    assert await api.wait_deployment(view.id) == "cancelled"
    record = await targets.deployments.get(view.id, user_id=None)
    assert record.state == "cancelled" and _resources(fakes) == 0


async def test_the_lifetime_tears_a_target_deployment_down_at_its_time_to_live(
    pipeline: PipelineEnv, fakes: FakeStack, targets: PipelineServices
) -> None:
    timings = dataclasses.replace(FAST, activity_poll_s=0.01)
    pipeline.use(**_fields(targets), clock=TickingClock(step_s=30), timings=timings)
    user_id = await _user(pipeline, fakes)
    view = await _deploy(pipeline, user_id, "huggingface", ttl_s=600)
    assert await api.wait_deployment(view.id) == "ready"
    lifetime: WorkflowHandleAsync[str] = await DBOS.retrieve_workflow_async(lifetime_id(view.id))
    assert await lifetime.get_result() == "torn_down"
    record = await targets.deployments.get(view.id, user_id=None)
    assert record.state == "torn_down" and _resources(fakes) == 0
    assert record.cost_usd > 0  # 0.8 $/h over the minutes the ticking clock ran


def _fields(services: PipelineServices) -> dict[str, Any]:
    return {"targets": services.targets, "images": services.images,
            "cloudrun_registry": services.cloudrun_registry}  # fmt: skip


# ---- secrets stay out of what the workflow records -----------------------------------------
async def test_no_key_or_token_reaches_the_workflow_records_or_progress(
    pipeline: PipelineEnv, fakes: FakeStack, targets: PipelineServices
) -> None:
    user_id = await _user(pipeline, fakes)
    views = [await _deploy(pipeline, user_id, target) for target in ("huggingface", "cloudrun")]
    assert [await api.wait_deployment(v.id) for v in views] == ["ready", "ready"]
    events = [e for v in views for e in await _events(v.id)]
    gcp = fakes.google_oauth.state
    key = json.loads((await pipeline.vault.credentials.get(user_id, "gcp")).get_secret_value())
    planted = [DEFAULT_TOKEN, key["private_key"].splitlines()[1], *gcp.access_tokens,
               *gcp.id_tokens]  # fmt: skip
    assert len(planted) >= 4  # an access token (API, registry) and an ID token were minted
    url = api.system_database_url(pipeline.settings.resolved_database_url)
    system_db = Path(url.removeprefix("sqlite://"))
    recorded = b"".join(p.read_bytes() for p in system_db.parent.glob(system_db.name + "*"))
    assert views[1].id.encode() in recorded and b"kriptik.target.poll" in recorded
    shown = json.dumps([e.model_dump(mode="json") for e in events])
    for secret in planted:
        assert secret.encode() not in recorded and secret not in shown
    for view in views:
        await api.teardown(pipeline.pipe, user_id, view.id)
    assert _resources(fakes) == 0


async def test_the_composition_root_gives_the_pipeline_both_targets_and_artifact_registry(
    pipeline: PipelineEnv, hf_root: None, images: PushedImages
) -> None:
    root = Root(pipeline.settings, pipeline.vault, pipeline.http)
    named = StaticRegistry("r.test", "ns")
    try:
        built = root.pipeline_services(images=images)
        # A registry the caller names (`kriptik deploy --registry`) holds for Cloud Run too.
        assert root.pipeline_services(images=images, registry=named).cloudrun_registry is named
    finally:
        root.stop_listening()
    assert {name: t.credential for name, t in built.targets.items()} == {
        "huggingface": "huggingface", "cloudrun": "gcp", "sagemaker": "aws",
    }  # fmt: skip
    registry = built.cloudrun_registry
    assert isinstance(registry, ArtifactRegistryAccess)
    assert registry.in_region("europe-west4").host == registry.host  # the fake has one host
    assert registry.token_url == pipeline.settings.google_oauth_token_url
    real = dataclasses.replace(registry, base_url="https://{region}-docker.pkg.dev")
    assert real.in_region("europe-west4").host == "europe-west4-docker.pkg.dev"


def test_the_target_plan_restates_the_approved_plan() -> None:
    plan = deployment_plan("cloudrun", workers_min=1, workers_max=3)
    made = target_plan_of(plan, "dep-1", "r.test/p/kriptik/w:1")
    assert (made.deployment_id, made.repo_id, made.task, made.gpu) == (
        "dep-1", LLAMA, "text-generation", plan.target_gpu,
    )  # fmt: skip
    assert (made.min_replicas, made.max_replicas, made.image) == (1, 3, "r.test/p/kriptik/w:1")
    assert made.idle_scale_to_zero_s == 300  # the plan's idle time (never under a minute)
    quick = plan.model_copy(update={"idle_timeout_s": 5})
    assert target_plan_of(quick, "dep-1", None).idle_scale_to_zero_s == 60
    with pytest.raises(ValueError, match="no deploy-target offer"):
        target_plan_of(plan.model_copy(update={"target": "runpod"}), "dep-1", None)
