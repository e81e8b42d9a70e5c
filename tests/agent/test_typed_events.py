"""The agent turns the tools' typed results into typed UI events: the VRAM summary, the GPU
chosen and a deployment started, chosen by the result's type, never by the tool's name."""

from __future__ import annotations

from typing import Any

import httpx

from agent.events import (
    DeploymentStarted,
    GpuChoice,
    ToolFinished,
    UIEvent,
    VramEstimate,
)
from agent.scripted import Call, Reply, ScriptedInteraction
from agent.state import TurnState
from agent.tool_events import result_events, started_sink
from tests.agent.conftest import Chat
from tools.model_results import GpuPlan, VramSummary
from tools.services import LiveServices
from tools.simulator.all import FakeStack
from vault import Settings, UserView, Vault

REPO = "kriptik-test/tiny-llama"
SUMMARY = VramSummary(
    dtype="bf16", context_tokens=4096, batch=1, total_gb=17.2, band_low_gb=15.64,
    band_high_gb=17.72, weights_gb=15.2, kv_cache_gb=0.2, activations_gb=0.6, overhead_gb=1.2,
    basis="transformer",
)  # fmt: skip


async def test_sizing_results_become_a_vram_estimate_and_a_gpu_choice(
    chat: Any, fakes: FakeStack
) -> None:
    c: Chat = chat([
        Call(tool="estimate_vram", args={"repo_id": REPO}),
        Call(tool="choose_gpu", args={"repo_id": REPO}),
        Reply(text="It fits."),
    ])  # fmt: skip
    turn = await c.turn(f"How much memory does {REPO} need?")

    kinds = [type(e) for e in turn.events if isinstance(e, ToolFinished | VramEstimate | GpuChoice)]
    assert kinds == [ToolFinished, VramEstimate, ToolFinished, GpuChoice]
    [estimate] = turn.of(VramEstimate)
    [finished, _] = turn.of(ToolFinished)
    assert estimate.tool_call_id == finished.tool_call_id and estimate.repo_id == REPO
    assert isinstance(estimate.summary, VramSummary) and estimate.summary.total_gb > 0
    parts = estimate.summary.weights_gb + estimate.summary.kv_cache_gb
    assert parts <= estimate.summary.total_gb
    # The event carries the band, and the GPU was chosen on its upper end.
    summary = estimate.summary
    assert summary.band_low_gb < summary.total_gb < summary.band_high_gb
    [choice] = turn.of(GpuChoice)
    assert choice.plan.fits and choice.plan.pool and choice.plan.required_gb > 0
    assert choice.plan.estimate_gb == summary.total_gb
    assert choice.plan.required_gb == summary.band_high_gb
    assert turn.final.text == "It fits."


def test_the_event_follows_the_result_type_not_the_tool_name() -> None:
    plan = GpuPlan(
        fits=True, message="fits", estimate_gb=17.2, required_gb=17.72, pool="ADA_24", gpu_count=1,
        usd_per_hour_running=0.7, usd_per_request=0.0004, usd_per_hour_always_on=None,
        alternatives=[], max_context_that_fits=None, prices_as_of="2026-01-01",
    )  # fmt: skip
    [vram] = result_events("call-1", SUMMARY, {"repo_id": "org/m"})
    assert isinstance(vram, VramEstimate) and vram.repo_id == "org/m" and vram.summary == SUMMARY
    [gpu] = result_events("call-2", plan, {})
    assert isinstance(gpu, GpuChoice) and gpu.plan.pool == "ADA_24"
    # Text that merely looks like a summary carries nothing: only typed results do.
    assert result_events("call-3", SUMMARY.model_dump_json(), {"repo_id": "org/m"}) == []
    assert result_events("call-4", {"pool": "ADA_24"}, {}) == []


async def test_a_started_deployment_reaches_the_ui_as_an_event(
    agent_vault: Vault, agent_settings: Settings, user: UserView, http: httpx.AsyncClient
) -> None:
    emitted: list[UIEvent] = []
    state = TurnState(
        user_id=user.id, user_name=user.name, thread_id="thread-1",
        audit=agent_vault.audit, interaction=ScriptedInteraction(),
        key_service=LiveServices(agent_vault, agent_settings, http), emit=emitted.append,
    )  # fmt: skip
    await started_sink(state)("dep-1", tool_call_id="call-9")
    assert emitted == [DeploymentStarted(tool_call_id="call-9", deployment_id="dep-1")]
