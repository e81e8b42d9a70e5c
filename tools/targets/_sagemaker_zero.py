"""Scale to zero on SageMaker: a deployment whose plan keeps no instance always on
(`plan.min_replicas == 0`) runs its model as an inference component, whose copies
Application Auto Scaling moves between 0 and the plan's maximum.

```
model            kriptik-<deployment>-<hash>     the serving image (as a classic endpoint)
endpoint config  the same name                   no model; managed instance scaling 0..N
endpoint         the same name                   Creating -> InService (its instances follow
                                                 the copies: 0 copies, 0 instances)
inference comp.  the same name                   the model, all the instance's GPUs, 1 copy;
                                                 created once the endpoint is InService
scalable target  inference-component/<name>      copies 0..N
policy <name>-idle        target tracking on concurrent requests per copy: scales in to 0
                          once idle for the plan's idle time
policy <name>-scale-out   step scaling, +1 copy: the way out of zero
alarm  <name>-no-capacity NoCapacityInvocationFailures >= 1 -> the scale-out policy
```

Every create adopts what an earlier attempt made: SageMaker's creates meet "already
existing", and Application Auto Scaling's and CloudWatch's are upserts. Teardown deletes
in the reverse order; each delete of something already gone is a no-op.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from tools.clients.aws_autoscaling import (
    AutoScalingClient,
    ScalableTargetSpec,
    StepPolicySpec,
    TargetTrackingSpec,
    inference_component_resource,
)
from tools.clients.aws_cloudwatch import CloudWatchClient, MetricAlarmSpec
from tools.clients.aws_errors import AWS
from tools.clients.aws_session import AwsSession
from tools.clients.errors import NotFound, Timeout
from tools.clients.sagemaker import SageMakerClient
from tools.clients.sagemaker_models import (
    EndpointConfigSpec,
    EndpointStatus,
    InferenceComponentSpec,
    InferenceComponentStatus,
)
from tools.clients.sagemaker_runtime import Invocation, NoCapacity, SageMakerRuntimeClient
from tools.targets import _sagemaker as rules
from tools.targets.base import Progress, TargetPlan

__all__ = [
    "TRACKED_METRIC",
    "WAKE_METRIC",
    "Look",
    "ZeroNames",
    "component_of",
    "delete_all",
    "endpoint_config",
    "invoke_waking",
    "leftovers",
    "look",
]

# What target tracking follows (per copy, sampled every 10 s): with no request at all it
# reads 0, so the copies go to the target's minimum, 0, after the scale-in cooldown.
TRACKED_METRIC: Final = "SageMakerInferenceComponentConcurrentRequestsPerCopyHighResolution"
# What SageMaker counts when a request finds no copy running: it sets off the way back up.
WAKE_METRIC: Final = "NoCapacityInvocationFailures"
_NAMESPACE: Final = "AWS/SageMaker"


@dataclass(frozen=True)
class ZeroNames:
    """The names of one deployment's scaling, from its resource name."""

    resource: str  # the model, endpoint config, endpoint and inference component

    @classmethod
    def of(cls, plan: TargetPlan) -> ZeroNames:
        return cls(rules.resource_name(plan.deployment_id))

    @property
    def target(self) -> str:
        return inference_component_resource(self.resource)

    @property
    def idle_policy(self) -> str:
        return f"{self.resource}-idle"

    @property
    def scale_out_policy(self) -> str:
        return f"{self.resource}-scale-out"

    @property
    def alarm(self) -> str:
        return f"{self.resource}-no-capacity"


@dataclass(frozen=True)
class Look:
    """One look at a scale-to-zero deployment: the endpoint, then its component."""

    endpoint: EndpointStatus | None
    component: InferenceComponentStatus | None = None

    @property
    def ready(self) -> bool:
        return (
            self.endpoint is not None
            and self.endpoint.status == "InService"
            and self.component is not None
            and self.component.status == "InService"
        )

    @property
    def failure(self) -> str | None:
        """SageMaker's reason, when the endpoint or its component failed."""
        for part in (self.endpoint, self.component):
            if part is not None and part.status == "Failed":
                return part.failure_reason or "SageMaker gave no reason"
        return None

    @property
    def phase(self) -> str:
        if self.endpoint is None or self.endpoint.status != "InService":
            return self.endpoint.status if self.endpoint else "gone"
        state = self.component.status if self.component else "Creating"
        return f"instance in service, model {state}"


def _component_spec(plan: TargetPlan, name: str, tags: Mapping[str, str]) -> InferenceComponentSpec:
    kind = rules.check_plan(plan)
    # One copy takes every GPU of the instance (the serving image shards over them) and
    # half its memory, which leaves SageMaker's own agents room on the smallest types.
    return InferenceComponentSpec(
        name=name,
        endpoint_name=name,
        model_name=name,
        accelerators=kind.gpus,
        min_memory_mb=kind.memory_gib * 1024 // 2,
        copies=1,
        tags=tags,
    )


def endpoint_config(
    plan: TargetPlan, execution_role_arn: str, tags: Mapping[str, str]
) -> EndpointConfigSpec:
    """The endpoint config for inference components: no model, managed instance scaling
    from 0 to the plan's maximum (the component goes on once the endpoint is in service:
    `look`)."""
    return EndpointConfigSpec(
        name=ZeroNames.of(plan).resource,
        instance_type=plan.gpu.offer_id,
        model_name=None,
        instances=1,
        min_instances=0,
        max_instances=plan.max_replicas,
        execution_role_arn=execution_role_arn,
        tags=tags,
    )


async def look(session: AwsSession, plan: TargetPlan, tags: Mapping[str, str]) -> Look:
    """The endpoint and its component now. The endpoint just in service gets its component;
    the component in service gets its scaling (both adopt what exists)."""
    sm, name = SageMakerClient(session), ZeroNames.of(plan).resource
    endpoint = await sm.describe_endpoint(name)
    if endpoint is None or endpoint.status != "InService":
        return Look(endpoint)
    component = await sm.describe_inference_component(name)
    if component is None:
        await rules.adopting(sm.create_inference_component(_component_spec(plan, name, tags)))
        component = await sm.describe_inference_component(name)
    if component is not None and component.status == "InService":
        await _ensure_scaling(session, plan)
    return Look(endpoint, component)


async def _ensure_scaling(session: AwsSession, plan: TargetPlan) -> None:
    """The scalable target, both policies and the wake-up alarm (each an upsert)."""
    names, scaling = ZeroNames.of(plan), AutoScalingClient(session)
    await scaling.register_target(
        ScalableTargetSpec(resource_id=names.target, min_copies=0, max_copies=plan.max_replicas)
    )
    await scaling.put_policy(
        TargetTrackingSpec(
            name=names.idle_policy,
            resource_id=names.target,
            metric=TRACKED_METRIC,
            target_value=float(max(1, plan.concurrency)),
            scale_in_cooldown_s=rules.idle_before_zero_s(plan.idle_scale_to_zero_s),
        )
    )
    scale_out = await scaling.put_policy(
        StepPolicySpec(name=names.scale_out_policy, resource_id=names.target)
    )
    await CloudWatchClient(session).put_alarm(
        MetricAlarmSpec(
            name=names.alarm,
            namespace=_NAMESPACE,
            metric=WAKE_METRIC,
            dimensions={"InferenceComponentName": names.resource},
            actions=[scale_out],
            description=(
                f"KripTik: a request found {names.resource} scaled to zero; start a copy."
            ),
        )
    )


async def component_of(session: AwsSession, endpoint_name: str) -> str | None:
    """The inference component to call on `endpoint_name` (KripTik names it after its
    endpoint), or None for a classic endpoint (no managed instance scaling)."""
    status = await SageMakerClient(session).describe_endpoint(endpoint_name)
    return endpoint_name if status is not None and status.managed else None


async def invoke_waking(
    session: AwsSession,
    name: str,
    body: bytes,
    *,
    clock: Callable[[], datetime],
    sleep: Callable[[float], Awaitable[Any]],
    poll_s: float,
    budget_s: float,
    progress: Progress | None = None,
) -> Invocation:
    """One request to the component `name`; at zero copies (the request itself sets off
    the scale-out alarm) wait, up to `budget_s`, for a copy to run, then ask again."""
    runtime, sm = SageMakerRuntimeClient(session), SageMakerClient(session)
    deadline, said = clock().timestamp() + budget_s, False
    while True:
        try:
            return await runtime.invoke(name, body, inference_component=name)
        except NoCapacity:
            if progress is not None and not said:
                await progress(
                    f"{name} is scaled to zero, so this first request starts it: SageMaker is "
                    "starting an instance and loading the model (several minutes)…"
                )
                said = True
        while True:
            if clock().timestamp() >= deadline:
                raise Timeout(
                    f"{name} was scaled to zero and no copy of the model was running after "
                    f"{budget_s:g} s. SageMaker may still be starting one: try the request again "
                    "in a few minutes.",
                    provider=AWS.name,
                )
            await sleep(poll_s)
            status = await sm.describe_inference_component(name)
            if status is None:
                raise NotFound(
                    f"The SageMaker model {name} no longer exists; deploy again.",
                    provider=AWS.name,
                    status=404,
                )
            if (status.copies or 0) >= 1:
                break


async def delete_all(session: AwsSession, plan: TargetPlan) -> None:
    """The alarm, the policies, the scalable target and the component (the endpoint, its
    config and the model are the classic teardown's)."""
    names, scaling = ZeroNames.of(plan), AutoScalingClient(session)
    await CloudWatchClient(session).delete_alarm(names.alarm)
    for policy in (names.scale_out_policy, names.idle_policy):
        await scaling.delete_policy(names.target, policy)
    await scaling.deregister_target(names.target)
    await SageMakerClient(session).delete_inference_component(names.resource)


async def leftovers(session: AwsSession, plan: TargetPlan) -> bool:
    """Whether any of the scaling or the component is still there."""
    names = ZeroNames.of(plan)
    return (
        await SageMakerClient(session).describe_inference_component(names.resource) is not None
        or await AutoScalingClient(session).describe_target(names.target) is not None
        or await CloudWatchClient(session).describe_alarm(names.alarm) is not None
    )
