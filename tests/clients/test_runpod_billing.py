"""RunPod's serverless billing (`GET /v2/billing/serverless`) through our client, against the
fake that meters its workers' seconds on a clock the test drives (contract-checked both
ways against runpod-rest-v2.openapi.json)."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from pydantic import SecretStr

from tools.clients._http import Retry
from tools.clients.errors import InvalidRequest
from tools.clients.runpod import RunPodClient
from tools.clients.runpod_models import EndpointSpec, EndpointUpdate, TemplateSpec
from tools.simulator import runpod as rpf
from tools.simulator._runpod_billing import DISK_USD_PER_GB_MONTH
from tools.simulator.all import FakeStack
from tools.simulator.clock import FakeClock

ADA_24_USD_PER_S = 0.00031  # per GPU, the fake's catalogue
DISK_GB = 40


def _client(fakes: FakeStack, http: httpx.AsyncClient, retry: Retry) -> RunPodClient:
    return RunPodClient(
        http=http,
        base_url=fakes.url("runpod") + "/v2",
        token=SecretStr(rpf.DEFAULT_KEY),
        retry=retry,
    )


async def _running_endpoint(client: RunPodClient, fakes: FakeStack) -> str:
    """An endpoint on 2 x ADA_24 whose one worker is IDLE (billed) from now on."""
    fakes.runpod.state.ready_after = 0
    template = await client.create_template(
        TemplateSpec(name="kriptik-bill", image="ghcr.io/acme/w:1", disk_gb=DISK_GB)
    )
    endpoint = await client.create_endpoint(
        EndpointSpec(
            name="kriptik-bill", template_id=template.id, gpu_pools=("ADA_24",), gpu_count=2
        )
    )
    workers = await client.workers(endpoint.id)
    assert workers.summary.idle == 1
    return endpoint.id


def _per_second() -> float:
    return 2 * ADA_24_USD_PER_S + DISK_GB * DISK_USD_PER_GB_MONTH / (30 * 86400)


async def test_billing_reports_the_workers_seconds_per_bucket_until_the_endpoint_is_deleted(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry
) -> None:
    clock = FakeClock()
    fakes.runpod.state.clock = clock.now
    client = _client(fakes, http, retry)
    start = clock.now()
    endpoint_id = await _running_endpoint(client, fakes)
    await clock.sleep(90 * 60)  # one and a half hours up
    billing = await client.serverless_billing(endpoint_id, since=start, bucket="hour")
    assert [r.serverless_id for r in billing.records] == [endpoint_id] * 2
    assert [r.total for r in billing.records] == pytest.approx(
        [3600 * _per_second(), 1800 * _per_second()]
    )
    assert billing.totals.total == pytest.approx(5400 * _per_second())
    assert billing.totals.gpu == pytest.approx(5400 * 2 * ADA_24_USD_PER_S)
    assert billing.window_start == start and billing.window_end == start + timedelta(hours=2)
    # Scaled to zero, then deleted: nothing more is billed, and the bill stays.
    await client.update_endpoint(endpoint_id, EndpointUpdate(workers_min=0, workers_max=0))
    await client.delete_endpoint(endpoint_id)
    await clock.sleep(3600)
    later = await client.serverless_billing(endpoint_id, since=start, bucket="day")
    assert len(later.records) == 1
    assert later.totals.total == pytest.approx(5400 * _per_second())


async def test_billing_filters_by_endpoint_and_refuses_lastn_with_a_range(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry
) -> None:
    clock = FakeClock()
    fakes.runpod.state.clock = clock.now
    client = _client(fakes, http, retry)
    endpoint_id = await _running_endpoint(client, fakes)
    await clock.sleep(600)
    other = await client.serverless_billing("someone-else", since=clock.now() - timedelta(days=1))
    assert other.records == () and other.totals.total == 0
    with pytest.raises(InvalidRequest, match="mutually exclusive"):
        await client._api.call(  # pyright: ignore[reportPrivateUsage] - a request we never send
            "GET", "/billing/serverless", what="billing",
            params={"lastN": 2, "startTime": "2026-01-01T00:00:00Z", "serverlessId": endpoint_id},
        )  # fmt: skip
