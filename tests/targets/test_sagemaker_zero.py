"""`SageMakerTarget` scaling to zero (`plan.min_replicas == 0`) against the AWS fake, boto3
for real (SigV4, botocore's models, the role's IAM policy): an inference component on an
endpoint with managed instance scaling, Application Auto Scaling's target and policies and
the CloudWatch alarm that wakes it; scaled in to 0 instances (no cost), woken by a request,
torn down to 0 resources; a crash mid-create adopted by the next run; a missing permission
refused before any spend; and the fake holding these services to botocore's models."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import boto3.session  # pyright: ignore[reportMissingTypeStubs]
import pytest
from botocore.config import Config  # pyright: ignore[reportMissingTypeStubs]
from botocore.exceptions import ClientError  # pyright: ignore[reportMissingTypeStubs]
from pydantic import SecretStr

from tools.clients._http import Retry
from tools.clients.errors import InvalidRequest, ProviderPermissionError, Timeout
from tools.clients.sagemaker_runtime import SageMakerRuntimeClient
from tools.simulator import aws_state as st
from tools.simulator.all import FakeStack
from tools.simulator.clock import FakeClock
from tools.targets import _sagemaker_zero as zero
from tools.targets.base import TargetPlan
from tools.targets.sagemaker import SageMakerTarget, resource_name
from vault.settings import Settings

ROLE = {"role_arn": st.ROLE_ARN, "external_id": st.EXTERNAL_ID, "region": "us-east-1"}
DEP = "dep_01HZEROSAGEMAKER"
NAME = resource_name(DEP)
KEY = ("us-east-1", NAME)


class Vaulted:
    def __init__(self) -> None:
        self.secret = SecretStr(json.dumps(ROLE))

    async def __call__(self, user_id: str) -> SecretStr:
        return self.secret


def _target(fakes: FakeStack, tmp_path: Path, *, cold_start_s: float = 900.0) -> SageMakerTarget:
    settings = Settings(**fakes.settings_fields(), http_timeout_s=5.0)
    clock = FakeClock()
    retry = Retry(sleep=clock.sleep, clock=clock.now, rng=random.Random(7))
    return SageMakerTarget(settings=settings, tokens=Vaulted(), prices_path=tmp_path / "p.json",
                           retry=retry, poll_s=1.0, cold_start_s=cold_start_s)  # fmt: skip


@pytest.fixture
def target(fakes: FakeStack, tmp_path: Path) -> SageMakerTarget:
    return _target(fakes, tmp_path)


async def _plan(target: SageMakerTarget, **kw: object) -> TargetPlan:
    offer = next(g for g in await target.catalog("u1") if g.offer_id == "ml.g5.xlarge")
    fields: dict[str, object] = {"deployment_id": DEP, "repo_id": "acme/tiny-llm",
                                 "revision": "abc123", "task": "text-generation", "gpu": offer,
                                 "min_replicas": 0, "max_replicas": 2,
                                 "idle_scale_to_zero_s": 600, **kw}  # fmt: skip
    return TargetPlan.model_validate(fields)


class Recorder:
    def __init__(self) -> None:
        self.lines: list[str] = []

    async def __call__(self, text: str) -> None:
        self.lines.append(text)


def _invocations(fakes: FakeStack) -> int:
    return sum(1 for c in fakes.aws.calls if c.path.endswith("/invocations"))


def _creates(fakes: FakeStack) -> list[str]:
    targets = (c.headers.get("x-amz-target", "") for c in fakes.aws.calls)
    return [t for t in targets if ".Create" in t or ".Put" in t or ".Register" in t]


async def test_a_deployment_scales_to_zero_wakes_on_a_request_and_tears_down_to_nothing(
    fakes: FakeStack, target: SageMakerTarget
) -> None:
    plan = await _plan(target)
    created = await target.create("u1", plan)
    assert created.state == "initializing" and created.url is None
    progress = Recorder()
    ready = await target.wait_ready("u1", plan, progress, timeout_s=600)
    assert ready.state == "ready" and ready.url and ready.url.endswith(f"/{NAME}/invocations")
    assert any("(Creating)" in line for line in progress.lines)
    assert any("instance in service, model Creating" in line for line in progress.lines)
    state = fakes.aws.state
    variant = state.endpoint_configs[KEY].body["ProductionVariants"][0]
    assert "ModelName" not in variant and variant["InitialInstanceCount"] == 1
    assert variant["ManagedInstanceScaling"] == {
        "Status": "ENABLED", "MinInstanceCount": 0, "MaxInstanceCount": 2,
    }  # fmt: skip
    needs = state.inference_components[KEY].body["Specification"]["ComputeResourceRequirements"]
    assert needs == {"NumberOfAcceleratorDevicesRequired": 1.0, "MinMemoryRequiredInMb": 8192}
    scaling = state.scalable_targets[("us-east-1", f"inference-component/{NAME}")]
    assert (scaling.min_capacity, scaling.max_capacity) == (0, 2)
    policies = {p.name: p for p in state.scaling_policies.values()}
    idle = policies[f"{NAME}-idle"].body["TargetTrackingScalingPolicyConfiguration"]
    assert idle["ScaleInCooldown"] == 600
    assert idle["PredefinedMetricSpecification"]["PredefinedMetricType"] == zero.TRACKED_METRIC
    alarm = state.alarms[("us-east-1", f"{NAME}-no-capacity")].body
    assert alarm["MetricName"] == "NoCapacityInvocationFailures"
    assert alarm["Dimensions"] == [{"Name": "InferenceComponentName", "Value": NAME}]
    assert alarm["AlarmActions"] == [policies[f"{NAME}-scale-out"].arn]
    assert state.service_linked_roles == {"sagemaker.application-autoscaling.amazonaws.com"}

    answer = {"output": [{"generated_text": "Hi [simulated answer]"}]}
    assert await target.smoke_test("u1", ready, {"inputs": "Hi"}) == answer
    assert await target.running_usd_per_hour("u1", ready, plan) == pytest.approx(1.408)

    # Idle past the cooldown: target tracking takes the copies, and the instance, to zero.
    assert fakes.aws.scale_in(NAME) == 0
    assert await target.running_usd_per_hour("u1", ready, plan) == 0.0
    fakes.aws.calls.clear()
    woken = Recorder()
    assert await target.smoke_test("u1", ready, {"inputs": "Hi"}, woken) == answer
    assert _invocations(fakes) == 2  # the first met no capacity and set the alarm off
    assert woken.lines and "scaled to zero" in woken.lines[0]
    assert state.alarms[("us-east-1", f"{NAME}-no-capacity")].state == "OK"
    assert await target.running_usd_per_hour("u1", ready, plan) == pytest.approx(1.408)

    assert await target.teardown("u1", plan) is True
    assert state.resources() == {} and state.resource_count() == 0
    assert await target.teardown("u1", plan) is True  # nothing left to find: still fine


async def test_without_its_wake_alarm_a_request_at_zero_waits_then_says_what_to_do(
    fakes: FakeStack, tmp_path: Path
) -> None:
    target = _target(fakes, tmp_path, cold_start_s=20)
    plan = await _plan(target)
    await target.create("u1", plan)
    ready = await target.wait_ready("u1", plan, Recorder(), timeout_s=600)
    del fakes.aws.state.alarms[("us-east-1", f"{NAME}-no-capacity")]  # nothing will wake it
    fakes.aws.scale_in(NAME)
    with pytest.raises(Timeout, match=r"scaled to zero and no copy .* after 20 s"):
        await target.smoke_test("u1", ready, {"inputs": "Hi"})
    # A caller that names no component on such an endpoint is refused by SageMaker itself.
    session = await target.session("u1", "us-east-1")
    with pytest.raises(InvalidRequest, match="Inference Component Name header is required"):
        await SageMakerRuntimeClient(session).invoke(NAME, b'{"inputs": "Hi"}')
    assert await target.teardown("u1", plan) is True
    assert fakes.aws.state.resource_count() == 0


@pytest.mark.parametrize(
    "crash_at",
    [
        "sagemaker:CreateEndpoint",
        "sagemaker:CreateInferenceComponent",
        "application-autoscaling:PutScalingPolicy",
        "cloudwatch:PutMetricAlarm",
    ],
)
async def test_a_create_that_crashed_midway_is_adopted_by_the_next_run(
    fakes: FakeStack, target: SageMakerTarget, crash_at: str
) -> None:
    fakes.aws.state.ready_after = 0  # in service at once, so one create goes all the way
    plan = await _plan(target)
    fakes.aws.fail_op(crash_at, "ValidationException", message="Injected: the process died.")
    with pytest.raises(InvalidRequest, match="Injected"):
        await target.create("u1", plan)
    await target.create("u1", plan)
    ready = await target.wait_ready("u1", plan, Recorder(), timeout_s=600)
    assert ready.state == "ready"
    found = fakes.aws.state.resources()
    one = [f"us-east-1/{NAME}"]
    assert {k: found[k] for k in ("model", "endpoint-config", "endpoint", "inference-component")} \
        == {"model": one, "endpoint-config": one, "endpoint": one, "inference-component": one}  # fmt: skip
    assert found["scalable-target"] == [f"us-east-1/inference-component/{NAME}"]
    assert sorted(found["scaling-policy"]) == [
        f"us-east-1/inference-component/{NAME}:{NAME}-idle",
        f"us-east-1/inference-component/{NAME}:{NAME}-scale-out",
    ]
    # Ours, and target tracking's high and low alarms (made once, kept by later upserts).
    assert len(found["alarm"]) == 3 and f"us-east-1/{NAME}-no-capacity" in found["alarm"]
    assert await target.teardown("u1", plan) is True
    assert fakes.aws.state.resource_count() == 0


@pytest.mark.parametrize(
    "action",
    [
        "application-autoscaling:RegisterScalableTarget",
        "cloudwatch:PutMetricAlarm",
        "iam:CreateServiceLinkedRole",
    ],
)
async def test_a_missing_scaling_permission_is_refused_before_any_spend(
    fakes: FakeStack, target: SageMakerTarget, action: str
) -> None:
    plan = await _plan(target)
    fakes.aws.deny(st.ROLE_ARN, action)
    fakes.aws.calls.clear()
    with pytest.raises(ProviderPermissionError, match=rf"missing {action}\. Update your KripTik"):
        await target.create("u1", plan)
    assert _creates(fakes) == [] and fakes.aws.state.resources() == {}
    # A classic endpoint needs none of it, so the same role still deploys one.
    classic = plan.model_copy(update={"min_replicas": 1, "max_replicas": 1})
    assert (await target.create("u1", classic)).resource_id == NAME
    assert await target.teardown("u1", classic) is True
    assert fakes.aws.state.resources() == {}


def _client(fakes: FakeStack, service: str) -> Any:
    config = Config(retries={"total_max_attempts": 1}, parameter_validation=False)
    return boto3.session.Session().client(  # pyright: ignore[reportUnknownMemberType]
        service, region_name="us-east-1", endpoint_url=fakes.url("aws"), config=config,
        aws_access_key_id=st.ACCESS_KEY_ID, aws_secret_access_key=st.SECRET_ACCESS_KEY,
    )  # fmt: skip


def _code(call: Any, **params: Any) -> str:
    with pytest.raises(ClientError) as caught:
        call(**params)
    return caught.value.response["Error"]["Code"]  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]


def test_the_fake_holds_scaling_and_alarm_requests_to_botocores_models(fakes: FakeStack) -> None:
    scaling, alarms = _client(fakes, "application-autoscaling"), _client(fakes, "cloudwatch")
    target = {"ServiceNamespace": "sagemaker", "ResourceId": "inference-component/kriptik-x"}
    assert _code(scaling.register_scalable_target, **target,
                 ScalableDimension="sagemaker:inference-component:Copies") == "ValidationException"  # fmt: skip
    assert _code(alarms.put_metric_alarm, AlarmName="kriptik-a", Period=0) == "ValidationException"
    found, fakes.aws.violations = fakes.aws.violations, []
    assert found == [
        "application-autoscaling:RegisterScalableTarget: RegisterScalableTargetRequest"
        ".ScalableDimension: 'sagemaker:inference-component:Copies' is not one of "
        + str(scaling.meta.service_model.shape_for("ScalableDimension").enum),
        "cloudwatch:PutMetricAlarm: PutMetricAlarmInput.Period: 0 is outside 1..None",
    ]
    # Well-formed, but wrong for AWS itself: AWS's own codes, no contract violation.
    dimension = "sagemaker:inference-component:DesiredCopyCount"
    assert _code(scaling.register_scalable_target, **target, ScalableDimension=dimension,
                 MinCapacity=0, MaxCapacity=1) == "ValidationException"  # no such component  # fmt: skip
    assert _code(scaling.delete_scaling_policy, **target, ScalableDimension=dimension,
                 PolicyName="kriptik-p") == "ObjectNotFoundException"  # fmt: skip
    assert _code(alarms.delete_alarms, AlarmNames=["kriptik-none"]) == "ResourceNotFound"
    assert _code(alarms.put_metric_alarm, AlarmName="kriptik-a", MetricName="m",
                 Namespace="AWS/SageMaker", Period=30, Statistic="Maximum") == "MissingParameter"  # fmt: skip
    # boto3 speaks CloudWatch's JSON 1.0 protocol (it also lists CBOR and query): the fake's.
    sent = [c for c in fakes.aws.calls if "Granite" in c.headers.get("x-amz-target", "")]
    assert sent and all(
        c.headers["content-type"] == "application/x-amz-json-1.0"
        and c.headers.get("x-amzn-query-mode") == "true"
        for c in sent
    )


async def test_a_permission_application_auto_scaling_itself_checks_is_named_and_cleaned_up(
    fakes: FakeStack, target: SageMakerTarget
) -> None:
    # The dry check cannot run (the role may not simulate itself): Application Auto Scaling
    # finds out when it would make its service-linked role, and says so as AWS does.
    fakes.aws.state.ready_after = 0
    plan = await _plan(target)
    fakes.aws.deny(st.ROLE_ARN, "iam:SimulatePrincipalPolicy")
    fakes.aws.deny(st.ROLE_ARN, "iam:CreateServiceLinkedRole")
    with pytest.raises(ProviderPermissionError, match="iam:CreateServiceLinkedRole") as caught:
        await target.create("u1", plan)
    assert "update your KripTik CloudFormation stack" in str(caught.value)
    assert fakes.aws.state.scalable_targets == {} and fakes.aws.state.service_linked_roles == set()
    assert await target.teardown("u1", plan) is True
    assert fakes.aws.state.resource_count() == 0
