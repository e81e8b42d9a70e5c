"""The shared HTTP core: retry policy, Retry-After, error mapping, transport failures.

Everything runs a real client (`OpenRouterClient`, `RunPodClient`) against the fakes on
loopback; waits run on the fake clock.
"""

from __future__ import annotations

import random
import socket
from datetime import UTC, datetime

import httpx
import pytest
from pydantic import SecretStr

from tools.clients import _messages
from tools.clients._http import Retry
from tools.clients.errors import (
    RateLimited,
    Timeout,
    Unreachable,
    Upstream,
)
from tools.clients.openrouter import OpenRouterClient
from tools.clients.runpod import RunPodClient
from tools.clients.runpod_models import EndpointSpec, TemplateSpec
from tools.simulator import openrouter as orf
from tools.simulator import runpod as rpf
from tools.simulator.all import FakeStack
from tools.simulator.clock import FakeClock

KEY_ROUTE = "GET /api/v1/key"


def _openrouter(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry, **kw: float
) -> OpenRouterClient:
    return OpenRouterClient(
        http=http,
        base_url=fakes.url("openrouter") + "/api/v1",
        token=SecretStr(orf.DEFAULT_KEY),
        retry=retry,
        **kw,
    )


def _runpod(fakes: FakeStack, http: httpx.AsyncClient, retry: Retry) -> RunPodClient:
    return RunPodClient(
        http=http,
        base_url=fakes.url("runpod") + "/v2",
        token=SecretStr(rpf.DEFAULT_KEY),
        retry=retry,
    )


# ---- the policy in isolation ---------------------------------------------------------------
def test_backoff_is_exponential_capped_and_jittered() -> None:
    policy = Retry(base_delay_s=1.0, max_delay_s=4.0, max_attempts=10, rng=random.Random(1))
    err = Upstream("x", provider="P", status=500)
    delays = [policy.delay_s(err, attempt=n, idempotent=True) for n in range(1, 7)]
    ceilings = [1, 2, 4, 4, 4, 4]
    for delay, ceiling in zip(delays, ceilings, strict=True):
        assert delay is not None
        assert ceiling / 2 <= delay <= ceiling
    assert len(set(delays)) > 1  # jitter


def test_policy_gives_up_after_max_attempts_and_on_long_retry_after() -> None:
    policy = Retry(max_attempts=3, max_retry_after_s=60)
    limited = RateLimited("x", provider="P", retry_after=30)
    assert policy.delay_s(limited, attempt=1, idempotent=False) == 30
    assert policy.delay_s(limited, attempt=3, idempotent=False) is None
    assert (
        policy.delay_s(RateLimited("x", provider="P", retry_after=61), attempt=1, idempotent=True)
        is None
    )


def test_writes_retry_only_what_never_happened() -> None:
    policy = Retry()
    assert (
        policy.delay_s(Upstream("x", provider="P", status=500), attempt=1, idempotent=False) is None
    )
    assert (
        policy.delay_s(Upstream("x", provider="P", status=503), attempt=1, idempotent=False)
        is not None
    )
    refused = Unreachable("x", provider="P", request_sent=False)
    dropped = Unreachable("x", provider="P", request_sent=True)
    assert policy.delay_s(refused, attempt=1, idempotent=False) is not None
    assert policy.delay_s(dropped, attempt=1, idempotent=False) is None
    assert policy.delay_s(dropped, attempt=1, idempotent=True) is not None


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "7"}, 7.0),
        ({"retry-after": "Thu, 01 Jan 2026 00:00:30 GMT"}, 30.0),
        ({"retry-after": "garbage"}, None),
        ({"x-ratelimit-reset": str(datetime(2026, 1, 1, 0, 1, tzinfo=UTC).timestamp())}, 60.0),
        (
            {
                "x-ratelimit-reset": str(
                    int(datetime(2026, 1, 1, 0, 0, 9, tzinfo=UTC).timestamp() * 1000)
                )
            },
            9.0,
        ),
        ({}, None),
    ],
)
def test_retry_after_forms(headers: dict[str, str], expected: float | None) -> None:
    assert _messages.retry_after_s(headers, now=FakeClock().now()) == expected


def test_detail_understands_each_provider_shape_and_scrubs_the_key() -> None:
    key = "sk-secret-123456"
    assert _messages.detail_of(
        {"title": "Bad", "detail": "name is required", "errors": ["$.name"]}, []
    ) == ("name is required $.name")
    assert _messages.detail_of({"error": {"code": 400, "message": "bad model"}}, []) == "bad model"
    assert _messages.detail_of(
        {"message": "Validation Failed", "errors": [{"message": "name exists"}]}, []
    ) == ("Validation Failed name exists")
    assert (
        _messages.detail_of({"error": f"token {key} invalid"}, [key]) == "token [redacted] invalid"
    )
    assert _messages.detail_of({"message": "x" * 1000}, []).endswith("…")  # type: ignore[union-attr]


# ---- through a real client -------------------------------------------------------------------
async def test_429_then_success_waits_exactly_the_advised_time(
    fakes: FakeStack, http: httpx.AsyncClient, clock: FakeClock, retry: Retry
) -> None:
    fakes.openrouter.fail(KEY_ROUTE, 429, retry_after=7)
    key = await _openrouter(fakes, http, retry).key()
    assert key.label
    assert clock.sleeps == [7.0]
    assert len(fakes.openrouter.calls_to(KEY_ROUTE)) == 2


async def test_http_date_retry_after_is_measured_on_the_injected_clock(
    fakes: FakeStack, http: httpx.AsyncClient, clock: FakeClock, retry: Retry
) -> None:
    fakes.openrouter.fail(KEY_ROUTE, 429, retry_after="Thu, 01 Jan 2026 00:00:42 GMT")
    await _openrouter(fakes, http, retry).key()
    assert clock.sleeps == [42.0]


async def test_persistent_429_surfaces_rate_limited_after_the_last_attempt(
    fakes: FakeStack, http: httpx.AsyncClient, clock: FakeClock, retry: Retry
) -> None:
    fakes.openrouter.fail(KEY_ROUTE, 429, retry_after=3, times=None)
    with pytest.raises(RateLimited) as caught:
        await _openrouter(fakes, http, retry).key()
    assert caught.value.retry_after == 3
    assert (
        str(caught.value) == "OpenRouter is rate-limiting requests (429). Wait 3 s and try again."
    )
    assert clock.sleeps == [3.0, 3.0, 3.0]


async def test_5xx_backs_off_with_jitter_then_succeeds(
    fakes: FakeStack, http: httpx.AsyncClient, clock: FakeClock, retry: Retry
) -> None:
    fakes.openrouter.fail(KEY_ROUTE, 500, times=2)
    await _openrouter(fakes, http, retry).key()
    assert len(clock.sleeps) == 2
    assert 0.25 <= clock.sleeps[0] <= 0.5
    assert 0.5 <= clock.sleeps[1] <= 1.0


async def test_a_failed_create_is_not_repeated_but_a_503_is(
    fakes: FakeStack, http: httpx.AsyncClient, clock: FakeClock, retry: Retry
) -> None:
    client = _runpod(fakes, http, retry)
    template = await client.create_template(TemplateSpec(name="t", image="img:1"))
    spec = EndpointSpec(name="e", template_id=template.id, gpu_pools=("ADA_24",))
    fakes.runpod.fail("POST /v2/serverless", 500)
    with pytest.raises(Upstream):
        await client.create_endpoint(spec)
    assert len(fakes.runpod.calls_to("POST /v2/serverless")) == 1
    fakes.runpod.fail("POST /v2/serverless", 503, retry_after=2)
    endpoint = await client.create_endpoint(spec)
    assert [e.id for e in await client.list_endpoints()] == [endpoint.id]
    assert clock.sleeps == [2.0]


async def test_slow_answer_times_out_with_a_next_step(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry
) -> None:
    fakes.openrouter.fail(KEY_ROUTE, "slow", delay_s=2.0, times=None)
    client = _openrouter(
        fakes, http, Retry(max_attempts=1, sleep=retry.sleep, clock=retry.clock), timeout_s=0.2
    )
    with pytest.raises(Timeout) as caught:
        await client.key()
    assert str(caught.value) == (
        "OpenRouter did not answer within 0.2 s. Try again in a few minutes "
        "(status: https://status.openrouter.ai)."
    )


async def test_dropped_connection_is_retried_for_reads(
    fakes: FakeStack, http: httpx.AsyncClient, clock: FakeClock, retry: Retry
) -> None:
    fakes.openrouter.fail(KEY_ROUTE, "drop")
    await _openrouter(fakes, http, retry).key()
    assert len(clock.sleeps) == 1


async def test_dropped_connection_on_a_create_is_reported_not_repeated(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry
) -> None:
    fakes.runpod.fail("POST /v2/templates", "drop")
    host = httpx.URL(fakes.url("runpod")).host
    with pytest.raises(Unreachable) as caught:
        await _runpod(fakes, http, retry).create_template(TemplateSpec(name="t", image="img:1"))
    assert str(caught.value) == (
        f"The connection to RunPod at {host} dropped before the answer arrived. "
        "Check the network connection and try again."
    )
    assert len(fakes.runpod.calls_to("POST /v2/templates")) == 1


async def test_refused_connection_is_unreachable(
    http: httpx.AsyncClient, clock: FakeClock, retry: Retry
) -> None:
    with socket.socket() as sock:  # A port that nothing listens on.
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = OpenRouterClient(
        http=http,
        base_url=f"http://127.0.0.1:{port}/api/v1",
        token=SecretStr("k" * 20),
        retry=retry,
    )
    with pytest.raises(Unreachable) as caught:
        await client.key()
    assert (
        str(caught.value)
        == "Could not reach OpenRouter at 127.0.0.1. Check the network connection and try again."
    )
    assert caught.value.request_sent is False
    assert len(clock.sleeps) == 3  # refused connections are retried: nothing was sent


async def test_malformed_body_is_upstream_and_retried(
    fakes: FakeStack, http: httpx.AsyncClient, clock: FakeClock, retry: Retry
) -> None:
    fakes.openrouter.fail(KEY_ROUTE, "malformed", times=None)
    with pytest.raises(Upstream) as caught:
        await _openrouter(fakes, http, retry).key()
    assert str(caught.value) == (
        "OpenRouter sent a response that could not be read (HTTP 200). Try again in a few minutes; "
        "if it keeps happening, OpenRouter's API may have changed."
    )
    assert len(fakes.openrouter.calls_to(KEY_ROUTE)) == 4
