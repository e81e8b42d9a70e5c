"""The deployment workflow against the contract-checked RunPod fake: the LLM path end to end
(no build), idempotency, progress events, caps and teardown."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.pipeline.conftest import PipelineEnv, caps
from tests.pipeline.fakes import DeployRunPodFake, WorkerScript
from tools.artifacts.worker.base_images import base_image, find_image
from tools.pipeline import api
from tools.pipeline.durable import DeploymentPipeline
from tools.pipeline.events import Completed, ProgressEvent, ResourceCreated, StageChanged
from tools.pipeline.plan import DeployRequest, PlanError, plan_deployment
from tools.pipeline.services import PipelineServices
from tools.simulator.all import FakeStack
from tools.simulator.runpod import DEFAULT_KEY
from vault.deployments import DeploymentCapReached, DeploymentView

LLM = "kriptik-test/tiny-llama"


async def deploy(
    pipe: DeploymentPipeline, user: str, repo: str = LLM, **request: Any
) -> tuple[DeploymentView, list[ProgressEvent], str]:
    plan = await plan_deployment(pipe.services, user, DeployRequest(repo_id=repo, **request))
    view = await api.create_deployment(pipe, user_id=user, plan=plan, thread_id="thread-1")
    events = [event async for event in api.read_progress(view.id)]
    return view, events, await api.wait_deployment(view.id)


async def test_an_llm_deploys_on_the_prebuilt_vllm_image(
    pipeline: PipelineEnv, services: Callable[..., PipelineServices], fakes: FakeStack
) -> None:
    svc = services()
    user = await pipeline.new_user()
    view, events, outcome = await deploy(pipeline.pipe, user)
    assert outcome == "ready"
    record = await svc.deployments.get(view.id, user_id=user)
    state = fakes.runpod.state
    assert record.state == "ready" and record.thread_id == "thread-1"
    assert [t["id"] for t in state.templates.values()] == [record.template_id]
    assert list(state.endpoints) == [record.endpoint_id]
    template = next(iter(state.templates.values()))
    assert template["name"] == record.name == f"kriptik-kriptik-test-tiny-llama-{view.id}"
    assert template["image"].startswith("runpod/worker-v1-vllm:")
    assert template["env"]["MODEL_NAME"] == LLM
    assert template["env"]["MODEL_REVISION"] == fakes.huggingface.repos[LLM].sha
    assert "HF_TOKEN" not in template["env"]  # a public model needs no token
    endpoint = state.endpoints[record.endpoint_id or ""].data
    assert endpoint["workers"] == {"min": 0, "max": 1, "idleTimeout": 5}
    assert endpoint["gpu"]["pools"] == record.gpu_pools and endpoint["flashboot"] == "FLASHBOOT"
    # The image is the table's, and RunPod is told the host CUDA it needs (the fake got it).
    assert find_image(template["image"]) == base_image("vllm")
    assert endpoint["gpu"]["minCudaVersion"] == base_image("vllm").min_cuda == "13.0"
    assert record.urls["openai"].endswith(f"/{record.endpoint_id}/openai/v1")
    assert record.urls["runSync"].endswith(f"/{record.endpoint_id}/runsync")
    smoke = [job.input for job in state.endpoints[record.endpoint_id or ""].jobs.values()]
    assert smoke == [{"prompt": "Say hello in five words.", "sampling_params": {"max_tokens": 16}}]
    stages = [e.stage for e in events if isinstance(e, StageChanged)]
    assert stages == ["creating_template", "creating_endpoint", "waiting", "smoke_test"]
    made = [(e.resource, e.id) for e in events if isinstance(e, ResourceCreated)]
    assert made == [("template", record.template_id), ("endpoint", record.endpoint_id)]
    assert isinstance(events[-1], Completed) and events[-1].endpoint_id == record.endpoint_id


async def test_starting_again_or_rerunning_steps_creates_nothing_twice(
    pipeline: PipelineEnv, services: Callable[..., PipelineServices], fakes: FakeStack
) -> None:
    from tools.pipeline import endpoint_steps, steps

    svc = services()
    user = await pipeline.new_user()
    view, _, _ = await deploy(pipeline.pipe, user)
    await pipeline.pipe.start_deployment(
        view.id
    )  # the same workflow id: DBOS returns the finished run
    assert await api.wait_deployment(view.id) == "ready"
    # Each create step run again outside the workflow (as after a crash) finds its resource.
    assert (await steps.ensure_template(svc, view.id)).failure is None
    assert (await endpoint_steps.ensure_endpoint(svc, view.id)).failure is None
    assert len(fakes.runpod.state.templates) == len(fakes.runpod.state.endpoints) == 1
    assert len(fakes.runpod.calls_to("POST /v2/templates")) == 1
    assert len(fakes.runpod.calls_to("POST /v2/serverless")) == 1


async def test_workers_stages_are_reported_in_order(
    pipeline: PipelineEnv, services: Callable[..., PipelineServices], runpod: DeployRunPodFake
) -> None:
    services()
    runpod.script = WorkerScript(["INITIALIZING", "THROTTLED", "PLACED", "PLACED", "IDLE"])
    _, events, outcome = await deploy(pipeline.pipe, await pipeline.new_user())
    assert outcome == "ready"
    seen = [e.stage for e in events if e.kind == "workers"]
    assert seen == ["initializing", "throttled", "pulling", "ready"]


async def test_caps_refuse_a_third_live_deployment_and_too_many_workers(
    pipeline: PipelineEnv, services: Callable[..., PipelineServices]
) -> None:
    svc = services()
    user = await pipeline.new_user()
    # The caps are the user's limits, as an admin set them (vault.limits).
    await pipeline.vault.limits.set_by_admin(user, max_live=1, max_workers=2)
    await deploy(pipeline.pipe, user)
    plan = await plan_deployment(svc, user, DeployRequest(repo_id=LLM))
    with pytest.raises(DeploymentCapReached, match="1 live deployment"):
        await api.create_deployment(pipeline.pipe, user_id=user, plan=plan)
    with pytest.raises(PlanError, match="your limit is 2 per endpoint"):
        await plan_deployment(svc, user, DeployRequest(repo_id=LLM, workers_max=3))


async def test_teardown_removes_everything_and_is_idempotent(
    pipeline: PipelineEnv, services: Callable[..., PipelineServices], fakes: FakeStack
) -> None:
    svc = services()
    user = await pipeline.new_user()
    view, _, _ = await deploy(pipeline.pipe, user)
    report = await api.teardown(pipeline.pipe, user, view.id)
    assert report.failure is None
    assert any(r.startswith("endpoint ") for r in report.removed)
    assert any(r.startswith("template ") for r in report.removed)
    assert fakes.runpod.state.endpoints == {} and fakes.runpod.state.templates == {}
    scale = [c.json() for c in fakes.runpod.calls_to("PATCH /v2/serverless/{id}")]
    assert scale == [{"workers": {"min": 0, "max": 0}}]  # to zero before the delete
    record = await svc.deployments.get(view.id, user_id=user)
    assert record.state == "torn_down" and record.ended_at is not None
    again = await api.teardown(pipeline.pipe, user, view.id)
    assert again.removed == () and again.failure is None


async def test_teardown_while_waiting_stops_the_workflow_and_leaves_nothing(
    pipeline: PipelineEnv, services: Callable[..., PipelineServices], runpod: DeployRunPodFake
) -> None:
    svc = services()
    user = await pipeline.new_user()
    runpod.hold()
    plan = await plan_deployment(svc, user, DeployRequest(repo_id=LLM))
    view = await api.create_deployment(pipeline.pipe, user_id=user, plan=plan)
    async for event in api.read_progress(view.id):
        if event.kind == "workers":
            break
    report = await api.teardown(pipeline.pipe, user, view.id)
    assert report.failure is None
    assert runpod.state.endpoints == {} and runpod.state.templates == {}
    assert (await svc.deployments.get(view.id, user_id=user)).state == "torn_down"


async def test_cancel_while_waiting_scales_to_zero(
    pipeline: PipelineEnv, services: Callable[..., PipelineServices], runpod: DeployRunPodFake
) -> None:
    svc = services()
    user = await pipeline.new_user()
    runpod.hold()
    plan = await plan_deployment(svc, user, DeployRequest(repo_id=LLM))
    view = await api.create_deployment(pipeline.pipe, user_id=user, plan=plan)
    async for event in api.read_progress(view.id):
        if event.kind == "workers":
            await api.cancel_deployment(view.id)
    assert await api.wait_deployment(view.id) == "cancelled"
    record = await svc.deployments.get(view.id, user_id=user)
    assert record.state == "cancelled"
    endpoint = runpod.state.endpoints[record.endpoint_id or ""].data
    assert endpoint["workers"]["max"] == 0


async def test_status_and_reminders_show_what_still_costs(
    pipeline: PipelineEnv, services: Callable[..., PipelineServices]
) -> None:
    from tools.pipeline.reminders import running_reminders

    svc = services()
    user = await pipeline.new_user()
    view, _, _ = await deploy(pipeline.pipe, user)
    status = await api.deployment_status(svc, user, view.id)
    assert status.workers is not None and status.workers["idle"] == 1
    assert status.running_usd_per_hour == pytest.approx(view.usd_per_second * 3600)
    [reminder] = await running_reminders(svc, user)
    assert reminder.deployment_id == view.id
    assert f"kriptik deployments teardown {view.id}" in reminder.text
    await api.teardown(pipeline.pipe, user, view.id)
    assert await running_reminders(svc, user) == []


async def test_another_users_deployment_is_invisible(
    pipeline: PipelineEnv, services: Callable[..., PipelineServices]
) -> None:
    from vault.deployments import DeploymentNotFound

    svc = services()
    owner, other = await pipeline.new_user(), await pipeline.new_user()
    view, _, _ = await deploy(pipeline.pipe, owner)
    with pytest.raises(DeploymentNotFound):
        await api.teardown(pipeline.pipe, other, view.id)
    with pytest.raises(DeploymentNotFound):
        await api.deployment_status(svc, other, view.id)
    assert DEFAULT_KEY  # both users hold the same test key; ownership is by record


async def test_a_record_whose_workflow_never_started_is_adopted_at_launch(
    pipeline: PipelineEnv, services: Callable[..., PipelineServices], fakes: FakeStack
) -> None:
    from datetime import timedelta

    from tools.artifacts.worker import resource_name
    from vault.models import new_id, utcnow

    svc = services()
    user = await pipeline.new_user()
    plan = await plan_deployment(svc, user, DeployRequest(repo_id=LLM))
    fields = {"repo_id": LLM, "revision": plan.worker.revision, "kind": "vllm",
              "gpu_pools": [plan.pool], "plan": plan.model_dump(mode="json")}  # fmt: skip
    old, fresh = new_id(), new_id()
    for deployment_id, age in ((old, timedelta(minutes=5)), (fresh, timedelta(seconds=5))):
        await svc.deployments.create(
            user, caps=caps(max_live=5), deployment_id=deployment_id, created_at=utcnow() - age,
            name=resource_name(deployment_id, LLM), **fields,
        )  # fmt: skip
    assert await api.adopt_orphans(pipeline.pipe) == [old]  # the fresh one may be another process's
    assert await api.wait_deployment(old) == "ready"
    assert len(fakes.runpod.state.endpoints) == 1
