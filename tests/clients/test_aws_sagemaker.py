"""SageMaker through boto3 and an assumed role, against the AWS fake: the whole endpoint
lifecycle down to 0 resources, inference components, and every fault the fake injects."""

from __future__ import annotations

import pytest

from tests.clients.aws_helpers import role_session
from tools.clients._http import Retry
from tools.clients.aws_autoscaling import (
    AutoScalingClient,
    ScalableTargetSpec,
    StepPolicySpec,
    inference_component_resource,
)
from tools.clients.aws_cloudwatch import CloudWatchClient, MetricAlarmSpec
from tools.clients.aws_errors import PassRoleDenied, QuotaExceeded, SessionExpired
from tools.clients.errors import RateLimited
from tools.clients.sagemaker import SageMakerClient, endpoint_failed
from tools.clients.sagemaker_models import EndpointConfigSpec, InferenceComponentSpec, ModelSpec
from tools.clients.sagemaker_runtime import SageMakerRuntimeClient
from tools.simulator import aws_state as st
from tools.simulator.all import FakeStack
from tools.simulator.clock import FakeClock
from vault.settings import Settings

_IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-tgi-inference:2.4"


def _model(name: str = "kriptik-m1") -> ModelSpec:
    return ModelSpec(name=name, image=_IMAGE, execution_role_arn=st.EXECUTION_ROLE_ARN,
                     environment={"HF_MODEL_ID": "Qwen/Qwen2.5-0.5B"}, tags={"kriptik": "dep-1"})  # fmt: skip


def _config(name: str = "kriptik-c1", instance_type: str = "ml.g5.xlarge") -> EndpointConfigSpec:
    return EndpointConfigSpec(name=name, instance_type=instance_type, model_name="kriptik-m1")


async def _create(sm: SageMakerClient, *, instance_type: str = "ml.g5.xlarge") -> None:
    await sm.create_model(_model())
    await sm.create_endpoint_config(_config(instance_type=instance_type))
    await sm.create_endpoint("kriptik-e1", "kriptik-c1", tags={"kriptik": "dep-1"})


async def test_an_endpoint_is_created_served_and_torn_down_to_zero_resources(
    fakes: FakeStack, fake_settings: Settings, retry: Retry
) -> None:
    session = role_session(fake_settings, retry)
    sm = SageMakerClient(session)
    fakes.aws.state.ready_after = 3
    await _create(sm)
    states = [(await sm.describe_endpoint("kriptik-e1")) for _ in range(4)]
    assert [s.status for s in states if s] == ["Creating", "Creating", "Creating", "InService"]
    answer = await SageMakerRuntimeClient(session).invoke("kriptik-e1", b'{"inputs": "Hi"}')
    assert answer.body == b'[{"generated_text": "Hi [simulated answer]"}]'
    assert await sm.list_endpoints("kriptik-") == ["kriptik-e1"]
    assert await sm.list_models("kriptik-") == ["kriptik-m1"]
    assert await sm.list_endpoint_configs("kriptik-") == ["kriptik-c1"]
    assert fakes.aws.state.resource_count() == 3
    assert await sm.delete_endpoint("kriptik-e1")
    assert await sm.delete_endpoint_config("kriptik-c1")
    assert await sm.delete_model("kriptik-m1")
    assert fakes.aws.state.resources() == {}
    # A teardown that runs again finds nothing and says so, without an error.
    assert not await sm.delete_endpoint("kriptik-e1")
    assert not await sm.delete_model("kriptik-m1")
    assert await sm.describe_endpoint("kriptik-e1") is None
    await session.aclose()


async def test_inference_components_scale_a_model_to_zero_copies(
    fakes: FakeStack, fake_settings: Settings, retry: Retry
) -> None:
    session = role_session(fake_settings, retry)
    sm = SageMakerClient(session)
    fakes.aws.state.ready_after = 0
    await sm.create_model(_model())
    await sm.create_endpoint_config(EndpointConfigSpec(
        name="kriptik-c1", instance_type="ml.g6.xlarge", min_instances=0, max_instances=2,
        execution_role_arn=st.EXECUTION_ROLE_ARN,
    ))  # fmt: skip
    await sm.create_endpoint("kriptik-e1", "kriptik-c1")
    endpoint = await sm.describe_endpoint("kriptik-e1")  # components go on an endpoint in service
    assert endpoint is not None and endpoint.managed and endpoint.instances == 1
    ic = InferenceComponentSpec(name="kriptik-ic1", endpoint_name="kriptik-e1",
                                model_name="kriptik-m1", accelerators=1, min_memory_mb=8192)  # fmt: skip
    await sm.create_inference_component(ic)
    status = await sm.describe_inference_component("kriptik-ic1")
    assert status is not None and (status.endpoint_name, status.copies) == ("kriptik-e1", 1)
    await sm.scale_inference_component("kriptik-ic1", 0)
    status = await sm.describe_inference_component("kriptik-ic1")
    assert status is not None and (status.status, status.copies) == ("InService", 0)
    endpoint = await sm.describe_endpoint("kriptik-e1")  # the instances follow the copies
    assert endpoint is not None and endpoint.instances == 0
    assert await sm.list_inference_components("kriptik-") == ["kriptik-ic1"]
    config = fakes.aws.state.endpoint_configs[("us-east-1", "kriptik-c1")].body
    assert config["ProductionVariants"][0]["ManagedInstanceScaling"]["MinInstanceCount"] == 0
    assert await sm.delete_inference_component("kriptik-ic1")
    assert await sm.describe_inference_component("kriptik-ic1") is None
    await session.aclose()


async def test_scaling_and_alarms_are_upserts_and_their_deletes_say_whether_one_was_there(
    fakes: FakeStack, fake_settings: Settings, retry: Retry
) -> None:
    session = role_session(fake_settings, retry)
    sm, scaling, alarms = (
        SageMakerClient(session),
        AutoScalingClient(session),
        CloudWatchClient(session),
    )
    fakes.aws.state.ready_after = 0
    await sm.create_model(_model())
    await sm.create_endpoint_config(EndpointConfigSpec(
        name="kriptik-c1", instance_type="ml.g5.xlarge", execution_role_arn=st.EXECUTION_ROLE_ARN,
    ))  # fmt: skip
    await sm.create_endpoint("kriptik-e1", "kriptik-c1")
    await sm.describe_endpoint("kriptik-e1")
    await sm.create_inference_component(InferenceComponentSpec(
        name="kriptik-ic1", endpoint_name="kriptik-e1", model_name="kriptik-m1", accelerators=1,
        min_memory_mb=1024,
    ))  # fmt: skip
    target = ScalableTargetSpec(resource_id=inference_component_resource("kriptik-ic1"),
                                min_copies=0, max_copies=2)  # fmt: skip
    arn = await scaling.register_target(target)
    assert await scaling.register_target(target) == arn  # a second run adopts the first
    step = StepPolicySpec(name="kriptik-out", resource_id=target.resource_id)
    policy = await scaling.put_policy(step)
    assert await scaling.put_policy(step) == policy
    alarm = MetricAlarmSpec(name="kriptik-a1", namespace="AWS/SageMaker",
                            metric="NoCapacityInvocationFailures",
                            dimensions={"InferenceComponentName": "kriptik-ic1"}, actions=[policy])  # fmt: skip
    await alarms.put_alarm(alarm)
    await alarms.put_alarm(alarm)
    found = await alarms.describe_alarm("kriptik-a1")
    assert found is not None and found.actions == (policy,)
    status = await scaling.describe_target(target.resource_id)
    assert status is not None and (status.min_copies, status.max_copies, status.arn) == (0, 2, arn)
    assert [p.name for p in await scaling.describe_policies(target.resource_id)] == ["kriptik-out"]
    assert await alarms.delete_alarm("kriptik-a1") and not await alarms.delete_alarm("kriptik-a1")
    assert await scaling.delete_policy(target.resource_id, "kriptik-out")
    assert not await scaling.delete_policy(target.resource_id, "kriptik-out")
    assert await scaling.deregister_target(target.resource_id)
    assert not await scaling.deregister_target(target.resource_id)
    assert await scaling.describe_target(target.resource_id) is None
    for delete in (sm.delete_inference_component("kriptik-ic1"), sm.delete_endpoint("kriptik-e1"),
                   sm.delete_endpoint_config("kriptik-c1"), sm.delete_model("kriptik-m1")):  # fmt: skip
        assert await delete
    assert fakes.aws.state.resource_count() == 0
    await session.aclose()


async def test_no_quota_for_the_instance_type_says_where_to_ask_for_more(
    fakes: FakeStack, fake_settings: Settings, retry: Retry, clock: FakeClock
) -> None:
    fakes.aws.state.quotas["ml.p4d.24xlarge"] = 0
    sm = SageMakerClient(role_session(fake_settings, retry))
    with pytest.raises(QuotaExceeded) as caught:
        await _create(sm, instance_type="ml.p4d.24xlarge")
    err = caught.value
    assert err.quota_url == (
        "https://us-east-1.console.aws.amazon.com/servicequotas/home/services/sagemaker/quotas"
    )
    assert "'ml.p4d.24xlarge for endpoint usage' is 0 Instances" in err.message
    assert err.quota_url in err.message and not err.retryable
    assert clock.sleeps == []  # waiting does not raise a quota: no retry
    assert "endpoint" not in fakes.aws.state.resources()


async def test_a_role_that_may_not_pass_the_execution_role_is_named(
    fakes: FakeStack, fake_settings: Settings, retry: Retry
) -> None:
    fakes.aws.deny(st.ROLE_ARN, "iam:PassRole")
    sm = SageMakerClient(role_session(fake_settings, retry))
    with pytest.raises(PassRoleDenied) as caught:
        await sm.create_model(_model())
    assert caught.value.message.startswith(
        f"AWS refused to pass {st.EXECUTION_ROLE_ARN} to SageMaker (AccessDeniedException: "
        "iam:PassRole). Update your KripTik CloudFormation stack"
    )
    assert fakes.aws.state.resources() == {}


async def test_an_endpoint_that_fails_reports_sagemakers_reason(
    fakes: FakeStack, fake_settings: Settings, retry: Retry
) -> None:
    reason = "The primary container for production variant AllTraffic did not pass the ping health check."
    fakes.aws.fail_endpoint(_IMAGE, reason)
    fakes.aws.state.ready_after = 1
    sm = SageMakerClient(role_session(fake_settings, retry))
    await _create(sm)
    assert (await sm.describe_endpoint("kriptik-e1") or pytest.fail()).status == "Creating"
    failed = await sm.describe_endpoint("kriptik-e1")
    assert failed is not None and (failed.status, failed.failure_reason) == ("Failed", reason)
    err = endpoint_failed(failed.name, failed.failure_reason)
    assert err.reason == reason and "/aws/sagemaker/Endpoints/kriptik-e1" in err.message


async def test_throttling_is_waited_out_on_the_clock_then_reported(
    fakes: FakeStack, fake_settings: Settings, retry: Retry, clock: FakeClock
) -> None:
    sm = SageMakerClient(role_session(fake_settings, retry))
    await _create(sm)
    fakes.aws.throttle("sagemaker:DescribeEndpoint", times=2)
    assert await sm.describe_endpoint("kriptik-e1") is not None
    assert len(clock.sleeps) == 2
    fakes.aws.throttle("sagemaker:DescribeEndpoint", times=None)
    with pytest.raises(RateLimited, match=r"AWS is throttling requests \(ThrottlingException\)"):
        await sm.describe_endpoint("kriptik-e1")
    assert len(clock.sleeps) == 2 + retry.max_attempts - 1


async def test_expired_role_credentials_mid_deploy_are_renewed_once_transparently(
    fakes: FakeStack, fake_settings: Settings, retry: Retry
) -> None:
    session = role_session(fake_settings, retry)
    sm = SageMakerClient(session)
    await sm.create_model(_model())
    assert fakes.aws.expire_sessions() == 1
    await sm.create_endpoint_config(_config())  # ExpiredTokenException, then the role again
    await sm.create_endpoint("kriptik-e1", "kriptik-c1")
    assert session.renewals == 2
    assert fakes.aws.state.resource_count() == 3
    # Keys that expire again at once are not renewed in a loop: the error reaches the caller.
    fakes.aws.fail_op("sagemaker:DescribeEndpoint", "ExpiredTokenException", times=2)
    with pytest.raises(SessionExpired):
        await sm.describe_endpoint("kriptik-e1")
    assert session.renewals == 3
