"""One plan, one set of pool names: `pool_label` from the one table, the live catalogue's
availability, a cheapest pool with no capacity passed over (and said so), and the pick
every view reads (`pick_gpu`)."""

from __future__ import annotations

from datetime import date

import pytest

from tests.sizing.conftest import requirements
from tools.simulator._runpod_json import GPU_CATALOG, gpu_json
from tools.sizing import (
    GpuCatalog,
    GpuChoice,
    VramEstimate,
    capacity_note,
    catalog_from_runpod,
    choose_gpu,
    estimate_vram,
    pick_gpu,
    pool_label,
)

TODAY = date(2026, 2, 12)


def _live(
    no_capacity: frozenset[str] = frozenset(), *, availability: bool = True
) -> dict[str, object]:
    """A `GET /v2/catalog/gpus` body as the RunPod simulator serves it."""
    gpus = [gpu_json(*row) for row in GPU_CATALOG]
    if availability:
        for gpu in gpus:
            gpu["availability"] = "NONE" if gpu["pool"] in no_capacity else "HIGH"
    return {"gpus": gpus}


def _choice(
    no_capacity: frozenset[str] = frozenset(),
) -> tuple[GpuChoice, VramEstimate, GpuCatalog]:
    catalog = catalog_from_runpod(_live(no_capacity), as_of=TODAY)
    # Llama 3.1 8B at 8,192 tokens: holds on a 24 GB card, the cheapest being AMPERE_24.
    estimate = estimate_vram(requirements("Llama-3.1-8B"), "bf16", 8192, 1)
    return choose_gpu(estimate, catalog=catalog), estimate, catalog


def test_a_pool_has_one_display_name_from_the_one_table() -> None:
    assert pool_label("ADA_24") == "24 GB PRO (ADA_24)"
    assert pool_label("AMPERE_24") == "24 GB (AMPERE_24)"
    assert pool_label("NEW_POOL") == "NEW_POOL"  # unknown: shown as it is, never invented
    live = catalog_from_runpod(
        {"gpus": [{"id": "X1", "name": "X1", "pool": "NEW_POOL", "memory": 64,
                   "price": {"serverless": 2.0}}]}, as_of=TODAY,
    )  # fmt: skip
    assert pool_label("NEW_POOL", live) == "64 GB (NEW_POOL)"


def test_the_live_catalogue_says_which_pools_have_capacity() -> None:
    catalog = catalog_from_runpod(_live(frozenset({"AMPERE_24"})), as_of=TODAY)
    full, free = catalog.pool("AMPERE_24"), catalog.pool("ADA_24")
    assert full is not None and full.has_capacity is False
    assert free is not None and free.has_capacity is True
    unknown = catalog_from_runpod(_live(availability=False), as_of=TODAY)
    assert {p.has_capacity for p in unknown.pools} == {None}


def test_the_cheapest_pool_is_chosen_while_it_has_capacity() -> None:
    choice, _, _ = _choice()
    assert choice.best is not None and choice.best.pool_id == "AMPERE_24"
    assert choice.passed_over == () and capacity_note((), choice.best) is None
    assert "has no capacity" not in choice.message


def test_a_cheapest_pool_without_capacity_is_passed_over_and_the_choice_says_so() -> None:
    choice, _, _ = _choice(frozenset({"AMPERE_24"}))
    assert choice.best is not None and choice.best.pool_id == "ADA_24"
    assert [o.pool_id for o in choice.passed_over] == ["AMPERE_24"]
    note = "24 GB (AMPERE_24) has no capacity now; using 24 GB PRO (ADA_24) at $1.12/h"
    assert capacity_note(choice.passed_over, choice.best) == note
    assert choice.message.endswith(note)
    assert choice.options[0].pool_id == "AMPERE_24"  # still listed: it fits, it is just full


def test_with_no_fitting_pool_in_stock_the_cheapest_is_kept_and_the_wait_named() -> None:
    _, estimate, _ = _choice()
    everything = frozenset(row[2] for row in GPU_CATALOG if row[2])
    choice = choose_gpu(estimate, catalog=catalog_from_runpod(_live(everything), as_of=TODAY))
    assert choice.best is not None and choice.best.pool_id == "AMPERE_24"
    assert "no pool that fits has capacity now" in choice.message


def test_the_pick_is_what_every_view_shows() -> None:
    choice, estimate, catalog = _choice(frozenset({"AMPERE_24"}))
    pick = pick_gpu(estimate, choice, catalog=catalog)
    assert (pick.pool, pick.pool_label, pick.gpu_count) == ("ADA_24", "24 GB PRO (ADA_24)", 1)
    assert pick.usd_per_hour == pytest.approx(0.00031 * 3600)
    assert pick.capacity_note is not None and "AMPERE_24" in pick.capacity_note
    assert pick.workload() == "bf16, 8,192-token context, batch 1"
    assert pick.high_gib == round(estimate.gpu_fit_bytes / 2**30, 1)  # as the card states it
    rows = {r.pool_id: r for r in pick.pools}
    assert rows["ADA_24"].chosen and rows["ADA_24"].label == "24 GB PRO (ADA_24)"
    assert rows["AMPERE_24"].has_capacity is False and not rows["AMPERE_24"].chosen
    assert [r for r in pick.pools if r.chosen] == [rows["ADA_24"]]
    # A pool the user named is taken as named; only its own capacity is worth a word.
    named = next(o for o in choice.options if o.pool_id == "AMPERE_24")
    taken = pick_gpu(estimate, choice, catalog=catalog, option=named)
    assert taken.pool == "AMPERE_24"
    assert taken.capacity_note == (
        "24 GB (AMPERE_24) has no capacity now; its workers wait until a card is free"
    )
