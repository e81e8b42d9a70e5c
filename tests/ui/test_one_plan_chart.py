"""The VRAM chart drawn from a pick (`tools.sizing.pick`): GiB, the workload it was made
for, the chosen pool by its one name and price; and the pick never reaches the model."""

from __future__ import annotations

from datetime import date

from pydantic_ai.messages import ToolReturnPart

from tests.sizing.conftest import requirements
from tools.model_results import GpuPlan
from tools.simulator._runpod_json import GPU_CATALOG, gpu_json
from tools.sizing import GpuPick, catalog_from_runpod, choose_gpu, estimate_vram, pick_gpu
from ui.web.charts import pick_props


def _pick(context: int, no_capacity: frozenset[str] = frozenset()) -> GpuPick:
    gpus = [gpu_json(*row) for row in GPU_CATALOG]
    for gpu in gpus:
        gpu["availability"] = "NONE" if gpu["pool"] in no_capacity else "HIGH"
    catalog = catalog_from_runpod({"gpus": gpus}, as_of=date(2026, 2, 12))
    estimate = estimate_vram(requirements("Llama-3.1-8B"), "bf16", context, 1)
    return pick_gpu(estimate, choose_gpu(estimate, catalog=catalog), catalog=catalog)


def test_a_pick_chart_names_the_pool_price_unit_and_workload_of_its_pick() -> None:
    pick = _pick(8192, frozenset({"AMPERE_24"}))
    props = pick_props("meta/llama", pick, source="the GPU choice")
    assert props["unit"] == "GiB" and props["total_gb"] == pick.need_gib
    assert props["subtitle"] == "From the GPU choice: bf16, 8,192-token context, batch 1."
    assert props["chosen"] == "1 x 24 GB PRO (ADA_24) at $1.12/h per worker"
    [chosen] = [p for p in props["pools"] if p["chosen"]]
    assert (chosen["label"], chosen["price"], chosen["fits"]) == (
        "24 GB PRO (ADA_24)",
        "$1.12/h",
        True,
    )
    assert props["note"].startswith("24 GB (AMPERE_24) has no capacity now")
    assert {p["id"]: p["note"] for p in props["pools"]}["AMPERE_24"] == "no capacity now"


def test_a_chart_at_another_context_says_which_context_it_shows() -> None:
    short, long = _pick(1024), _pick(32768)
    assert "1,024-token context" in pick_props("m", short, source="x")["subtitle"]
    assert "32,768-token context" in pick_props("m", long, source="x")["subtitle"]
    assert long.need_gib > short.need_gib


def test_the_model_never_reads_the_pick() -> None:
    pick = _pick(8192)
    plan = GpuPlan(
        fits=True, message="fits", estimate_gb=1.0, required_gb=1.0, pool=pick.pool,
        gpu_count=1, usd_per_hour_running=0.68, usd_per_request=0.0004,
        usd_per_hour_always_on=None, alternatives=[], max_context_that_fits=None,
        prices_as_of="2026-02-12", pick=pick,
    )  # fmt: skip
    sent = ToolReturnPart(tool_name="choose_gpu", content=plan, tool_call_id="c1")
    assert "pick" not in sent.model_response_str() and "pools" not in sent.model_response_str()
    assert plan.pick is pick  # the UI's event still carries it
