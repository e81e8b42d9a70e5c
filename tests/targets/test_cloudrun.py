"""`CloudRunTarget` against the Google fakes (token endpoint, Cloud Run Admin v2 with its
long-running operations, Resource Manager): the lifecycle ends with zero services, a
second create adopts the first, each fault has a clear message and leaves nothing
running, and the service-account key and tokens appear in no error, repr or log."""

from __future__ import annotations

import json
import logging
import random
from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr

from tools.clients._http import Retry
from tools.clients.cloudrun import GpuQuotaExceeded, GpuUnavailable, ServiceFailed
from tools.clients.errors import AuthError, InvalidRequest, ProviderError, ProviderPermissionError
from tools.simulator.all import FakeStack
from tools.simulator.clock import FakeClock
from tools.simulator.gcp_oauth import ALL_PERMISSIONS
from tools.targets.base import TargetPlan
from tools.targets.cloudrun import L4_USD_PER_HOUR, CloudRunTarget, service_id_for
from vault.settings import Settings

IMAGE = "us-central1-docker.pkg.dev/kriptik-demo/kriptik/worker:1"
CREATE = "POST /v2/projects/{project}/locations/{location}/services"


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False) as client:
        yield client


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def key(fakes: FakeStack) -> SecretStr:
    return SecretStr(fakes.google_oauth.state.new_service_account())


def _target(
    fakes: FakeStack, http: httpx.AsyncClient, clock: FakeClock, key: SecretStr
) -> CloudRunTarget:
    async def tokens(user_id: str) -> SecretStr:
        assert user_id == "u1"
        return key

    settings = Settings(**fakes.settings_fields(), http_timeout_s=5.0)
    retry = Retry(sleep=clock.sleep, clock=clock.now, rng=random.Random(7))
    return CloudRunTarget(http=http, settings=settings, tokens=tokens, retry=retry, poll_s=2.0)


@pytest.fixture
def target(
    fakes: FakeStack, http: httpx.AsyncClient, clock: FakeClock, key: SecretStr
) -> CloudRunTarget:
    return _target(fakes, http, clock, key)


async def _plan(target: CloudRunTarget, *, region: str = "us-central1", **kw: object) -> TargetPlan:
    offer = next(g for g in await target.catalog("u1") if g.region == region)
    fields: dict[str, object] = {"deployment_id": "dep_01HXYZ", "repo_id": "acme/tiny-llm",
                                 "revision": "abc123", "task": "text-generation", "gpu": offer,
                                 "image": IMAGE, **kw}  # fmt: skip
    return TargetPlan.model_validate(fields)


class Recorder:
    def __init__(self) -> None:
        self.lines: list[str] = []

    async def __call__(self, text: str) -> None:
        self.lines.append(text)


async def test_catalog_lists_priced_l4_offers_with_their_source(target: CloudRunTarget) -> None:
    offers = await target.catalog("u1")
    assert {o.region for o in offers} >= {"us-central1", "europe-west4"}
    assert all(o.offer_id == "nvidia-l4" and o.gpu_memory_gib == 24 for o in offers)
    assert all(o.usd_per_hour == L4_USD_PER_HOUR and "cloud.google.com/run/pricing" in o.source
               for o in offers)  # fmt: skip
    assert 1.0 < L4_USD_PER_HOUR < 1.1


async def test_create_wait_smoke_teardown_leaves_zero_services(
    fakes: FakeStack, target: CloudRunTarget
) -> None:
    plan = await _plan(target, max_replicas=2, concurrency=4)
    created = await target.create("u1", plan)
    assert created.state == "initializing" and created.url is None
    progress = Recorder()
    ready = await target.wait_ready("u1", plan, progress, timeout_s=600)
    assert ready.state == "ready" and ready.url and progress.lines[-1].endswith("is ready.")
    body = fakes.cloudrun.calls_to(CREATE)[0].json()
    template = body["template"]
    assert template["nodeSelector"] == {"accelerator": "nvidia-l4"}
    assert template["containers"][0]["resources"]["limits"] == {
        "cpu": "4", "memory": "16Gi", "nvidia.com/gpu": "1"}  # fmt: skip
    assert template["scaling"] == {"minInstanceCount": 0, "maxInstanceCount": 2}
    assert template["maxInstanceRequestConcurrency"] == 4 and template["gpuZonalRedundancyDisabled"]
    out = await target.smoke_test("u1", ready, {"prompt": "hi"})
    assert out["output"]["echo"] == {"prompt": "hi"}
    assert await target.running_usd_per_hour("u1", ready, plan) is None  # 0..2 instances
    assert await target.teardown("u1", plan) is True
    assert fakes.cloudrun.services == {}
    assert await target.teardown("u1", plan) is True  # already gone: still True


async def test_the_service_is_private(
    fakes: FakeStack, target: CloudRunTarget, http: httpx.AsyncClient
) -> None:
    plan = await _plan(target)
    await target.create("u1", plan)
    ready = await target.wait_ready("u1", plan, Recorder(), timeout_s=600)
    assert ready.url
    anonymous = await http.post(ready.url + "/runsync", json={"input": {}})
    assert anonymous.status_code == 401
    await target.teardown("u1", plan)


async def test_create_twice_makes_one_service(fakes: FakeStack, target: CloudRunTarget) -> None:
    plan = await _plan(target)
    first = await target.create("u1", plan)
    second = await target.create("u1", plan)
    assert first.resource_id == second.resource_id == service_id_for(plan.deployment_id)
    assert len(fakes.cloudrun.services) == 1
    assert [c.status for c in fakes.cloudrun.calls_to(CREATE)] == [200, 409]
    await target.teardown("u1", plan)
    assert fakes.cloudrun.services == {}


async def test_gpu_quota_exceeded_is_clear_and_creates_nothing(
    fakes: FakeStack, target: CloudRunTarget
) -> None:
    fakes.cloudrun.gpu_quota["us-central1"] = 1
    with pytest.raises(GpuQuotaExceeded, match=r"quota is used up.*Request more"):
        await target.create("u1", await _plan(target, max_replicas=3))
    assert fakes.cloudrun.services == {} and len(fakes.cloudrun.calls_to(CREATE)) == 1


async def test_gpu_unavailable_in_the_region_is_clear(
    fakes: FakeStack, target: CloudRunTarget
) -> None:
    fakes.cloudrun.gpu_regions.discard("europe-west4")
    with pytest.raises(GpuUnavailable, match=r"europe-west4.*Pick another region"):
        await target.create("u1", await _plan(target, region="europe-west4"))
    assert fakes.cloudrun.services == {}


async def test_a_container_that_fails_to_start_is_removed_and_reported(
    fakes: FakeStack, target: CloudRunTarget
) -> None:
    fakes.cloudrun.crashing_images.add(IMAGE)
    plan = await _plan(target)
    await target.create("u1", plan)
    with pytest.raises(ServiceFailed, match=r"failed to start.*nothing is running"):
        await target.wait_ready("u1", plan, Recorder(), timeout_s=600)
    assert fakes.cloudrun.services == {}


async def test_the_create_operation_ends_with_the_error(
    fakes: FakeStack, target: CloudRunTarget
) -> None:
    fakes.cloudrun.crashing_images.add(IMAGE)
    plan = await _plan(target)
    await target.create("u1", plan)
    op = next(iter(fakes.cloudrun.operations.values()))
    _, client = await target._client("u1")  # pyright: ignore[reportPrivateUsage]
    with pytest.raises(ServiceFailed, match="failed to start"):
        await client.wait_operation({"name": op.name, "done": False}, poll_s=1)
    await target.teardown("u1", plan)


async def test_a_revoked_key_is_an_auth_error_and_nothing_is_created(
    fakes: FakeStack, target: CloudRunTarget, key: SecretStr, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fakes.google_oauth.state.revoke(json.loads(key.get_secret_value())["client_email"])
    with pytest.raises(AuthError, match="Create a new JSON key") as caught:
        await target.create("u1", await _plan(target))
    assert fakes.cloudrun.calls == [] and fakes.cloudrun.services == {}
    _assert_hidden(key, [str(caught.value), repr(caught.value), caplog.text, repr(target)])


async def test_bad_input_is_refused_before_any_call(
    fakes: FakeStack, target: CloudRunTarget
) -> None:
    plan = await _plan(target)
    nowhere = plan.model_copy(update={"gpu": plan.gpu.model_copy(update={"region": "us-west2"})})
    with pytest.raises(InvalidRequest, match="no L4 GPUs in 'us-west2'"):
        await target.create("u1", nowhere)
    with pytest.raises(InvalidRequest, match="worker image"):
        await target.create("u1", plan.model_copy(update={"image": None}))
    assert fakes.google_oauth.calls == [] and fakes.cloudrun.calls == []


async def test_a_key_without_the_roles_is_refused_before_spend(
    fakes: FakeStack, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    perms = ALL_PERMISSIONS - {"iam.serviceAccounts.actAs"}
    weak = SecretStr(fakes.google_oauth.state.new_service_account(permissions=perms))
    target = _target(fakes, http, clock, weak)
    with pytest.raises(ProviderPermissionError, match=r"lacks iam\.serviceAccounts\.actAs"):
        await target.create("u1", await _plan(target))
    assert fakes.cloudrun.calls_to(CREATE) == []


async def test_running_cost_is_known_only_where_the_count_is(target: CloudRunTarget) -> None:
    plan = await _plan(target, min_replicas=1, max_replicas=1)
    ep = await target.create("u1", plan)
    assert await target.running_usd_per_hour("u1", ep, plan) == pytest.approx(L4_USD_PER_HOUR)
    await target.teardown("u1", plan)
    gone = ep.model_copy(update={"state": "gone"})
    assert await target.running_usd_per_hour("u1", gone, plan) == 0.0


async def test_wait_ready_times_out_with_a_clear_message(
    fakes: FakeStack, target: CloudRunTarget
) -> None:
    fakes.cloudrun.polls_to_done = 10_000
    plan = await _plan(target)
    await target.create("u1", plan)
    with pytest.raises(ProviderError, match=r"was not ready after 30 s"):
        await target.wait_ready("u1", plan, Recorder(), timeout_s=30)
    fakes.cloudrun.polls_to_done = 1
    await target.teardown("u1", plan)
    assert fakes.cloudrun.services == {}


def test_service_ids_are_valid_and_distinct() -> None:
    ids = {service_id_for(d) for d in ("dep_1", "DEP_1", "x" * 200, "--weird__id--")}
    assert len(ids) == 4
    assert all(len(i) <= 49 and i[0].isalpha() and i == i.lower() for i in ids)


def _assert_hidden(key: SecretStr, texts: list[str]) -> None:
    pem = json.loads(key.get_secret_value())["private_key"]
    body = "".join(pem.splitlines()[1:-1])[:40]
    assert all(pem not in t and body not in t for t in texts)
