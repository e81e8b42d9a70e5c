"""RunPod's serverless billing, simulated: the fake's billed workers (RUNNING or IDLE) are
metered second by second as they come and go, at the pool's catalogue price per GPU plus
container disk at $0.10 per GB-month, and reported per endpoint per time bucket as
`GET /v2/billing/serverless` reports them (`runpod-rest-v2.openapi.json`). The meter
outlives the endpoint: a deleted endpoint's seconds stay billed, as on RunPod.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

__all__ = ["DISK_USD_PER_GB_MONTH", "BillingMeter", "BillingQueryError", "serverless_billing"]

# docs serverless/pricing.mdx: container disk is $0.10/GB/month; a month here is 30 days.
DISK_USD_PER_GB_MONTH: Final = 0.10
_MONTH_S: Final = 30 * 86400
# The API's default window when no startTime is given.
_DEFAULT_SPAN: Final = timedelta(days=30)
_STEP: Final = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(weeks=1)}


class BillingQueryError(ValueError):
    """A billing query the API refuses (its 400)."""


@dataclass
class _Span:
    """`workers` billed workers of one endpoint from `start` until `end` (None: still)."""

    endpoint_id: str
    start: datetime
    end: datetime | None
    workers: int
    gpu_usd_per_s: float  # one worker, all its GPUs
    disk_gb: int

    def seconds(self, start: datetime, end: datetime, now: datetime) -> float:
        """Worker-seconds of this span inside [start, end), counted up to `now`."""
        stop = min(end, self.end or now, now)
        return max(0.0, (stop - max(start, self.start)).total_seconds()) * self.workers


@dataclass
class BillingMeter:
    """Every billed worker-second of every endpoint the fake ever ran."""

    spans: list[_Span] = field(default_factory=list[_Span])

    def set_workers(
        self, endpoint_id: str, workers: int, *, at: datetime, gpu_usd_per_s: float, disk_gb: int
    ) -> None:
        """From `at` on, `workers` workers of the endpoint are billed (0: none)."""
        running = next(
            (s for s in self.spans if s.endpoint_id == endpoint_id and s.end is None), None
        )
        if running is not None and running.workers == workers:
            return
        if running is not None:
            running.end = at
        if workers > 0:
            self.spans.append(_Span(endpoint_id, at, None, workers, gpu_usd_per_s, disk_gb))

    def amounts(
        self, endpoint_id: str, start: datetime, end: datetime, now: datetime
    ) -> dict[str, float]:
        """The endpoint's GPU and disk cost inside [start, end), as the API names them."""
        gpu = disk = 0.0
        for span in (s for s in self.spans if s.endpoint_id == endpoint_id):
            seconds = span.seconds(start, end, now)
            gpu += seconds * span.gpu_usd_per_s
            disk += seconds * span.disk_gb * DISK_USD_PER_GB_MONTH / _MONTH_S
        return {"totalAmount": gpu + disk, "gpuAmount": gpu, "cpuAmount": 0.0,
                "diskAmount": disk, "feeAmount": 0.0}  # fmt: skip

    def billed_in(self, start: datetime, end: datetime, now: datetime) -> list[str]:
        """The endpoints with billed seconds inside [start, end), in order of first use."""
        ids = [s.endpoint_id for s in self.spans if s.seconds(start, end, now) > 0]
        return list(dict.fromkeys(ids))


def _floor(t: datetime, bucket: str) -> datetime:
    day = t.replace(hour=0, minute=0, second=0, microsecond=0)
    match bucket:
        case "hour":
            return t.replace(minute=0, second=0, microsecond=0)
        case "day":
            return day
        case "week":  # ISO weeks start on Monday
            return day - timedelta(days=day.weekday())
        case "month":
            return day.replace(day=1)
        case _:
            return day.replace(month=1, day=1)


def _next(t: datetime, bucket: str) -> datetime:
    """The start of the bucket after the one that starts at `t`."""
    if bucket in _STEP:
        return t + _STEP[bucket]
    if bucket == "month":
        return t.replace(year=t.year + t.month // 12, month=t.month % 12 + 1)
    return t.replace(year=t.year + 1)


def _ceil(t: datetime, bucket: str) -> datetime:
    start = _floor(t, bucket)
    return start if start == t else _next(start, bucket)


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _window(query: Mapping[str, str], bucket: str, now: datetime) -> tuple[datetime, datetime]:
    """The resolved [start, end): snapped outwards to bucket boundaries, as the API does."""
    if "lastN" in query:
        if "startTime" in query or "endTime" in query:
            raise BillingQueryError("lastN is mutually exclusive with startTime/endTime")
        end = _next(_floor(now, bucket), bucket)
        start = _floor(now, bucket)
        for _ in range(int(query["lastN"]) - 1):
            start = _floor(start - timedelta(seconds=1), bucket)
        return start, end
    start = _floor(
        _time(query["startTime"]) if "startTime" in query else now - _DEFAULT_SPAN, bucket
    )
    end = _ceil(_time(query["endTime"]) if "endTime" in query else now, bucket)
    if end <= start:
        raise BillingQueryError("endTime must be after startTime")
    return start, end


def serverless_billing(
    meter: BillingMeter, query: Mapping[str, str], now: datetime
) -> dict[str, Any]:
    """The body of `GET /v2/billing/serverless` for `query`, at `now`.

    Raises:
        BillingQueryError: Both lastN and a time range, or an empty range.
    """
    bucket = query.get("bucketSize", "day")
    start, end = _window(query, bucket, now)
    only = query.get("serverlessId")
    records: list[dict[str, Any]] = []
    at = start
    while at < end:
        after = _next(at, bucket)
        for endpoint_id in meter.billed_in(at, after, now):
            if only is None or endpoint_id == only:
                amounts = meter.amounts(endpoint_id, at, after, now)
                records.append({"startTime": _iso(at), "endTime": _iso(after),
                                "serverlessId": endpoint_id, **amounts})  # fmt: skip
        at = after
    names = ("totalAmount", "gpuAmount", "cpuAmount", "diskAmount", "feeAmount")
    totals = {name: sum(r[name] for r in records) for name in names}
    return {
        "records": records,
        "metadata": {
            "query": {
                "startTime": _iso(start),
                "endTime": _iso(end),
                "bucketSize": bucket,
                "serverlessId": only,
            },
            "recordCount": len(records),
            "uniqueServerlessCount": len({r["serverlessId"] for r in records}),
            "totals": totals,
        },
    }
