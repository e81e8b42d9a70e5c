"""The CloudFormation template a user deploys in their AWS account so that KripTik can
deploy SageMaker endpoints there: two IAM roles, least privilege, named for the user.

```
role_template(external_id=, principal_arn=) -> dict      render_role_template(...) -> str
  AccessRole     kriptik-access-<suffix>: trusted by KripTik's principal only with the
                 user's external id (sts:ExternalId); may run the SageMaker endpoint
                 lifecycle on resources named kriptik-*, push to one ECR repository, pass
                 the execution role to SageMaker only, read those endpoints' logs, read
                 quotas and prices, simulate its own policy (the dry check), and scale
                 to zero (Application Auto Scaling, alarms named kriptik-*, its
                 service-linked role)
  ExecutionRole  kriptik-sagemaker-<suffix>: what SageMaker runs the model as (pull the
                 image, write its logs and metrics)
  Outputs        RoleArn (what the user pastes into KripTik), ExecutionRoleArn, ExternalId
```

The permissions come from one table, `tools.clients.aws_permissions.ACCESS_RULES`, which
the dry check before spend also asks IAM about. The output is deterministic: the same
inputs give the same bytes. Deploying it needs `CAPABILITY_NAMED_IAM` (the role names are
fixed, so KripTik can derive them from the external id).
"""

from __future__ import annotations

import json
import re
from typing import Any

from tools.artifacts._checks import checked
from tools.clients.aws_permissions import (
    ACCESS_RULES,
    EXECUTION_SERVICE,
    RESOURCE_PREFIX,
    AccessRule,
    AwsNames,
)

__all__ = ["render_role_template", "role_template"]

_VERSION = "2012-10-17"
# The account that publishes AWS's deep-learning containers (the Hugging Face LLM image).
_AWS_DLC_ACCOUNT = "763104351884"
_PRINCIPAL = re.compile(
    r"arn:aws(-cn|-us-gov)?:iam::\d{12}:(root|user/[\w+=,.@/-]+|role/[\w+=,.@/-]+)"
)
_EXTERNAL_ID = re.compile(r"[\w+=,.@:/-]{2,1224}")


def _sub(pattern: str, names: AwsNames) -> object:
    """A resource pattern of `ACCESS_RULES` for this user, as CloudFormation writes it."""
    if pattern == "*":
        return "*"
    text = pattern.format(
        partition="${AWS::Partition}", account="${AWS::AccountId}", prefix=RESOURCE_PREFIX,
        repository=names.repository, execution_role=names.execution_role,
        access_role=names.access_role,
    )  # fmt: skip
    return {"Fn::Sub": text}


def _statement(rule: AccessRule, names: AwsNames) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Sid": rule.sid, "Effect": "Allow", "Action": list(rule.actions),
        "Resource": [_sub(r, names) for r in rule.resources],
    }  # fmt: skip
    if rule.passed_to:
        statement["Condition"] = {"StringEquals": {"iam:PassedToService": rule.passed_to}}
    if rule.service_name:
        statement["Condition"] = {"StringEquals": {"iam:AWSServiceName": rule.service_name}}
    return statement


def _execution_policy(names: AwsNames) -> list[dict[str, Any]]:
    repo = f"arn:${{AWS::Partition}}:ecr:*:${{AWS::AccountId}}:repository/{names.repository}"
    dlc = f"arn:${{AWS::Partition}}:ecr:*:{_AWS_DLC_ACCOUNT}:repository/*"
    logs = "arn:${AWS::Partition}:logs:*:${AWS::AccountId}:log-group:/aws/sagemaker/*"
    return [
        {"Sid": "EcrLogin", "Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"],
         "Resource": ["*"]},
        {"Sid": "PullWorkerAndServingImages", "Effect": "Allow",
         "Action": ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer",
                    "ecr:BatchGetImage"],
         "Resource": [{"Fn::Sub": repo}, {"Fn::Sub": dlc}]},
        {"Sid": "WriteEndpointLogs", "Effect": "Allow",
         "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents",
                    "logs:DescribeLogStreams"],
         "Resource": [{"Fn::Sub": logs}, {"Fn::Sub": logs + ":*"}]},
        {"Sid": "WriteEndpointMetrics", "Effect": "Allow", "Action": ["cloudwatch:PutMetricData"],
         "Resource": ["*"],
         "Condition": {"StringEquals": {"cloudwatch:namespace": ["/aws/sagemaker/Endpoints"]}}},
    ]  # fmt: skip


def _role(name: str, description: str, trust: dict[str, Any], policy: list[dict[str, Any]],
          policy_name: str) -> dict[str, Any]:  # fmt: skip
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "RoleName": name, "Description": description, "MaxSessionDuration": 3600,
            "AssumeRolePolicyDocument": {"Version": _VERSION, "Statement": [trust]},
            "Policies": [{"PolicyName": policy_name,
                          "PolicyDocument": {"Version": _VERSION, "Statement": policy}}],
            "Tags": [{"Key": "kriptik", "Value": "access"}],
        },
    }  # fmt: skip


def role_template(*, external_id: str, principal_arn: str) -> dict[str, Any]:
    """The template for one user (`external_id`) and one KripTik server (`principal_arn`).

    Raises:
        ValueError: The external id or the principal ARN is not one AWS accepts.
    """
    external_id = checked(
        external_id,
        _EXTERNAL_ID,
        "is not an external id AWS accepts (2-1224 letters, digits or +=,.@:/-_)",
    )
    principal_arn = checked(
        principal_arn,
        _PRINCIPAL,
        "is not an IAM user, role or account "
        "ARN (set KRIPTIK_AWS_PRINCIPAL_ARN to KripTik's own principal)",
    )
    names = AwsNames.for_external_id(external_id)
    trust = {"Effect": "Allow", "Principal": {"AWS": principal_arn}, "Action": "sts:AssumeRole",
             "Condition": {"StringEquals": {"sts:ExternalId": external_id}}}  # fmt: skip
    sagemaker = {"Effect": "Allow", "Principal": {"Service": EXECUTION_SERVICE},
                 "Action": "sts:AssumeRole"}  # fmt: skip
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "KripTik: a role KripTik assumes (with your external id) to deploy "
        "SageMaker GPU endpoints named kriptik-* in this account, and the role SageMaker runs "
        "them as. Delete the stack to revoke KripTik's access.",
        "Resources": {
            "AccessRole": _role(names.access_role,
                                "Assumed by KripTik to deploy SageMaker endpoints named kriptik-*",
                                trust, [_statement(r, names) for r in ACCESS_RULES],
                                "kriptik-sagemaker-deployments"),
            "ExecutionRole": _role(names.execution_role,
                                   "Run by SageMaker for KripTik's endpoints", sagemaker,
                                   _execution_policy(names), "kriptik-sagemaker-execution"),
        },
        "Outputs": {
            "RoleArn": {"Description": "Paste this role ARN into KripTik",
                        "Value": {"Fn::GetAtt": ["AccessRole", "Arn"]}},
            "ExecutionRoleArn": {"Description": "The role SageMaker runs KripTik's models as",
                                 "Value": {"Fn::GetAtt": ["ExecutionRole", "Arn"]}},
            "ExternalId": {"Description": "Your external id (KripTik keeps it with the role)",
                           "Value": external_id},
        },
    }  # fmt: skip


def render_role_template(*, external_id: str, principal_arn: str) -> str:
    """The template as the JSON file the user uploads to CloudFormation."""
    template = role_template(external_id=external_id, principal_arn=principal_arn)
    return json.dumps(template, indent=2) + "\n"
