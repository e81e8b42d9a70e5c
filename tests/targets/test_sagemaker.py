"""`SageMakerTarget` against the AWS fake (boto3 through an assumed role, every request
checked against botocore's models and SigV4): priced offers with their quota, the lifecycle
down to 0 resources, a second create adopting the first, the refusals before any spend, and
each fault with the message the user reads."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from pydantic import SecretStr

from tools.clients._http import Retry
from tools.clients.aws_errors import PassRoleDenied, QuotaExceeded
from tools.clients.ecr import EcrClient
from tools.clients.errors import (
    AuthError,
    InvalidRequest,
    ProviderError,
    ProviderPermissionError,
)
from tools.clients.sagemaker import EndpointFailed
from tools.pipeline.ecr_registry import ecr_tag
from tools.simulator import aws_catalog
from tools.simulator import aws_state as st
from tools.simulator.all import FakeStack
from tools.simulator.clock import FakeClock
from tools.targets import _sagemaker as rules
from tools.targets.base import TargetGpu, TargetPlan
from tools.targets.sagemaker import SageMakerTarget, resource_name
from vault.settings import Settings

ROLE = {"role_arn": st.ROLE_ARN, "external_id": st.EXTERNAL_ID, "region": "us-east-1"}
DEP = "dep_01HSAGEMAKER"


class Vaulted:
    """The user's stored `aws` credential, as the target's token source reads it."""

    def __init__(self, fields: dict[str, str]) -> None:
        self.secret = SecretStr(json.dumps(fields))

    async def __call__(self, user_id: str) -> SecretStr:
        assert user_id == "u1"
        return self.secret


def _target(
    fakes: FakeStack, tmp_path: Path, fields: dict[str, str] | None = None
) -> SageMakerTarget:
    settings = Settings(**fakes.settings_fields(), http_timeout_s=5.0)
    clock = FakeClock()
    retry = Retry(sleep=clock.sleep, clock=clock.now, rng=random.Random(7))
    return SageMakerTarget(settings=settings, tokens=Vaulted(fields or ROLE),
                           prices_path=tmp_path / "prices.json", retry=retry, poll_s=1.0)  # fmt: skip


@pytest.fixture
def target(fakes: FakeStack, tmp_path: Path) -> SageMakerTarget:
    return _target(fakes, tmp_path)


async def _plan(
    target: SageMakerTarget, offer_id: str = "ml.g5.xlarge", **kw: object
) -> TargetPlan:
    offer = next(g for g in await target.catalog("u1") if g.offer_id == offer_id)
    # One instance always on: the classic endpoint (scale to zero: test_sagemaker_zero.py).
    fields: dict[str, object] = {"deployment_id": DEP, "repo_id": "acme/tiny-llm",
                                 "revision": "abc123", "task": "text-generation", "gpu": offer,
                                 "min_replicas": 1, **kw}  # fmt: skip
    return TargetPlan.model_validate(fields)


class Recorder:
    def __init__(self, on_line: object = None) -> None:
        self.lines: list[str] = []
        self.on_line = on_line

    async def __call__(self, text: str) -> None:
        self.lines.append(text)
        if callable(self.on_line):
            self.on_line()


def _creates(fakes: FakeStack) -> int:
    return sum(1 for c in fakes.aws.calls if "CreateModel" in c.headers.get("x-amz-target", ""))


def test_the_instance_table_matches_the_fakes_hardware() -> None:
    ours = {t.name: (t.gpus, t.gpu, t.gpu_memory_gib, t.vcpus, t.memory_gib)
            for t in rules.INSTANCE_TYPES}  # fmt: skip
    fake = {name: spec[:5] for name, spec in aws_catalog.INSTANCES.items()}
    assert ours == fake


async def test_catalog_prices_each_type_from_the_price_list_with_its_quota(
    fakes: FakeStack, target: SageMakerTarget, tmp_path: Path
) -> None:
    fakes.aws.state.quotas["ml.g6.xlarge"] = 0
    offers = {o.offer_id: o for o in await target.catalog("u1")}
    g5 = offers["ml.g5.xlarge"]
    assert (g5.gpu_count, g5.gpu_memory_gib, g5.region) == (1, 24.0, "us-east-1")
    assert g5.usd_per_hour == pytest.approx(1.408)
    assert "AWS Price List API (AmazonSageMaker, us-east-1)" in g5.source and "read 20" in g5.source
    p4d = offers["ml.p4d.24xlarge"]
    assert (p4d.gpu_count, p4d.gpu_memory_gib) == (8, 40.0)
    # A fresh account's 8-GPU types and the one set to 0 are listed, blocked, with the link.
    assert p4d.quota_note and "servicequotas" in p4d.quota_note
    assert offers["ml.g6.xlarge"].quota_note and g5.quota_note is None
    # Cached with its date: a second look asks the Price List nothing.
    assert json.loads((tmp_path / "prices.json").read_text())["us-east-1/ml.g5.xlarge"]["as_of"]
    fakes.aws.calls.clear()
    await target.catalog("u1")
    assert not [c for c in fakes.aws.calls if "GetProducts" in c.headers.get("x-amz-target", "")]


async def test_create_wait_smoke_teardown_leaves_zero_resources(
    fakes: FakeStack, target: SageMakerTarget
) -> None:
    plan = await _plan(target)
    fakes.aws.state.ready_after = 4  # two creates look once each, then two more looks
    created = await target.create("u1", plan)
    assert created.resource_id == resource_name(DEP) and created.state == "initializing"
    again = await target.create("u1", plan)  # a retry adopts what exists
    assert again.resource_id == created.resource_id
    assert list(fakes.aws.state.endpoints) == [("us-east-1", resource_name(DEP))]
    progress = Recorder()
    ready = await target.wait_ready("u1", plan, progress, timeout_s=600)
    assert ready.state == "ready" and ready.url and ready.url.endswith("/invocations")
    assert "(Creating)" in progress.lines[0] and progress.lines[-1].endswith("is in service.")
    model = fakes.aws.state.models[("us-east-1", resource_name(DEP))].body
    assert "huggingface-pytorch-tgi-inference" in model["PrimaryContainer"]["Image"]
    assert model["PrimaryContainer"]["Environment"]["HF_MODEL_ID"] == "acme/tiny-llm"
    assert model["ExecutionRoleArn"].endswith(":role/kriptik-sagemaker-" +
                                              rules_suffix(st.EXTERNAL_ID))  # fmt: skip
    out = await target.smoke_test("u1", ready, {"inputs": "Hi"})
    assert out == {"output": [{"generated_text": "Hi [simulated answer]"}]}
    assert await target.running_usd_per_hour("u1", ready, plan) == pytest.approx(1.408)
    assert await target.teardown("u1", plan) is True
    assert fakes.aws.state.resources() == {}
    assert await target.teardown("u1", plan) is True


def rules_suffix(external_id: str) -> str:
    from tools.clients.aws_permissions import AwsNames

    return AwsNames.for_external_id(external_id).suffix


async def test_a_worker_image_in_ecr_is_deleted_with_the_endpoint(
    fakes: FakeStack, target: SageMakerTarget
) -> None:
    repo = f"kriptik-workers-{rules_suffix(st.EXTERNAL_ID)}"
    session = await target.session("u1", "us-east-1")
    await EcrClient(session).ensure_repository(repo)
    tag = ecr_tag("tiny-diffusion", DEP, "0123456789ab")  # as the image step tags it
    fakes.aws.push_image("us-east-1", repo, tag)
    image = f"{st.USER_ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/{repo}:{tag}"
    plan = await _plan(target, task="text-to-image", image=image)
    await target.create("u1", plan)
    assert fakes.aws.state.models[("us-east-1", resource_name(DEP))].body["PrimaryContainer"][
        "Environment"]["KRIPTIK_SERVE"] == "sagemaker"  # fmt: skip
    assert await target.teardown("u1", plan) is True
    assert fakes.aws.state.resources() == {}  # no endpoint, image or (empty) repository


async def test_bad_input_is_refused_before_any_spend(
    fakes: FakeStack, target: SageMakerTarget, tmp_path: Path
) -> None:
    plan = await _plan(target)
    # A malformed role ARN: the credential itself.
    bad = _target(fakes, tmp_path, {"role_arn": "arn:aws:iam::12:user/bob", "external_id": "x1"})
    with pytest.raises(AuthError, match="user ARN; paste the role's ARN"):
        await bad.create("u1", plan)
    # A region that does not sell the type (the plan names it; the price list says no).
    p5 = TargetGpu(target="sagemaker", offer_id="ml.p5.48xlarge", label="p5", gpu_count=8,
                   gpu_memory_gib=80, usd_per_hour=113.0, region="eu-central-1", source="t")  # fmt: skip
    with pytest.raises(
        InvalidRequest, match=r"does not sell ml\.p5\.48xlarge endpoints in eu-central-1"
    ):
        await target.create("u1", plan.model_copy(update={"gpu": p5}))
    # A role whose trust policy does not require the external id.
    fakes.aws.state.roles[st.ROLE_ARN].external_id = None
    with pytest.raises(ProviderPermissionError, match="without your external id"):
        await target.create("u1", plan)
    fakes.aws.state.roles[st.ROLE_ARN].external_id = st.EXTERNAL_ID
    # An offer the account has no quota for.
    fakes.aws.state.quotas["ml.g5.xlarge"] = 0
    with pytest.raises(
        ProviderPermissionError, match=r"quota for ml.g5.xlarge .* is 0.*servicequotas"
    ):
        await target.create("u1", plan)
    assert _creates(fakes) == 0 and fakes.aws.state.resources() == {}


async def test_the_dry_check_names_a_missing_passrole_before_spend(
    fakes: FakeStack, target: SageMakerTarget
) -> None:
    plan = await _plan(target)
    fakes.aws.deny(st.ROLE_ARN, "iam:PassRole")
    with pytest.raises(
        ProviderPermissionError, match=r"missing iam:PassRole\. Update your KripTik"
    ):
        await target.create("u1", plan)
    assert _creates(fakes) == 0 and fakes.aws.state.resources() == {}


async def test_passrole_denied_at_create_names_the_execution_role(
    fakes: FakeStack, target: SageMakerTarget
) -> None:
    # The dry check cannot run (the role may not simulate itself): CreateModel finds out.
    plan = await _plan(target)
    fakes.aws.deny(st.ROLE_ARN, "iam:SimulatePrincipalPolicy")
    fakes.aws.deny(st.ROLE_ARN, "iam:PassRole")
    with pytest.raises(PassRoleDenied) as caught:
        await target.create("u1", plan)
    assert "kriptik-sagemaker-" in str(caught.value) and "iam:PassRole" in str(caught.value)
    assert fakes.aws.state.resources() == {}


async def test_resource_limit_exceeded_says_which_quota_and_where_to_ask(
    fakes: FakeStack, target: SageMakerTarget
) -> None:
    plan = await _plan(target)
    fakes.aws.fail_op("sagemaker:CreateEndpoint", "ResourceLimitExceeded",
                      message="The account-level service limit 'ml.g5.xlarge for endpoint usage' "
                      "is 2 Instances, with current utilization of 2 Instances.")  # fmt: skip
    with pytest.raises(QuotaExceeded) as caught:
        await target.create("u1", plan)
    assert "ml.g5.xlarge for endpoint usage" in str(caught.value)
    assert "servicequotas" in caught.value.quota_url
    assert await target.teardown("u1", plan) is True
    assert fakes.aws.state.resources() == {}


async def test_a_failed_endpoint_is_deleted_and_reported_with_its_reason(
    fakes: FakeStack, target: SageMakerTarget
) -> None:
    plan = await _plan(target)
    fakes.aws.fail_endpoint(resource_name(DEP), "CUDA out of memory while loading shards.")
    await target.create("u1", plan)
    with pytest.raises(EndpointFailed) as caught:
        await target.wait_ready("u1", plan, Recorder(), timeout_s=600)
    assert "CUDA out of memory while loading shards." in str(caught.value)
    assert "nothing is running or billing" in str(caught.value)
    assert fakes.aws.state.resources() == {}


async def test_throttling_is_waited_out(fakes: FakeStack, target: SageMakerTarget) -> None:
    plan = await _plan(target)
    await target.create("u1", plan)
    fakes.aws.throttle("sagemaker:DescribeEndpoint", times=2)
    ready = await target.wait_ready("u1", plan, Recorder(), timeout_s=600)
    assert ready.state == "ready"
    assert await target.teardown("u1", plan)


async def test_expired_session_credentials_mid_deploy_are_renewed_by_assuming_again(
    fakes: FakeStack, target: SageMakerTarget
) -> None:
    plan = await _plan(target)
    await target.create("u1", plan)
    before = sum(1 for a in fakes.aws.state.accounts.values() if a.role)
    expired: list[int] = []
    progress = Recorder(
        lambda: expired.append(fakes.aws.expire_sessions()) if not expired else None
    )
    ready = await target.wait_ready("u1", plan, progress, timeout_s=600)
    assert ready.state == "ready" and expired and expired[0] >= 1
    assert sum(1 for a in fakes.aws.state.accounts.values() if a.role) == before + 1
    assert await target.teardown("u1", plan)
    assert fakes.aws.state.resources() == {}


async def test_no_secret_in_errors_or_repr(fakes: FakeStack, tmp_path: Path) -> None:
    fields = {"access_key_id": st.ACCESS_KEY_ID, "secret_access_key": "wrong" + "S" * 35}
    target = _target(fakes, tmp_path, fields)
    with pytest.raises(ProviderError) as caught:
        await target.catalog("u1")
    assert "wrongSSS" not in str(caught.value) and "wrongSSS" not in repr(target)
    fakes.aws.violations.clear()  # a wrong secret is what this test sends
