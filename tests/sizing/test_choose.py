"""Choosing the cheapest pool that holds an estimate, or saying clearly that none does."""

from __future__ import annotations

from datetime import date

import pytest

from tests.sizing.conftest import requirements
from tools.sizing import (
    GpuCatalog,
    GpuPool,
    GpuType,
    InvalidOptionError,
    choose_gpu,
    estimate_vram,
    load_catalog,
    per_gpu_bytes,
    per_gpu_fit_bytes,
)

GIB = 1 << 30


def _pool(pool_id: str, gib: int, per_s: float) -> GpuPool:
    card = GpuType(id=f"card-{pool_id}", name=pool_id, memory_gb=gib, usable_mib=gib * 1024)
    return GpuPool(id=pool_id, label=f"{gib} GB", memory_gb=gib, flex_usd_per_s=per_s,
                   gpu_types=(card,))  # fmt: skip


CATALOG = GpuCatalog(
    as_of=date(2026, 1, 1),
    pools=(_pool("SMALL_16", 16, 0.0001), _pool("MID_24", 24, 0.0002), _pool("BIG_80", 80, 0.001)),
)


def test_the_cheapest_pool_with_headroom_is_chosen() -> None:
    estimate = estimate_vram(requirements("Llama-3.1-8B"), "bf16", 4096, 1)  # ~16.6 GiB
    choice = choose_gpu(estimate, catalog=CATALOG)
    assert choice.fits and choice.best is not None
    assert (choice.best.pool_id, choice.best.gpu_count) == ("MID_24", 1)
    assert choice.best.budget_bytes == int(24 * GIB * 0.9)
    # Headroom is counted from the upper end of the band, which the choice is made on.
    assert choice.best.headroom_bytes == choice.best.budget_bytes - estimate.gpu_fit_bytes
    assert choice.required_bytes == estimate.gpu_fit_bytes > estimate.total_bytes
    assert choice.best.usd_per_hour == pytest.approx(0.0002 * 3600)
    assert [o.pool_id for o in choice.options][:2] == ["MID_24", "BIG_80"]
    assert "MID_24" in choice.message and "to spare" in choice.message


def test_utilization_is_the_headroom_vllm_needs() -> None:
    estimate = estimate_vram(requirements("Llama-3.1-8B"), "bf16", 4096, 1)
    strict = choose_gpu(estimate, catalog=CATALOG, gpu_memory_utilization=0.6)
    assert strict.best is not None and strict.best.pool_id == "BIG_80"


def test_tensor_parallel_only_when_no_single_gpu_holds_it() -> None:
    estimate = estimate_vram(requirements("Llama-3.1-8B"), "bf16", 4096, 1)
    single_small = GpuCatalog(as_of=date(2026, 1, 1), pools=(_pool("SMALL_16", 16, 0.0001),))
    choice = choose_gpu(estimate, catalog=single_small)
    assert choice.best is not None and choice.best.gpu_count == 2
    assert choice.best.required_bytes == per_gpu_fit_bytes(estimate, 2) > per_gpu_bytes(estimate, 2)
    assert (
        per_gpu_bytes(estimate, 2) < estimate.total_bytes // 2 + estimate.cuda_context_bytes + GIB
    )
    assert choice.best.usd_per_second == pytest.approx(0.0002)


def test_kv_heads_are_replicated_beyond_their_count() -> None:
    estimate = estimate_vram(requirements("Llama-3.1-8B"), "bf16", 32768, 8)  # 8 KV heads
    four, eight = per_gpu_bytes(estimate, 4), per_gpu_bytes(estimate, 8)
    assert eight < four
    mqa = estimate.model_copy(update={"num_kv_heads": 1})
    # with one KV head every GPU holds the whole cache
    assert per_gpu_bytes(mqa, 8) - per_gpu_bytes(estimate, 8) == estimate.kv_cache_bytes * 7 // 8


def test_does_not_fit_reports_the_largest_context_that_would() -> None:
    r = requirements("Llama-3.1-8B")
    estimate = estimate_vram(r, "bf16", 131072, 16)
    choice = choose_gpu(estimate, requirements=r, catalog=CATALOG, max_gpus=1)
    assert not choice.fits and choice.best is None and choice.options == ()
    assert choice.max_context_that_fits is not None
    context = choice.max_context_that_fits
    fits = estimate_vram(r, "bf16", context, 16)
    assert (
        fits.gpu_fit_bytes
        <= int(80 * GIB * 0.9)
        < estimate_vram(r, "bf16", context + 1, 16).gpu_fit_bytes
    )
    assert f"--context {context}" in choice.message and "does not fit" in choice.message


def test_weights_too_large_for_anything() -> None:
    r = requirements("Mixtral-8x7B-v0.1")
    estimate = estimate_vram(r, "bf16", 1024, 1)
    choice = choose_gpu(estimate, requirements=r, catalog=CATALOG, max_gpus=1)
    assert not choice.fits and choice.max_context_that_fits is None
    assert "quantized" in choice.message


def test_the_packaged_catalog_puts_mixtral_on_one_h200_and_lists_tensor_parallel_too() -> None:
    estimate = estimate_vram(requirements("Mixtral-8x7B-v0.1"), "bf16", 8192, 1)  # ~90 GiB
    choice = choose_gpu(estimate)
    assert choice.fits and choice.best is not None
    assert (choice.best.pool_id, choice.best.gpu_count) == ("HOPPER_141", 1)
    by_pool = {o.pool_id: o.gpu_count for o in choice.options}
    assert by_pool["ADA_80_PRO"] == 2 and by_pool["AMPERE_48"] == 4
    assert choice.catalog_as_of == load_catalog().as_of


@pytest.mark.parametrize(("util", "gpus"), [(0.0, 8), (1.2, 8), (0.9, 0)])
def test_invalid_options(util: float, gpus: int) -> None:
    estimate = estimate_vram(requirements("Llama-3.1-8B"), "bf16", 1024, 1)
    with pytest.raises(InvalidOptionError):
        choose_gpu(estimate, gpu_memory_utilization=util, max_gpus=gpus)
