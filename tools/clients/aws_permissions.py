"""What KripTik may do in a user's AWS account, in one table: the names it gives the
resources, and each action with the resources it applies to. The CloudFormation template
grants exactly this (`tools.artifacts.aws_role`), and the dry check before any spend asks
AWS whether the role still allows it (`tools.clients.aws_iam`).

```
AwsNames.for_external_id(external_id)   access role, execution role, ECR repository
ACCESS_RULES                            (actions, resource patterns) of the access role
plan_checks(names, account, region,     one PermissionCheck per action a deployment needs
            scale_to_zero=)             (scale to zero: inference components, Application
                                        Auto Scaling, its alarms and its service-linked role)
```

Names are derived from the user's external id, so every name is known from the stored
credential alone, and two KripTik users of one AWS account never collide. SageMaker
resources and CloudWatch alarms are named `kriptik-...`; the role may touch nothing else,
with one exception AWS leaves no way around: Application Auto Scaling's scalable targets
and policies are known by ARNs with a random id, so its actions are granted on "*" (a
target can still only be registered for a `kriptik-*` inference component, because
Application Auto Scaling checks that the caller may update that component).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

__all__ = [
    "ACCESS_RULES",
    "AUTOSCALING_SERVICE",
    "EXECUTION_SERVICE",
    "RESOURCE_PREFIX",
    "AccessRule",
    "AwsNames",
    "PermissionCheck",
    "plan_checks",
]

RESOURCE_PREFIX = "kriptik-"
EXECUTION_SERVICE = "sagemaker.amazonaws.com"  # the service the execution role is passed to
# Application Auto Scaling's service for SageMaker, and the role it makes for itself (once per
# account, on the first RegisterScalableTarget, with the caller's iam:CreateServiceLinkedRole).
AUTOSCALING_SERVICE = "sagemaker.application-autoscaling.amazonaws.com"
_AUTOSCALING_ROLE = (
    f"role/aws-service-role/{AUTOSCALING_SERVICE}/"
    "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"
)


@dataclass(frozen=True)
class AwsNames:
    """The names of what the role template creates, and of what KripTik creates."""

    suffix: str

    @classmethod
    def for_external_id(cls, external_id: str) -> AwsNames:
        return cls(hashlib.sha256(external_id.encode()).hexdigest()[:8])

    @property
    def access_role(self) -> str:
        return f"kriptik-access-{self.suffix}"

    @property
    def execution_role(self) -> str:
        return f"kriptik-sagemaker-{self.suffix}"

    @property
    def repository(self) -> str:
        return f"kriptik-workers-{self.suffix}"

    def execution_role_arn(self, account: str, partition: str = "aws") -> str:
        return f"arn:{partition}:iam::{account}:role/{self.execution_role}"

    def repository_uri(self, account: str, region: str) -> str:
        return f"{account}.dkr.ecr.{region}.amazonaws.com/{self.repository}"


@dataclass(frozen=True)
class AccessRule:
    """Actions allowed on resources; `{account}`, `{partition}`, `{repository}`,
    `{execution_role}` and `{prefix}` are filled in per user."""

    sid: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    passed_to: str | None = None  # iam:PassRole only to this service
    service_name: str | None = None  # iam:CreateServiceLinkedRole only for this service


_SM = "arn:{partition}:sagemaker:*:{account}"
ACCESS_RULES: tuple[AccessRule, ...] = (
    AccessRule(
        "SageMakerEndpointLifecycle",
        (
            "sagemaker:CreateModel",
            "sagemaker:DescribeModel",
            "sagemaker:DeleteModel",
            "sagemaker:CreateEndpointConfig",
            "sagemaker:DescribeEndpointConfig",
            "sagemaker:DeleteEndpointConfig",
            "sagemaker:CreateEndpoint",
            "sagemaker:DescribeEndpoint",
            "sagemaker:DeleteEndpoint",
            "sagemaker:InvokeEndpoint",
            "sagemaker:CreateInferenceComponent",
            "sagemaker:DescribeInferenceComponent",
            "sagemaker:DeleteInferenceComponent",
            "sagemaker:UpdateInferenceComponentRuntimeConfig",
            "sagemaker:AddTags",
        ),
        (
            f"{_SM}:model/{{prefix}}*",
            f"{_SM}:endpoint-config/{{prefix}}*",
            f"{_SM}:endpoint/{{prefix}}*",
            f"{_SM}:inference-component/{{prefix}}*",
        ),
    ),
    AccessRule(
        "SageMakerList",
        (
            "sagemaker:ListModels",
            "sagemaker:ListEndpointConfigs",
            "sagemaker:ListEndpoints",
            "sagemaker:ListInferenceComponents",
        ),
        ("*",),
    ),
    AccessRule("EcrLogin", ("ecr:GetAuthorizationToken",), ("*",)),
    AccessRule(
        "EcrOneRepository",
        (
            "ecr:CreateRepository",
            "ecr:DescribeRepositories",
            "ecr:DeleteRepository",
            "ecr:DescribeImages",
            "ecr:BatchDeleteImage",
            "ecr:BatchCheckLayerAvailability",
            "ecr:InitiateLayerUpload",
            "ecr:UploadLayerPart",
            "ecr:CompleteLayerUpload",
            "ecr:PutImage",
            "ecr:BatchGetImage",
            "ecr:GetDownloadUrlForLayer",
        ),
        ("arn:{partition}:ecr:*:{account}:repository/{repository}",),
    ),
    AccessRule(
        "PassExecutionRole",
        ("iam:PassRole",),
        ("arn:{partition}:iam::{account}:role/{execution_role}",),
        passed_to=EXECUTION_SERVICE,
    ),
    AccessRule(
        "ReadEndpointLogs",
        ("logs:DescribeLogStreams", "logs:GetLogEvents", "logs:FilterLogEvents"),
        (
            "arn:{partition}:logs:*:{account}:log-group:/aws/sagemaker/Endpoints/{prefix}*",
            "arn:{partition}:logs:*:{account}:log-group:/aws/sagemaker/Endpoints/{prefix}*:*",
        ),
    ),
    # Scale to zero: the copies of an inference component scale between 0 and N.
    AccessRule(
        "ScaleToZeroPolicies",
        (
            "application-autoscaling:RegisterScalableTarget",
            "application-autoscaling:DescribeScalableTargets",
            "application-autoscaling:DeregisterScalableTarget",
            "application-autoscaling:PutScalingPolicy",
            "application-autoscaling:DescribeScalingPolicies",
            "application-autoscaling:DeleteScalingPolicy",
        ),
        ("*",),
    ),
    # KripTik's own wake-up alarm, and those Application Auto Scaling makes (in the
    # caller's name) for a target-tracking policy on a kriptik-* inference component.
    AccessRule(
        "ScaleToZeroAlarms",
        ("cloudwatch:PutMetricAlarm", "cloudwatch:DescribeAlarms", "cloudwatch:DeleteAlarms"),
        (
            "arn:{partition}:cloudwatch:*:{account}:alarm:{prefix}*",
            "arn:{partition}:cloudwatch:*:{account}:alarm:TargetTracking-inference-component/"
            "{prefix}*",
        ),
    ),
    AccessRule(
        "AutoScalingServiceLinkedRole",
        ("iam:CreateServiceLinkedRole",),
        (f"arn:{{partition}}:iam::{{account}}:{_AUTOSCALING_ROLE}",),
        service_name=AUTOSCALING_SERVICE,
    ),
    AccessRule(
        "QuotasAndPrices",
        ("servicequotas:GetServiceQuota", "servicequotas:ListServiceQuotas", "pricing:GetProducts"),
        ("*",),
    ),
    # The dry check before spend: the role asks IAM what its own policies allow.
    AccessRule(
        "CheckOwnPermissions",
        ("iam:SimulatePrincipalPolicy",),
        ("arn:{partition}:iam::{account}:role/{access_role}",),
    ),
)


@dataclass(frozen=True)
class PermissionCheck:
    """One action on one resource, as `iam:SimulatePrincipalPolicy` is asked about it."""

    action: str
    resource: str = "*"
    passed_to: str | None = None
    service_name: str | None = None


def plan_checks(
    names: AwsNames,
    account: str,
    region: str,
    *,
    partition: str = "aws",
    scale_to_zero: bool = False,
) -> list[PermissionCheck]:
    """Every permission one SageMaker deployment needs, on the resources it will touch."""
    sm = f"arn:{partition}:sagemaker:{region}:{account}"
    any_name = f"{RESOURCE_PREFIX}check"
    checks = (
        [
            PermissionCheck(f"sagemaker:{verb}Model", f"{sm}:model/{any_name}")
            for verb in ("Create", "Delete")
        ]
        + [
            PermissionCheck(f"sagemaker:{verb}EndpointConfig", f"{sm}:endpoint-config/{any_name}")
            for verb in ("Create", "Delete")
        ]
        + [
            PermissionCheck(f"sagemaker:{verb}", f"{sm}:endpoint/{any_name}")
            for verb in ("CreateEndpoint", "DescribeEndpoint", "DeleteEndpoint", "InvokeEndpoint")
        ]
    )
    if scale_to_zero:
        checks += _scale_to_zero_checks(sm, account, region, partition)
    repo = f"arn:{partition}:ecr:{region}:{account}:repository/{names.repository}"
    checks += [PermissionCheck("ecr:GetAuthorizationToken")] + [
        PermissionCheck(f"ecr:{action}", repo)
        for action in ("CreateRepository", "PutImage", "InitiateLayerUpload", "BatchDeleteImage")
    ]
    checks.append(
        PermissionCheck(
            "iam:PassRole",
            names.execution_role_arn(account, partition),
            passed_to=EXECUTION_SERVICE,
        )
    )
    return [*checks, PermissionCheck("servicequotas:GetServiceQuota")]


_COMPONENT_VERBS = (
    "CreateInferenceComponent",
    "DescribeInferenceComponent",
    "UpdateInferenceComponentRuntimeConfig",
    "DeleteInferenceComponent",
    "InvokeEndpoint",
)
_SCALING_VERBS = (
    "RegisterScalableTarget",
    "DeregisterScalableTarget",
    "PutScalingPolicy",
    "DeleteScalingPolicy",
    "DescribeScalableTargets",
    "DescribeScalingPolicies",
)


def _scale_to_zero_checks(
    sm: str, account: str, region: str, partition: str
) -> list[PermissionCheck]:
    """What scale to zero adds: the inference component, its scaling and its alarms."""
    name = f"{RESOURCE_PREFIX}check"
    component = f"{sm}:inference-component/{name}"
    alarm = f"arn:{partition}:cloudwatch:{region}:{account}:alarm:"
    tracking = f"{alarm}TargetTracking-inference-component/{name}-AlarmHigh"
    checks = [PermissionCheck(f"sagemaker:{verb}", component) for verb in _COMPONENT_VERBS]
    checks += [PermissionCheck(f"application-autoscaling:{verb}") for verb in _SCALING_VERBS]
    checks += [
        PermissionCheck(f"cloudwatch:{verb}", resource)
        for resource in (f"{alarm}{name}-no-capacity", tracking)
        for verb in ("PutMetricAlarm", "DescribeAlarms", "DeleteAlarms")
    ]
    role = f"arn:{partition}:iam::{account}:{_AUTOSCALING_ROLE}"
    return [
        *checks,
        PermissionCheck("iam:CreateServiceLinkedRole", role, service_name=AUTOSCALING_SERVICE),
    ]
