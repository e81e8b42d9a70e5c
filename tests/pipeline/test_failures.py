"""Each failure users meet, driven through the real workflow against the fakes: what the
user is told, and that no worker is left able to bill."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pydantic import SecretStr

from tests.pipeline.conftest import PipelineEnv, TickingClock
from tests.pipeline.fakes import DeployRunPodFake, WorkerScript
from tests.pipeline.test_workflow import LLM, deploy
from tools.pipeline import api
from tools.pipeline.events import Failed, Failure, NeedsKey, ProgressEvent
from tools.pipeline.handle import PipelineHandle
from tools.pipeline.plan import DeployRequest, PlanError, plan_deployment
from tools.pipeline.services import PipelineServices
from tools.simulator.all import FakeStack
from tools.simulator.runpod import DEFAULT_KEY
from ui.root import Root


def _failure(events: list[ProgressEvent]) -> Failure:
    last = events[-1]
    assert isinstance(last, Failed), events
    return last.failure


async def _scaled_to_zero(svc: PipelineServices, runpod: DeployRunPodFake, view_id: str) -> None:
    record = await svc.deployments.get(view_id, user_id=None)
    assert record.state == "failed" and record.workers_max == 0
    assert runpod.state.endpoints[record.endpoint_id or ""].data["workers"]["max"] == 0


@pytest.mark.parametrize(
    ("logs", "tip"),
    [
        (
            [
                "Loading safetensors",
                "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB",
            ],
            "Deploy on ",
        ),
        (
            [
                "ValueError: The model's max seq len (8192) is larger than the maximum number of "
                "tokens that can be stored in KV cache (5120). Try increasing gpu_memory_utilization"
            ],
            "MAX_MODEL_LEN to 5120 tokens or fewer",
        ),
    ],
)
async def test_out_of_memory_at_load_suggests_a_bigger_pool_or_a_shorter_context(
    pipeline: PipelineEnv,
    services: Callable[..., PipelineServices],
    runpod: DeployRunPodFake,
    logs: list[str],
    tip: str,
) -> None:
    svc = services()
    runpod.script = WorkerScript(["INITIALIZING", "PLACED", "UNHEALTHY"], logs=logs)
    view, events, outcome = await deploy(pipeline.pipe, await pipeline.new_user())
    assert outcome == "failed"
    failure = _failure(events)
    assert failure.reason == "oom"
    assert failure.message.startswith("The model ran out of GPU memory while loading on ")
    assert any(tip in s for s in failure.suggestions), failure.suggestions
    await _scaled_to_zero(svc, runpod, view.id)


async def test_the_next_pool_offered_after_oom_is_bigger(
    pipeline: PipelineEnv, services: Callable[..., PipelineServices], runpod: DeployRunPodFake
) -> None:
    services()
    runpod.script = WorkerScript(["UNHEALTHY"], logs=["CUDA out of memory"])
    view, events, _ = await deploy(pipeline.pipe, await pipeline.new_user())
    plan = view.plan
    chosen = next(o for o in plan["options"] if o["pool_id"] == plan["pool"])
    tip = _failure(events).suggestions[0]
    offered = next(o for o in plan["options"] if f"Deploy on {o['pool_id']} " in tip)
    assert offered["memory_gb"] > chosen["memory_gb"]


async def test_a_gated_model_refused_at_the_worker_says_how_to_accept_the_licence(
    pipeline: PipelineEnv, services: Callable[..., PipelineServices], runpod: DeployRunPodFake
) -> None:
    services()
    runpod.script = WorkerScript(
        ["PLACED", "UNHEALTHY"],
        logs=[
            "huggingface_hub.errors.GatedRepoError: 401 Client Error. Cannot access gated "
            f"repo for url https://huggingface.co/{LLM}/resolve/main/config.json"
        ],
    )
    _, events, _ = await deploy(pipeline.pipe, await pipeline.new_user())
    failure = _failure(events)
    assert failure.reason == "gated"
    assert f"https://huggingface.co/{LLM}" in failure.suggestions[0]


async def test_a_gated_model_without_access_is_refused_before_anything_is_created(
    pipeline: PipelineEnv, services: Callable[..., PipelineServices], fakes: FakeStack
) -> None:
    svc = services()
    with pytest.raises(PlanError, match=r"gated: open https://huggingface.co/kriptik-test/gated"):
        await plan_deployment(
            svc, await pipeline.new_user(), DeployRequest(repo_id="kriptik-test/gated-llama")
        )
    assert fakes.runpod.state.templates == {} and fakes.runpod.state.endpoints == {}


async def test_an_image_that_cannot_be_pulled_points_at_registry_auth(
    pipeline: PipelineEnv, services: Callable[..., PipelineServices], runpod: DeployRunPodFake
) -> None:
    services()
    runpod.script = WorkerScript(
        ["PLACED", "UNHEALTHY"],
        logs=[
            "error pulling image: Error response from daemon: pull access denied for "
            "ghcr.io/me/kriptik-x, repository does not exist or may require 'docker login': "
            "denied: requested access to the resource is denied"
        ],
    )
    _, events, _ = await deploy(pipeline.pipe, await pipeline.new_user())
    failure = _failure(events)
    assert failure.reason == "image_pull_auth"
    assert "registry credentials" in failure.suggestions[0]


async def test_no_capacity_suggests_other_pools_and_bills_nothing(
    pipeline: PipelineEnv, services: Callable[..., PipelineServices], runpod: DeployRunPodFake
) -> None:
    svc = services(clock=TickingClock(step_s=60))
    runpod.script = WorkerScript(["THROTTLED"])
    view, events, outcome = await deploy(pipeline.pipe, await pipeline.new_user())
    assert outcome == "failed"
    failure = _failure(events)
    assert failure.reason == "throttled"
    assert "had no free" in failure.message and "Nothing was billed" in failure.message
    assert failure.suggestions[0].startswith("Deploy on ")
    assert view.plan["pool"] not in failure.suggestions[0]
    record = await svc.deployments.get(view.id, user_id=None)
    assert record.cost_usd == 0.0
    polls = len(runpod.calls_to("GET /v2/serverless/{id}/workers"))
    assert polls == 11  # 600 s of grace on a clock that moves 60 s per poll


async def test_workers_that_keep_failing_for_no_known_reason_show_the_last_log_lines(
    pipeline: PipelineEnv, services: Callable[..., PipelineServices], runpod: DeployRunPodFake
) -> None:
    services(clock=TickingClock(step_s=60))
    runpod.script = WorkerScript(["UNHEALTHY"], logs=["ImportError: no module named foo"])
    _, events, _ = await deploy(pipeline.pipe, await pipeline.new_user())
    failure = _failure(events)
    assert failure.reason == "crashed"
    assert "ImportError: no module named foo" in failure.message


async def test_a_worker_that_never_comes_up_times_out(
    pipeline: PipelineEnv, services: Callable[..., PipelineServices], runpod: DeployRunPodFake
) -> None:
    services(clock=TickingClock(step_s=300))
    runpod.script = WorkerScript(["PLACED"])
    _, events, _ = await deploy(pipeline.pipe, await pipeline.new_user())
    failure = _failure(events)
    assert failure.reason == "timeout"
    assert "No worker became ready in 30 minutes (last seen: pulling)" in failure.message


async def test_a_401_part_way_waits_for_a_new_key_then_resumes(
    pipeline: PipelineEnv, services: Callable[..., PipelineServices], runpod: DeployRunPodFake
) -> None:
    svc = services()
    user = await pipeline.new_user()
    runpod.fail("GET /v2/serverless/{id}/workers", 401)
    plan = await plan_deployment(svc, user, DeployRequest(repo_id=LLM))
    view = await api.create_deployment(pipeline.pipe, user_id=user, plan=plan)
    events: list[ProgressEvent] = []
    async for event in api.read_progress(view.id):
        events.append(event)
        if isinstance(event, NeedsKey):
            assert event.provider == "RunPod"
            assert "RunPod rejected" in event.message and "kriptik keys add runpod" in event.message
            record = await svc.deployments.get(view.id, user_id=user)
            assert record.state == "needs_key"
            assert await api.resume_after_new_key(svc, user) == [view.id]
    assert await api.wait_deployment(view.id) == "ready"
    assert any(isinstance(e, NeedsKey) for e in events)
    assert len(runpod.state.endpoints) == 1


async def test_a_key_stored_through_the_app_wakes_the_deployment_that_waits_for_it(
    pipeline: PipelineEnv, services: Callable[..., PipelineServices], runpod: DeployRunPodFake
) -> None:
    """No manual resume: the composition root hears the vault store a key (pasted, or an
    account connected) and wakes the user's deployments parked on a rejected one."""
    svc = services()
    root = Root(pipeline.settings, pipeline.vault, pipeline.http)
    root.pipeline = PipelineHandle.of(pipeline.pipe)
    user = await pipeline.new_user()
    runpod.fail("GET /v2/serverless/{id}/workers", 401)
    plan = await plan_deployment(svc, user, DeployRequest(repo_id=LLM))
    view = await api.create_deployment(pipeline.pipe, user_id=user, plan=plan)
    try:
        async for event in api.read_progress(view.id):
            if isinstance(event, NeedsKey):
                await pipeline.vault.credentials.add(user, "runpod", SecretStr(DEFAULT_KEY))
        assert await api.wait_deployment(view.id) == "ready"
    finally:
        root.stop_listening()
    assert len(runpod.state.endpoints) == 1


async def test_a_failing_smoke_test_fails_the_deployment_and_scales_it_to_zero(
    pipeline: PipelineEnv, services: Callable[..., PipelineServices], runpod: DeployRunPodFake
) -> None:
    def broken(job_input: Any) -> Any:
        raise ValueError("prompt must be a string")

    svc = services()
    runpod.state.handler = broken
    view, events, outcome = await deploy(pipeline.pipe, await pipeline.new_user())
    assert outcome == "failed"
    failure = _failure(events)
    assert failure.reason == "smoke_test"
    assert "ended FAILED: ValueError: prompt must be a string" in failure.message
    await _scaled_to_zero(svc, runpod, view.id)


async def test_a_generated_worker_without_a_docker_engine_offers_the_paths_that_need_none(
    pipeline: PipelineEnv, services: Callable[..., PipelineServices], runpod: DeployRunPodFake
) -> None:
    services(images=None, registry=None)
    view, events, outcome = await deploy(
        pipeline.pipe, await pipeline.new_user(), "kriptik-test/tiny-diffusion"
    )
    assert view.kind == "diffusers"
    assert outcome == "failed"
    failure = _failure(events)
    assert failure.reason == "no_engine"
    assert "build context and prints the exact docker commands" in failure.suggestions[0]
    assert "prebuilt vLLM image" in failure.suggestions[1]
    assert runpod.state.templates == {} and runpod.state.endpoints == {}


async def test_a_brief_runpod_outage_while_waiting_is_waited_out(
    pipeline: PipelineEnv, services: Callable[..., PipelineServices], runpod: DeployRunPodFake
) -> None:
    services()
    runpod.fail("GET /v2/serverless/{id}/workers", 503, times=3)
    _, events, outcome = await deploy(pipeline.pipe, await pipeline.new_user())
    assert outcome == "ready", events[-1]
    polls = runpod.calls_to("GET /v2/serverless/{id}/workers")
    assert [c.status for c in polls[:3]] == [503, 503, 503]


async def test_a_gated_llm_references_the_token_as_a_runpod_secret(
    pipeline: PipelineEnv, services: Callable[..., PipelineServices], fakes: FakeStack
) -> None:
    svc = services()
    fakes.huggingface.grant("kriptik-tester", "kriptik-test/gated-llama")
    user = await pipeline.new_user()
    plan = await plan_deployment(svc, user, DeployRequest(repo_id="kriptik-test/gated-llama"))
    assert plan.needs_token and "create a RunPod secret named hf_token" in plan.summary()
    _, _, outcome = await deploy(pipeline.pipe, user, "kriptik-test/gated-llama")
    assert outcome == "ready"
    [template] = fakes.runpod.state.templates.values()
    assert template["env"]["HF_TOKEN"] == "{{ RUNPOD_SECRET_hf_token }}"
    assert "hf_fake" not in str(template)
