"""RunPodClient against the REST v2 fake (contract: runpod-rest-v2.openapi.json, strict)."""

from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr

from tools.clients._http import Retry
from tools.clients.errors import (
    AuthError,
    InvalidRequest,
    NotFound,
    ProviderError,
    ProviderPermissionError,
    RateLimited,
    Upstream,
)
from tools.clients.runpod import RunPodClient
from tools.clients.runpod_models import EndpointSpec, EndpointUpdate, TemplateSpec
from tools.simulator import runpod as rpf
from tools.simulator.all import FakeStack
from tools.simulator.clock import FakeClock

PLANTED = "rpa_PLANTED9f8e7d6c5b4a39281706f5e4d3c2b1a0"
SPEC = TemplateSpec(
    name="kriptik-worker", image="ghcr.io/acme/worker:1", env={"MODEL": "acme/tiny"}
)


def _client(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry, key: str = rpf.DEFAULT_KEY
) -> RunPodClient:
    return RunPodClient(
        http=http, base_url=fakes.url("runpod") + "/v2", token=SecretStr(key), retry=retry
    )


def _endpoint_spec(template_id: str, **kw: object) -> EndpointSpec:
    return EndpointSpec.model_validate(
        {"name": "kriptik-ep", "template_id": template_id, "gpu_pools": ("ADA_24",), **kw}
    )


async def test_template_lifecycle(fakes: FakeStack, http: httpx.AsyncClient, retry: Retry) -> None:
    client = _client(fakes, http, retry)
    template = await client.create_template(SPEC)
    assert (template.name, template.image, template.env, template.disk) == (
        SPEC.name,
        SPEC.image,
        SPEC.env,
        20,
    )
    body = fakes.runpod.calls_to("POST /v2/templates")[0].json()
    assert (
        body["serverless"] is True and body["startSsh"] is False and body["startJupyter"] is False
    )
    assert (await client.get_template(template.id)) == template
    assert [t.id for t in await client.list_templates()] == [template.id]
    assert await client.delete_template(template.id) is True
    assert await client.delete_template(template.id) is False


async def test_ensure_template_creates_once_and_updates_in_place(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry
) -> None:
    client = _client(fakes, http, retry)
    first = await client.ensure_template(SPEC)
    again = await client.ensure_template(SPEC)
    assert again == first
    newer = await client.ensure_template(SPEC.model_copy(update={"image": "ghcr.io/acme/worker:2"}))
    assert (newer.id, newer.image) == (first.id, "ghcr.io/acme/worker:2")
    assert len(fakes.runpod.calls_to("POST /v2/templates")) == 1
    assert len(fakes.runpod.calls_to("PATCH /v2/templates/{id}")) == 1


async def test_duplicate_template_name_is_rejected_with_runpods_reason(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry
) -> None:
    client = _client(fakes, http, retry)
    await client.create_template(SPEC)
    with pytest.raises(InvalidRequest) as caught:
        await client.create_template(SPEC)
    assert str(caught.value) == (
        "RunPod rejected the request (400): template name 'kriptik-worker' must be unique. "
        "Correct the value it names and try again."
    )


async def test_the_endpoint_asks_for_its_images_cuda_and_the_contract_accepts_it(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry
) -> None:
    client = _client(fakes, http, retry)
    template = await client.ensure_template(SPEC)
    endpoint = await client.create_endpoint(_endpoint_spec(template.id, min_cuda_version="13.0"))
    body = fakes.runpod.calls_to("POST /v2/serverless")[0].json()
    assert body["gpu"]["minCudaVersion"] == "13.0"  # sent, and valid under the strict spec
    assert endpoint.min_cuda_version == "13.0"
    assert (await client.get_endpoint(endpoint.id)).min_cuda_version == "13.0"
    with pytest.raises(ValueError, match="pattern"):
        _endpoint_spec(template.id, min_cuda_version="13")  # a bare major is not a version


async def test_endpoint_lifecycle_and_readiness(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry
) -> None:
    client = _client(fakes, http, retry)
    template = await client.ensure_template(SPEC)
    endpoint = await client.ensure_endpoint(_endpoint_spec(template.id, workers_max=2))
    assert endpoint.image == SPEC.image and endpoint.gpu_pools == ("ADA_24",)
    assert endpoint.request_urls["health"] == f"{fakes.url('runpod_jobs')}/v2/{endpoint.id}/health"
    assert (await client.ensure_endpoint(_endpoint_spec(template.id))).id == endpoint.id
    assert len(fakes.runpod.calls_to("POST /v2/serverless")) == 1
    body = fakes.runpod.calls_to("POST /v2/serverless")[0].json()
    assert body["scaling"] == {"type": "QUEUE_DELAY", "queueDelay": 4.0} and body["type"] == "QUEUE"
    states = [(await client.workers(endpoint.id)).summary for _ in range(3)]
    assert [s.initializing for s in states] == [1, 1, 0]
    assert [s.ready for s in states] == [False, False, True]
    updated = await client.update_endpoint(
        endpoint.id, EndpointUpdate(workers_min=1, idle_timeout_s=30)
    )
    assert (updated.workers.min, updated.workers.max, updated.workers.idle_timeout) == (1, 2, 30)
    assert (await client.get_endpoint(endpoint.id)).workers.min == 1
    with pytest.raises(InvalidRequest, match="template is in use"):
        await client.delete_template(template.id)
    assert await client.delete_endpoint(endpoint.id) is True
    assert await client.list_endpoints() == []
    with pytest.raises(NotFound) as caught:
        await client.get_endpoint(endpoint.id)
    assert str(caught.value) == (
        f"RunPod could not find the endpoint {endpoint.id} (404). Check the name or id, "
        "and that it belongs to the account of this key."
    )


async def test_gpu_catalogue(fakes: FakeStack, http: httpx.AsyncClient, retry: Retry) -> None:
    gpus = {g.id: g for g in await _client(fakes, http, retry).gpu_types(availability=True)}
    h100 = gpus["NVIDIA H100 80GB HBM3"]
    assert (h100.pool, h100.memory_gb, h100.availability) == ("ADA_80_PRO", 80, "HIGH")
    assert h100.serverless_price_hr == pytest.approx(0.00116 * 3600)
    assert gpus["Tesla V100-SXM2-16GB"].pool is None
    assert gpus["Tesla V100-SXM2-16GB"].serverless_price_hr is None
    query = fakes.runpod.calls_to("GET /v2/catalog/gpus")[0].query
    assert ("include", "AVAILABILITY") in query and ("product", "SERVERLESS") in query


async def test_registry_credentials_once(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry, all_logs: pytest.LogCaptureFixture
) -> None:
    client, password = _client(fakes, http, retry), "registry-PLANTED-password"
    first = await client.ensure_registry("ghcr", username="acme", password=SecretStr(password))
    second = await client.ensure_registry("ghcr", username="acme", password=SecretStr(password))
    assert first == second
    [stored] = fakes.runpod.state.registries.values()
    assert (stored["username"], stored["password"]) == ("acme", password)
    assert password not in all_logs.text


async def test_read_only_key_cannot_create(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry
) -> None:
    client = _client(fakes, http, retry, rpf.READ_ONLY_KEY)
    assert await client.list_endpoints() == []
    with pytest.raises(ProviderPermissionError) as caught:
        await client.create_template(SPEC)
    assert str(caught.value) == (
        "RunPod refused this request (403): this API key is read-only. Deploying needs a RunPod key with read/write "
        "access, not a read-only one. Create a key with that access at https://www.runpod.io/console/user/settings, "
        "then paste it here."
    )


async def test_rejected_key(fakes: FakeStack, http: httpx.AsyncClient, retry: Retry) -> None:
    with pytest.raises(AuthError) as caught:
        await _client(fakes, http, retry, "rpa_wrong").list_endpoints()
    assert str(caught.value) == (
        "RunPod rejected the key (401). Create a new one at https://www.runpod.io/console/user/settings, "
        "then paste it here."
    )


async def test_429_on_a_create_waits_then_creates_exactly_once(
    fakes: FakeStack, http: httpx.AsyncClient, clock: FakeClock, retry: Retry
) -> None:
    client = _client(fakes, http, retry)
    template = await client.create_template(SPEC)
    fakes.runpod.fail("POST /v2/serverless", 429, retry_after=12)
    await client.create_endpoint(_endpoint_spec(template.id))
    assert clock.sleeps == [12.0]
    assert len(await client.list_endpoints()) == 1


async def test_errors_never_carry_the_key(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry, all_logs: pytest.LogCaptureFixture
) -> None:
    fakes.runpod.state.keys[PLANTED] = "rw"
    fakes.runpod.fail(
        "GET /v2/serverless", 500, times=None, message=f"upstream saw Bearer {PLANTED}"
    )
    fakes.runpod.fail("POST /v2/templates", 429, times=None)
    client = _client(fakes, http, retry, PLANTED)
    errors: list[ProviderError] = []
    for call in (client.list_endpoints, lambda: client.create_template(SPEC)):
        with pytest.raises((Upstream, RateLimited)) as caught:
            await call()
        errors.append(caught.value)
    text = " ".join([*map(str, errors), *map(repr, errors), repr(client), all_logs.text])
    assert PLANTED not in text


async def test_a_request_that_breaks_the_contract_fails_with_the_validators_message(
    fakes: FakeStack, http: httpx.AsyncClient, retry: Retry
) -> None:
    client = _client(fakes, http, retry)
    with pytest.raises(InvalidRequest):
        await client._api.call("POST", "/templates", json={"name": "t", "image": "i", "bogus": 1})
    [violation] = fakes.runpod.violations
    assert "Unevaluated properties are not allowed ('bogus' was unexpected)" in violation
    fakes.runpod.violations.clear()
