"""One source of truth for the plan: the deployment plan's pick (`DeploymentPlan.gpu_pick`)
is what the approval card, the VRAM chart, the CLI's plan line and the stored record show,
so they name the same pool at the same price; and when the cheapest pool that fits has
no capacity at RunPod (the live catalogue says so), the plan passes it over and says so."""

from __future__ import annotations

from collections.abc import Callable

from agent.events import Approval
from tests.pipeline.conftest import PipelineEnv
from tests.pipeline.fakes import DeployRunPodFake
from tools.cards import GpuTerms
from tools.pipeline.plan import DeploymentPlan, DeployRequest, plan_deployment
from tools.pipeline.services import PipelineServices
from tools.pipeline_cards import _facts  # pyright: ignore[reportPrivateUsage]
from ui.web.approvals import card_for
from ui.web.charts import pick_props

TINY = "kriptik-test/tiny-llama"
NOTE = "16 GB (AMPERE_16) has no capacity now; using 24 GB (AMPERE_24) at $0.68/h"


def _approval(plan: DeploymentPlan) -> Approval:
    """The approval event of a deployment card, as `agent.approvals` makes it."""
    terms = GpuTerms(pool=plan.pool, gpu_count=plan.gpu_count, workers_min=plan.workers_min,
                     workers_max=plan.workers_max, need_gib=plan.required_gib,
                     low_gib=plan.vram_low_gib, high_gib=plan.vram_high_gib,
                     pick=plan.gpu_pick)  # fmt: skip
    return Approval(
        tool_call_id="c1", tool="create_runpod_endpoint", provider="RunPod",
        summary=f"Deploy {TINY}", creates=[], price=plan.summary(),
        usd_per_hour=plan.usd_per_hour, args={"repo_id": TINY}, facts=_facts(plan), gpu=terms,
    )  # fmt: skip


async def test_a_full_cheapest_pool_is_passed_over_and_every_view_says_the_same(
    pipeline: PipelineEnv, services: Callable[..., PipelineServices], runpod: DeployRunPodFake
) -> None:
    runpod.state.no_capacity = {"AMPERE_16"}
    plan = await plan_deployment(services(), await pipeline.new_user(), DeployRequest(repo_id=TINY))
    pick = plan.gpu_pick
    assert pick is not None and (plan.pool, pick.pool) == ("AMPERE_24", "AMPERE_24")
    assert plan.pool_label == pick.pool_label == "24 GB (AMPERE_24)"
    assert plan.usd_per_hour == pick.usd_per_hour and f"${plan.usd_per_hour:.2f}/h" == "$0.68/h"
    assert pick.capacity_note == NOTE
    # The CLI's plan line (`kriptik deploy`, and the chat transcript's approval line).
    assert "on 1 x 24 GB (AMPERE_24)" in plan.summary() and NOTE in plan.summary()
    # The approval card.
    rows = {r["name"]: r["value"] for r in card_for(_approval(plan)).rows()}
    assert rows["GPU pool"] == "24 GB (AMPERE_24) x 1 GPU"
    assert rows["Pool choice"] == NOTE
    assert rows["Running"] == "$0.68/hour per worker while it runs"
    assert rows["VRAM"].endswith(f"for {pick.workload()}")
    # The chart, drawn from the same pick: same pool, same price, same unit and workload.
    chart = pick_props(TINY, pick, source="the deployment plan on the approval card")
    [chosen] = [p for p in chart["pools"] if p["chosen"]]
    assert (chosen["label"], chosen["price"]) == ("24 GB (AMPERE_24)", "$0.68/h")
    assert chart["chosen"] == "1 x 24 GB (AMPERE_24) at $0.68/h per worker"
    assert chart["unit"] == "GiB" and pick.workload() in chart["subtitle"]
    assert chart["note"].startswith(NOTE) and chart["band"]["high_gb"] == plan.vram_high_gib
    assert {p["id"]: p["note"] for p in chart["pools"]}["AMPERE_16"] == "no capacity now"
    # The stored record: the plan JSON reads back the same pick.
    stored = DeploymentPlan.model_validate_json(plan.model_dump_json())
    assert stored.gpu_pick == pick and stored.pool_name == "24 GB (AMPERE_24)"


async def test_with_capacity_the_cheapest_pool_is_planned_without_a_word(
    pipeline: PipelineEnv, services: Callable[..., PipelineServices]
) -> None:
    plan = await plan_deployment(services(), await pipeline.new_user(), DeployRequest(repo_id=TINY))
    assert plan.pool == "AMPERE_16" and plan.gpu_pick is not None
    assert plan.gpu_pick.capacity_note is None and "capacity" not in plan.summary()
    assert "Pool choice" not in {r["name"] for r in card_for(_approval(plan)).rows()}
    # A plan stored before the pick existed still names its pool the one way.
    legacy = plan.model_copy(update={"gpu_pick": None, "pool_label": "16 GB"})
    assert legacy.pool_name == "16 GB (AMPERE_16)" and "1 x 16 GB (AMPERE_16)" in legacy.summary()
