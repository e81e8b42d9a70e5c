"""`price_quote`: what a RunPod serverless endpoint on a chosen option costs.

RunPod bills flex workers per second from start until they scale down, so a request costs
its execution time, plus the `idleTimeout` the worker then waits for more work (when no
other request arrives), plus any cold start. `workersMin` workers stay up all the time and
are billed at the (cheaper) active rate whether or not requests arrive.
"""

from __future__ import annotations

from typing import Final

from pydantic import BaseModel, ConfigDict

from tools.sizing.choose import GpuOption
from tools.sizing.errors import InvalidOptionError

__all__ = ["PriceQuote", "price_quote"]

_SECONDS_PER_HOUR: Final = 3600
_HOURS_PER_MONTH: Final = 730


class PriceQuote(BaseModel):
    """Prices in US dollars for one endpoint configuration."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    pool_id: str
    gpu_count: int
    usd_per_second: float
    usd_per_hour_running: float
    execution_seconds: float
    cost_per_request_usd: float
    idle_timeout_s: int
    idle_cost_per_request_usd: float
    cold_start_seconds: float
    cold_start_cost_usd: float
    workers_min: int
    always_on_usd_per_hour: float
    always_on_usd_per_month: float
    requests: int
    sparse_requests_usd: float
    busy_requests_usd: float
    assumptions: dict[str, str]


_ASSUMPTIONS: Final = {
    "sparse_requests_usd": "every request arrives alone: a cold start, the execution, "
    "then idleTimeout seconds of idle billing (upper bound)",
    "busy_requests_usd": "requests arrive back to back on one warm worker: one cold "
    "start and one idle tail in all (lower bound)",
    "always_on": "workersMin workers billed around the clock at the active rate "
    "(flex rate when the catalog has no active price)",
    "rates": "RunPod list prices per GPU; negotiated discounts are not reflected",
}


def _check_profile(
    execution_seconds: float, idle_timeout_s: int, workers_min: int, requests: int,
    cold_start_seconds: float,
) -> None:  # fmt: skip
    if execution_seconds <= 0:
        raise InvalidOptionError(
            f"execution time must be above 0 seconds (got {execution_seconds})"
        )
    if idle_timeout_s < 0 or workers_min < 0 or cold_start_seconds < 0:
        raise InvalidOptionError("idle timeout, workers_min and cold start cannot be negative")
    if requests < 1:
        raise InvalidOptionError(f"requests must be at least 1 (got {requests})")


def price_quote(
    option: GpuOption,
    *,
    execution_seconds: float,
    idle_timeout_s: int = 5,
    workers_min: int = 0,
    requests: int = 1000,
    cold_start_seconds: float = 0.0,
) -> PriceQuote:
    """Price an option for a given request profile.

    Args:
        option: A fitting option from `choose_gpu`.
        execution_seconds: GPU time one request takes.
        idle_timeout_s: Endpoint `idleTimeout`: seconds a worker waits before scaling down.
        workers_min: Endpoint `workersMin`: workers that never scale down.
        requests: How many requests the estimates cover.
        cold_start_seconds: Billed start-up (image start + model load) of a cold worker.

    Raises:
        InvalidOptionError: A negative time or count, or no request at all.
    """
    _check_profile(execution_seconds, idle_timeout_s, workers_min, requests, cold_start_seconds)
    rate = option.usd_per_second
    active = option.active_usd_per_second or rate
    per_request = execution_seconds * rate
    idle = idle_timeout_s * rate
    cold = cold_start_seconds * rate
    always_on_hour = workers_min * active * _SECONDS_PER_HOUR
    return PriceQuote(
        pool_id=option.pool_id,
        gpu_count=option.gpu_count,
        usd_per_second=rate,
        usd_per_hour_running=rate * _SECONDS_PER_HOUR,
        execution_seconds=execution_seconds,
        cost_per_request_usd=per_request,
        idle_timeout_s=idle_timeout_s,
        idle_cost_per_request_usd=idle,
        cold_start_seconds=cold_start_seconds,
        cold_start_cost_usd=cold,
        workers_min=workers_min,
        always_on_usd_per_hour=always_on_hour,
        always_on_usd_per_month=always_on_hour * _HOURS_PER_MONTH,
        requests=requests,
        sparse_requests_usd=requests * (per_request + idle + cold),
        busy_requests_usd=requests * per_request + idle + cold,
        assumptions=dict(_ASSUMPTIONS),
    )
