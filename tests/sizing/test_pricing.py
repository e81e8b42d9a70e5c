"""Prices: per hour, per request, idle tails and always-on workers."""

from __future__ import annotations

from typing import Any

import pytest

from tests.sizing.conftest import requirements
from tools.sizing import InvalidOptionError, choose_gpu, estimate_vram, price_quote
from tools.sizing.choose import GpuOption


def _option() -> GpuOption:
    choice = choose_gpu(estimate_vram(requirements("Llama-3.1-8B"), "bf16", 4096, 1))
    assert choice.best is not None
    return choice.best


def test_prices_follow_the_per_second_rate() -> None:
    option = _option()
    rate = option.usd_per_second
    q = price_quote(option, execution_seconds=3.0, idle_timeout_s=10, workers_min=2, requests=1000,
                    cold_start_seconds=20)  # fmt: skip
    assert q.usd_per_hour_running == pytest.approx(rate * 3600)
    assert q.cost_per_request_usd == pytest.approx(3 * rate)
    assert q.idle_cost_per_request_usd == pytest.approx(10 * rate)
    assert q.cold_start_cost_usd == pytest.approx(20 * rate)
    assert q.sparse_requests_usd == pytest.approx(1000 * 33 * rate)
    assert q.busy_requests_usd == pytest.approx(1000 * 3 * rate + 30 * rate)
    assert option.active_usd_per_second is not None
    assert q.always_on_usd_per_hour == pytest.approx(2 * option.active_usd_per_second * 3600)
    assert q.always_on_usd_per_month == pytest.approx(q.always_on_usd_per_hour * 730)


def test_no_always_on_cost_without_min_workers() -> None:
    q = price_quote(_option(), execution_seconds=1.0)
    assert q.always_on_usd_per_hour == 0 and q.workers_min == 0
    assert q.requests == 1000 and q.idle_timeout_s == 5


@pytest.mark.parametrize(
    "kwargs",
    [{"execution_seconds": 0}, {"execution_seconds": 1, "idle_timeout_s": -1},
     {"execution_seconds": 1, "workers_min": -1}, {"execution_seconds": 1, "requests": 0}],
)  # fmt: skip
def test_invalid_profiles(kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidOptionError):
        price_quote(_option(), **kwargs)
