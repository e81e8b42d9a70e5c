"""RunPodJobsClient against the job-API fake (shares state with the control-plane fake)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from tools.clients._http import Retry
from tools.clients.errors import NotFound, Timeout, Upstream
from tools.clients.runpod import RunPodClient
from tools.clients.runpod_jobs import RunPodJobsClient
from tools.clients.runpod_models import EndpointSpec, TemplateSpec
from tools.simulator import runpod as rpf
from tools.simulator.all import FakeStack
from tools.simulator.clock import FakeClock


async def _endpoint(fakes: FakeStack, http: httpx.AsyncClient, retry: Retry) -> str:
    control = RunPodClient(
        http=http,
        base_url=fakes.url("runpod") + "/v2",
        token=SecretStr(rpf.DEFAULT_KEY),
        retry=retry,
    )
    template = await control.create_template(TemplateSpec(name="w", image="img:1"))
    return (
        await control.create_endpoint(
            EndpointSpec(name="e", template_id=template.id, gpu_pools=("AMPERE_24",))
        )
    ).id


def _jobs(fakes: FakeStack, http: httpx.AsyncClient, retry: Retry) -> RunPodJobsClient:
    return RunPodJobsClient(
        http=http,
        base_url=fakes.url("runpod_jobs") + "/v2",
        token=SecretStr(rpf.DEFAULT_KEY),
        retry=retry,
    )


async def test_wait_ready_polls_on_the_clock_until_a_worker_is_up(
    fakes: FakeStack, http: httpx.AsyncClient, clock: FakeClock, retry: Retry
) -> None:
    endpoint = await _endpoint(fakes, http, retry)
    jobs = _jobs(fakes, http, retry)
    assert not (await jobs.health(endpoint)).ready
    health = await jobs.wait_ready(endpoint, poll_s=5)
    assert health.ready and health.workers["idle"] == 1
    assert clock.sleeps == [5.0]  # one poll above, one initializing poll, then ready


async def test_wait_ready_times_out_with_a_next_step(
    fakes: FakeStack, http: httpx.AsyncClient, clock: FakeClock, retry: Retry
) -> None:
    fakes.runpod.state.ready_after = 1000
    endpoint = await _endpoint(fakes, http, retry)
    with pytest.raises(Timeout) as caught:
        await _jobs(fakes, http, retry).wait_ready(endpoint, poll_s=10, timeout_s=30)
    assert str(caught.value) == (
        f"RunPod endpoint {endpoint} has no ready worker after 30 s. RunPod may be short of that GPU: check the "
        "endpoint in the RunPod console, or widen its GPU pools."
    )
    assert clock.sleeps == [10.0, 10.0, 10.0]


async def test_a_job_runs_to_completion(
    fakes: FakeStack, http: httpx.AsyncClient, clock: FakeClock, retry: Retry
) -> None:
    endpoint = await _endpoint(fakes, http, retry)
    jobs = _jobs(fakes, http, retry)
    queued = await jobs.run(endpoint, {"prompt": "hello"})
    assert queued.status == "IN_QUEUE" and not queued.done
    done = await jobs.wait_job(endpoint, queued.id, poll_s=2)
    assert (done.status, done.output) == ("COMPLETED", {"echo": {"prompt": "hello"}})
    assert done.execution_ms == 35
    assert fakes.runpod_jobs.calls_to("POST /v2/{endpoint_id}/run")[0].json() == {
        "input": {"prompt": "hello"}
    }


async def test_a_failing_handler_fails_the_job(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry
) -> None:
    def boom(job_input: Any) -> Any:
        raise RuntimeError("CUDA out of memory")

    fakes.runpod.state.handler = boom
    endpoint = await _endpoint(fakes, http, retry)
    jobs = _jobs(fakes, http, retry)
    job = await jobs.wait_job(endpoint, (await jobs.run(endpoint, {})).id)
    assert (job.status, job.error) == ("FAILED", "RuntimeError: CUDA out of memory")


async def test_run_sync_and_cancel(fakes: FakeStack, http: httpx.AsyncClient, retry: Retry) -> None:
    endpoint = await _endpoint(fakes, http, retry)
    jobs = _jobs(fakes, http, retry)
    cold = await jobs.run_sync(endpoint, {"n": 1}, wait_ms=500)
    assert cold.status == "IN_QUEUE"  # no worker yet: the wait expired
    assert ("wait", "1000") in fakes.runpod_jobs.calls_to("POST /v2/{endpoint_id}/runsync")[0].query
    cancelled = await jobs.cancel(endpoint, cold.id)
    assert cancelled.status == "CANCELLED"
    await jobs.wait_ready(endpoint)
    warm = await jobs.run_sync(endpoint, {"n": 2})
    assert (warm.status, warm.output) == ("COMPLETED", {"echo": {"n": 2}})


async def test_unknown_endpoint(fakes: FakeStack, http: httpx.AsyncClient, retry: Retry) -> None:
    with pytest.raises(NotFound) as caught:
        await _jobs(fakes, http, retry).health("nope")
    assert str(caught.value) == (
        "RunPod could not find the endpoint nope (404). Check the name or id, and that it belongs to the account "
        "of this key."
    )


async def test_a_submitted_job_is_not_resubmitted_after_a_500(
    fakes: FakeStack, http: httpx.AsyncClient, clock: FakeClock, retry: Retry
) -> None:
    endpoint = await _endpoint(fakes, http, retry)
    jobs = _jobs(fakes, http, retry)
    fakes.runpod_jobs.fail("POST /v2/{endpoint_id}/run", 500)
    with pytest.raises(Upstream):
        await jobs.run(endpoint, {})
    assert len(fakes.runpod_jobs.calls_to("POST /v2/{endpoint_id}/run")) == 1
    fakes.runpod_jobs.fail("GET /v2/{endpoint_id}/health", 500)
    await jobs.health(endpoint)  # reads are retried
    assert len(clock.sleeps) == 1
