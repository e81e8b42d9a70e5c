"""HuggingFaceTarget (real `huggingface_hub` calls) against the Inference Endpoints fake.

Everything runs on 127.0.0.1: the Hub fake answers whoami and access checks, the endpoints
fake the management API and the endpoints' own URLs. Time moves only on the fake clock.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from huggingface_hub import HfApi
from huggingface_hub import constants as hf_constants
from huggingface_hub import errors as hf_errors
from pydantic import SecretStr

from tools.clients._http import Retry
from tools.clients.errors import (
    AuthError,
    GatedRepo,
    InvalidRequest,
    ProviderError,
    ProviderPermissionError,
    Upstream,
)
from tools.simulator.all import FakeStack
from tools.simulator.clock import FakeClock
from tools.simulator.hf_endpoints import HfEndpointsFake
from tools.simulator.huggingface import HfUser
from tools.targets.base import DeployTarget, TargetEndpoint, TargetGpu, TargetPlan
from tools.targets.huggingface import HuggingFaceTarget, endpoint_name

PLANTED = "hf_PLANTEDendpointsPLANTEDendpoints0123456"
USER = "user-1"
LLAMA = "kriptik-test/tiny-llama"
GATED = "kriptik-test/gated-llama"
L4 = "aws/us-east-1/nvidia-l4/x1"
CREATE = "POST /v2/endpoint/{namespace}"


# ---- helpers (this module's own fixtures: tests/targets has no shared conftest) ----------
@pytest.fixture(scope="module")
def stack() -> Iterator[FakeStack]:
    served = FakeStack().start()
    yield served
    served.stop()


@pytest.fixture
def fakes(stack: FakeStack, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeStack]:
    # HfApi refuses all calls when HF_HUB_OFFLINE was set at import; tests talk to a fake.
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hf_constants, "INFERENCE_ENDPOINTS_ENDPOINT", "http://0.0.0.0:9/v2")
    stack.reset()
    stack.huggingface.add_token(PLANTED, HfUser(name="ada", role="write", orgs=["lab"]))
    yield stack
    stack.assert_clean()


@pytest.fixture
def ie(fakes: FakeStack) -> HfEndpointsFake:
    return fakes.hf_endpoints


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False) as client:
        yield client


def _target(
    fakes: FakeStack, http: httpx.AsyncClient, clock: FakeClock, **kw: float
) -> HuggingFaceTarget:
    async def tokens(user_id: str) -> SecretStr:
        assert user_id == USER
        return SecretStr(PLANTED)

    retry = Retry(sleep=clock.sleep, clock=clock.now, rng=random.Random(7))
    return HuggingFaceTarget(
        http=http, tokens=tokens, hub_base_url=fakes.url("huggingface"),
        endpoints_base_url=fakes.url("hf_endpoints"), retry=retry, timeout_s=5.0, poll_s=5.0,
        **kw,
    )  # fmt: skip


@pytest.fixture
def target(fakes: FakeStack, http: httpx.AsyncClient, clock: FakeClock) -> HuggingFaceTarget:
    return _target(fakes, http, clock)


def _gpu(offer_id: str = L4, price: float = 0.8) -> TargetGpu:
    return TargetGpu(
        target="huggingface", offer_id=offer_id, label="NVIDIA L4 24 GB x1", gpu_memory_gib=24,
        usd_per_hour=price, region="us-east-1", source="test",
    )  # fmt: skip


def _plan(
    deployment_id: str = "dep-0001", *, repo: str = LLAMA, task: str = "text-generation",
    gpu: TargetGpu | None = None, image: str | None = None,
) -> TargetPlan:  # fmt: skip
    return TargetPlan(
        deployment_id=deployment_id, repo_id=repo, revision="main", task=task,
        gpu=gpu or _gpu(), image=image,
    )  # fmt: skip


class Progress:
    def __init__(self) -> None:
        self.texts: list[str] = []

    async def __call__(self, text: str) -> None:
        self.texts.append(text)


def _create_bodies(ie: HfEndpointsFake) -> list[dict[str, object]]:
    return [json.loads(c.body) for c in ie.calls_to(CREATE)]


# ---- the lifecycle ----------------------------------------------------------------------
def test_the_target_satisfies_the_protocol(target: HuggingFaceTarget) -> None:
    as_protocol: DeployTarget = target  # pyright checks the structure
    assert (as_protocol.name, as_protocol.credential) == ("huggingface", "huggingface")


async def test_catalog_lists_priced_gpu_offers_only(target: HuggingFaceTarget) -> None:
    offers = {o.offer_id: o for o in await target.catalog(USER)}
    assert "aws/us-east-1/intel-spr/x2" not in offers  # a CPU instance is no GPU offer
    l4, l40s = offers[L4], offers["aws/us-east-1/nvidia-l40s/x4"]
    assert (l4.usd_per_hour, l4.gpu_memory_gib, l4.gpu_count, l4.region) == (
        0.8, 24, 1, "us-east-1",
    )  # fmt: skip
    assert (l40s.gpu_count, l40s.gpu_memory_gib, l40s.usd_per_hour) == (4, 48, 8.3)
    assert "GET /v2/provider/ada" in l4.source and "2026-01-01" in l4.source


async def test_create_ready_smoke_teardown_leaves_zero_endpoints(
    target: HuggingFaceTarget, ie: HfEndpointsFake
) -> None:
    plan, progress = _plan(), Progress()
    created = await target.create(USER, plan)
    assert (created.state, created.url, created.resource_id) == (
        "pending", None, endpoint_name("dep-0001"),
    )  # fmt: skip
    ready = await target.wait_ready(USER, plan, progress, timeout_s=600)
    assert ready.state == "ready" and ready.url and ready.url.startswith("http://127.0.0.1:")
    assert len(progress.texts) == 3
    assert "provisioning NVIDIA L4" in progress.texts[0]
    assert f"loading {LLAMA}" in progress.texts[1] and "is ready" in progress.texts[2]
    result = await target.smoke_test(USER, ready, {"inputs": "Hello"})
    assert result == {
        "status": 200, "output": [{"generated_text": "Hello and so on."}], "cold_start_s": 0.0,
    }  # fmt: skip
    assert await target.running_usd_per_hour(USER, ready, plan) == 0.8
    assert await target.teardown(USER, plan) is True
    assert ie.live() == []
    assert await target.teardown(USER, plan) is True  # already gone: still nothing left
    assert await target.running_usd_per_hour(USER, ready, plan) == 0.0


async def test_create_sends_the_plan_and_scales_to_zero_after_the_idle_time(
    target: HuggingFaceTarget, ie: HfEndpointsFake
) -> None:
    await target.create(USER, _plan())
    (body,) = _create_bodies(ie)
    assert body["name"] == endpoint_name("dep-0001")
    assert body["compute"] == {
        "accelerator": "gpu", "instanceSize": "x1", "instanceType": "nvidia-l4",
        "scaling": {"maxReplica": 1, "minReplica": 0, "scaleToZeroTimeout": 15},
    }  # fmt: skip
    assert body["provider"] == {"region": "us-east-1", "vendor": "aws"}
    assert body["type"] == "authenticated"


@pytest.mark.parametrize(
    ("task", "image", "expected"),
    [
        ("text-generation", None, "tgi"),
        ("feature-extraction", None, "tei"),
        ("sentence-similarity", None, "tei"),
        ("text-classification", None, "huggingface"),
        ("text-to-image", "registry.example/kriptik/worker:abc", "custom"),
    ],
)
async def test_the_serving_image_fits_the_task(
    target: HuggingFaceTarget, ie: HfEndpointsFake, task: str, image: str | None, expected: str
) -> None:
    await target.create(USER, _plan(task=task, image=image))
    (body,) = _create_bodies(ie)
    model = body["model"]
    assert isinstance(model, dict)
    assert list(model["image"]) == [expected]
    if expected == "tei":  # the build for the L4's GPU generation
        assert model["image"]["tei"]["url"].endswith(":89-1.8")
    if expected == "custom":
        assert model["image"]["custom"]["url"] == image


def test_endpoint_names_follow_hugging_face_rules() -> None:
    names = {endpoint_name(d) for d in ("dep-0001", "DEP_0001", "x" * 80, "ümlaut/ü", "")}
    assert len(names) == 5
    for name in names:
        assert len(name) <= 32 and name == name.lower() and name.replace("-", "").isalnum()
    assert endpoint_name("dep-0001") == endpoint_name("dep-0001")


async def test_create_twice_is_one_endpoint(target: HuggingFaceTarget, ie: HfEndpointsFake) -> None:
    first = await target.create(USER, _plan())
    again = await target.create(USER, _plan())
    assert first.resource_id == again.resource_id
    assert len(ie.live()) == 1 and len(ie.calls_to(CREATE)) == 1


async def test_racing_creates_end_with_one_endpoint(
    target: HuggingFaceTarget, ie: HfEndpointsFake
) -> None:
    a, b = await asyncio.gather(target.create(USER, _plan()), target.create(USER, _plan()))
    assert a.resource_id == b.resource_id
    assert len(ie.live()) == 1  # the loser's 409 adopted the winner's endpoint


# ---- cold start -------------------------------------------------------------------------
async def _ready(target: HuggingFaceTarget, plan: TargetPlan) -> TargetEndpoint:
    await target.create(USER, plan)
    return await target.wait_ready(USER, plan, Progress(), timeout_s=600)


async def _scale_to_zero(fakes: FakeStack, name: str) -> None:
    hub = HfApi(endpoint=fakes.url("huggingface"), token=False)
    await asyncio.to_thread(
        hub.scale_to_zero_inference_endpoint, name, namespace="ada", token=PLANTED
    )


async def test_a_scaled_to_zero_endpoint_is_woken_through_its_503s(
    target: HuggingFaceTarget, fakes: FakeStack, clock: FakeClock
) -> None:
    plan = _plan()
    ready = await _ready(target, plan)
    await _scale_to_zero(fakes, ready.resource_id)
    assert await target.running_usd_per_hour(USER, ready, plan) == 0.0
    clock.sleeps.clear()
    result = await target.smoke_test(USER, ready, {"inputs": "Hi"})
    assert result["status"] == 200 and result["cold_start_s"] == 6.0
    assert clock.sleeps == [2.0, 4.0]  # two 503s while it woke, backing off


async def test_a_cold_start_longer_than_the_wait_says_so(
    fakes: FakeStack, http: httpx.AsyncClient, clock: FakeClock, ie: HfEndpointsFake
) -> None:
    target = _target(fakes, http, clock, cold_start_s=20.0)
    ready = await _ready(target, _plan())
    await _scale_to_zero(fakes, ready.resource_id)
    ie.knobs.wake_requests = 100
    with pytest.raises(Upstream, match=r"still starting after \d+ s \(503\)") as err:
        await target.smoke_test(USER, ready, {"inputs": "Hi"})
    assert "try the request again" in str(err.value)


async def test_wait_ready_resumes_a_paused_endpoint(
    target: HuggingFaceTarget, fakes: FakeStack
) -> None:
    plan = _plan()
    ready = await _ready(target, plan)
    hub = HfApi(endpoint=fakes.url("huggingface"), token=False)
    await asyncio.to_thread(
        hub.pause_inference_endpoint, ready.resource_id, namespace="ada", token=PLANTED
    )
    progress = Progress()
    again = await target.wait_ready(USER, plan, progress, timeout_s=600)
    assert again.state == "ready" and "resuming" in progress.texts[0]


# ---- faults: a clear message, and nothing left running ------------------------------------
async def test_quota_exceeded_is_refused_before_spend(
    target: HuggingFaceTarget, ie: HfEndpointsFake
) -> None:
    ie.quota["nvidia-l4"] = 0
    with pytest.raises(ProviderPermissionError, match="GPU quota is used up") as err:
        await target.create(USER, _plan())
    assert "0 of 0 NVIDIA L4 GPUs in use" in str(err.value)
    assert ie.live() == [] and ie.calls_to(CREATE) == []


async def test_quota_exceeded_by_the_service_says_the_same(
    target: HuggingFaceTarget, ie: HfEndpointsFake
) -> None:
    ie.fail(CREATE, 400, message="Quota exceeded for nvidia-l4: 1 of 1 accelerators in use")
    with pytest.raises(ProviderPermissionError, match="GPU quota is used up"):
        await target.create(USER, _plan())
    assert ie.live() == []


async def test_a_gpu_unavailable_in_its_region_is_refused_before_spend(
    target: HuggingFaceTarget, ie: HfEndpointsFake
) -> None:
    ie.set_status("aws-us-east-1-nvidia-l4-x1", "not_available")
    assert L4 not in {o.offer_id for o in await target.catalog(USER)}
    with pytest.raises(InvalidRequest, match="No NVIDIA L4 is available in aws us-east-1"):
        await target.create(USER, _plan())
    assert ie.live() == [] and ie.calls_to(CREATE) == []


async def test_an_offer_the_catalog_does_not_list_is_refused(
    target: HuggingFaceTarget, ie: HfEndpointsFake
) -> None:
    with pytest.raises(InvalidRequest, match="does not offer aws/us-east-1/nvidia-h100/x8"):
        await target.create(USER, _plan(gpu=_gpu("aws/us-east-1/nvidia-h100/x8")))
    assert ie.live() == []


async def test_a_model_that_fails_to_load_is_deleted_and_explained(
    target: HuggingFaceTarget, ie: HfEndpointsFake
) -> None:
    ie.failing_models[LLAMA] = "RuntimeError: CUDA out of memory while loading the weights"
    plan = _plan()
    await target.create(USER, plan)
    with pytest.raises(InvalidRequest) as err:
        await target.wait_ready(USER, plan, Progress(), timeout_s=600)
    message = str(err.value)
    assert f"The model {LLAMA} failed to load" in message and "CUDA out of memory" in message
    assert "nothing is billed" in message
    assert ie.live() == []


async def test_a_revoked_token_is_an_auth_error_and_creates_nothing(
    target: HuggingFaceTarget, ie: HfEndpointsFake
) -> None:
    ie.revoke(PLANTED)
    with pytest.raises(AuthError, match="rejected"):
        await target.create(USER, _plan())
    assert ie.live() == []


async def test_a_token_revoked_mid_deploy_stops_with_an_auth_error(
    target: HuggingFaceTarget, ie: HfEndpointsFake
) -> None:
    await target.create(USER, _plan())
    ie.revoke(PLANTED)
    with pytest.raises(AuthError, match="rejected"):
        await target.wait_ready(USER, _plan(), Progress(), timeout_s=600)


async def test_a_gated_model_without_access_is_refused_before_spend(
    target: HuggingFaceTarget, fakes: FakeStack, ie: HfEndpointsFake
) -> None:
    with pytest.raises(GatedRepo, match="Request access"):
        await target.create(USER, _plan(repo=GATED))
    assert ie.calls == [] and ie.live() == []
    fakes.huggingface.grant("ada", GATED)
    assert (await target.create(USER, _plan(repo=GATED))).state == "pending"


async def test_a_read_token_is_refused_before_spend_with_the_token_to_create(
    target: HuggingFaceTarget, fakes: FakeStack, ie: HfEndpointsFake
) -> None:
    fakes.huggingface.users[PLANTED].role = "read"
    with pytest.raises(ProviderPermissionError) as refused:
        await target.create(USER, _plan())
    message = str(refused.value)
    assert "is a Read token" in message and "cannot create Inference Endpoints" in message
    assert "Create a Write token at https://huggingface.co/settings/tokens/new?tokenType=write" in (
        message
    )
    assert "fine-grained token with the Inference Endpoints permissions" in message
    assert "Nothing was created" in message and PLANTED not in repr(refused.value)
    assert ie.calls == [] and ie.live() == []  # refused on whoami's word, before any call


async def test_a_fine_grained_token_needs_the_endpoints_permission(
    target: HuggingFaceTarget, fakes: FakeStack, ie: HfEndpointsFake
) -> None:
    ada = fakes.huggingface.users[PLANTED]
    ada.role, ada.permissions = "fineGrained", ["repo.content.read", "inference.serverless.write"]
    lacking = r"without the Inference Endpoints permission \(inference.endpoints.write\) on ada"
    with pytest.raises(ProviderPermissionError, match=lacking):
        await target.create(USER, _plan())
    assert ie.live() == []
    ada.permissions.append("inference.endpoints.write")
    assert (await target.create(USER, _plan())).state == "pending"


async def test_the_fake_refuses_a_read_token_as_hugging_face_does(
    target: HuggingFaceTarget, fakes: FakeStack, ie: HfEndpointsFake
) -> None:
    """The check above runs before the API would answer; the fake answers as the API does."""
    fakes.huggingface.users[PLANTED].role = "read"
    api = HfApi(endpoint=fakes.url("huggingface"), token=False)

    def create() -> object:
        return api.create_inference_endpoint(  # pyright: ignore[reportUnknownMemberType]
            "kt-direct", repository=LLAMA, framework="pytorch", accelerator="gpu",
            instance_size="x1", instance_type="nvidia-l4", region="us-east-1", vendor="aws",
            namespace="ada", token=PLANTED,
        )  # fmt: skip

    with pytest.raises(hf_errors.HfHubHTTPError) as refused:
        await asyncio.to_thread(create)
    assert refused.value.response.status_code == 403 and ie.live() == []


async def test_waiting_past_the_timeout_says_what_to_do(
    target: HuggingFaceTarget, ie: HfEndpointsFake
) -> None:
    ie.knobs.polls_per_state = 1000
    await target.create(USER, _plan())
    with pytest.raises(ProviderError, match="still pending after 30 s"):
        await target.wait_ready(USER, _plan(), Progress(), timeout_s=30)


# ---- the token stays secret ---------------------------------------------------------------
async def test_the_token_appears_in_no_error_repr_or_log(
    target: HuggingFaceTarget, ie: HfEndpointsFake, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    seen: list[str] = [repr(target)]
    ie.failing_models[LLAMA] = f"cannot load with token {PLANTED}"  # echoed by the provider
    plan = _plan()
    seen.append(repr(await target.create(USER, plan)))
    for attempt in (
        target.wait_ready(USER, plan, Progress(), timeout_s=600),
        target.create(USER, _plan("dep-2", gpu=_gpu("aws/us-east-1/nvidia-h100/x8"))),
    ):
        with pytest.raises(ProviderError) as err:
            await attempt
        seen += [str(err.value), repr(err.value)]
    ie.revoke(PLANTED)
    with pytest.raises(AuthError) as auth:
        await target.create(USER, plan)
    seen += [str(auth.value), repr(auth.value), caplog.text]
    assert "[redacted]" in seen[2]  # the echoed token was scrubbed from the provider's words
    assert not [s for s in seen if PLANTED in s]
