"""The CloudFormation template of the user's KripTik role: cfn-lint finds no error in it,
it is deterministic, and the role it describes, loaded into the AWS fake, lets the whole
SageMaker deployment run, and nothing beyond it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.clients.aws_helpers import role_session
from tools.artifacts.aws_role import render_role_template, role_template
from tools.clients._http import Retry
from tools.clients.aws_errors import RoleNotAssumable
from tools.clients.aws_iam import check_permissions
from tools.clients.aws_permissions import AwsNames, plan_checks
from tools.clients.ecr import EcrClient
from tools.clients.errors import ProviderPermissionError
from tools.clients.sagemaker import SageMakerClient
from tools.clients.sagemaker_models import EndpointConfigSpec, ModelSpec
from tools.simulator import aws_state as st
from tools.simulator.all import FakeStack
from vault.settings import Settings

_EXTERNAL_ID = "kriptik-0123456789abcdef01234567"
_CFN_LINT = Path(sys.executable).parent / "cfn-lint"


def _lint(template: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "kriptik-role.json"
    path.write_text(template)
    return subprocess.run([str(_CFN_LINT), "--format", "parseable", str(path)],
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip


def test_the_template_passes_cfn_lint(tmp_path: Path) -> None:
    template = render_role_template(external_id=_EXTERNAL_ID, principal_arn=st.OPERATOR_ARN)
    result = _lint(template, tmp_path)
    assert (result.returncode, result.stdout) == (0, "")
    # The linter does look: a misspelt property is an error.
    broken = template.replace('"MaxSessionDuration"', '"MaxSessionDurations"', 1)
    assert re.search(r":E\d+:", _lint(broken, tmp_path).stdout)


def test_the_template_is_deterministic_and_trusts_only_kriptik_with_the_external_id() -> None:
    one = render_role_template(external_id=_EXTERNAL_ID, principal_arn=st.OPERATOR_ARN)
    assert one == render_role_template(external_id=_EXTERNAL_ID, principal_arn=st.OPERATOR_ARN)
    assert one != render_role_template(external_id="kriptik-other", principal_arn=st.OPERATOR_ARN)
    access = json.loads(one)["Resources"]["AccessRole"]["Properties"]
    names = AwsNames.for_external_id(_EXTERNAL_ID)
    assert access["RoleName"] == names.access_role
    assert access["AssumeRolePolicyDocument"]["Statement"] == [{
        "Effect": "Allow", "Principal": {"AWS": st.OPERATOR_ARN}, "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"sts:ExternalId": _EXTERNAL_ID}},
    }]  # fmt: skip
    passing = [s for s in access["Policies"][0]["PolicyDocument"]["Statement"]
               if "iam:PassRole" in s["Action"]]  # fmt: skip
    assert passing == [{
        "Sid": "PassExecutionRole", "Effect": "Allow", "Action": ["iam:PassRole"],
        "Resource": [{"Fn::Sub": f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/{names.execution_role}"}],
        "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
    }]  # fmt: skip
    with pytest.raises(ValueError, match="is not an IAM user, role or account ARN"):
        role_template(external_id=_EXTERNAL_ID, principal_arn="kriptik")


def _resolved(value: Any) -> Any:
    """The template's Fn::Sub strings, as CloudFormation resolves them in the fake's account."""
    if isinstance(value, dict) and set(value) == {"Fn::Sub"}:
        return (
            value["Fn::Sub"]
            .replace("${AWS::Partition}", "aws")
            .replace("${AWS::AccountId}", st.USER_ACCOUNT)
        )
    if isinstance(value, dict):
        return {k: _resolved(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolved(v) for v in value]
    return value


def _deploy_stack(fakes: FakeStack, external_id: str) -> tuple[str, str]:
    """The stack's two roles, created in the fake from the template as CloudFormation would."""
    resources = _resolved(role_template(external_id=external_id, principal_arn=st.OPERATOR_ARN))[
        "Resources"
    ]
    arns = []
    for key in ("AccessRole", "ExecutionRole"):
        props = resources[key]["Properties"]
        trust = props["AssumeRolePolicyDocument"]["Statement"][0]
        arn = f"arn:aws:iam::{st.USER_ACCOUNT}:role/{props['RoleName']}"
        fakes.aws.state.roles[arn] = st.FakeRole(
            arn, trust.get("Condition", {}).get("StringEquals", {}).get("sts:ExternalId"),
            {trust["Principal"]["AWS"]} if "AWS" in trust["Principal"] else set(),
            props["Policies"][0]["PolicyDocument"]["Statement"],
        )  # fmt: skip
        arns.append(arn)
    return arns[0], arns[1]


async def test_the_templates_role_runs_a_deployment_and_nothing_else(
    fakes: FakeStack, fake_settings: Settings, retry: Retry
) -> None:
    role_arn, execution_arn = _deploy_stack(fakes, _EXTERNAL_ID)
    names = AwsNames.for_external_id(_EXTERNAL_ID)
    session = role_session(fake_settings, retry, external_id=_EXTERNAL_ID, role_arn=role_arn)
    checks = plan_checks(names, st.USER_ACCOUNT, "us-east-1", scale_to_zero=True)
    assert (await check_permissions(session, checks, principal_arn=role_arn)).ok
    sm, ecr = SageMakerClient(session), EcrClient(session)
    repo = await ecr.ensure_repository(names.repository)
    await ecr.login()
    fakes.aws.push_image("us-east-1", repo.name, "dep-1")
    await sm.create_model(ModelSpec(name="kriptik-m1", image=f"{repo.uri}:dep-1",
                                    execution_role_arn=execution_arn, tags={"kriptik": "1"}))  # fmt: skip
    await sm.create_endpoint_config(EndpointConfigSpec(name="kriptik-c1", model_name="kriptik-m1",
                                                       instance_type="ml.g5.xlarge"))  # fmt: skip
    await sm.create_endpoint("kriptik-e1", "kriptik-c1")
    assert await sm.describe_endpoint("kriptik-e1") is not None
    with pytest.raises(ProviderPermissionError, match="sagemaker:CreateEndpoint"):
        await sm.create_endpoint("someone-elses", "kriptik-c1")  # outside kriptik-*
    with pytest.raises(ProviderPermissionError, match="ecr:DescribeRepositories"):
        await ecr.ensure_repository("another-repository")
    await sm.delete_endpoint("kriptik-e1")
    await sm.delete_endpoint_config("kriptik-c1")
    await sm.delete_model("kriptik-m1")
    assert await ecr.delete_image(repo.name, tag="dep-1")
    assert await ecr.delete_repository(repo.name)
    assert fakes.aws.state.resources() == {}


async def test_the_fakes_assume_role_refuses_another_external_id(
    fakes: FakeStack, fake_settings: Settings, retry: Retry
) -> None:
    role_arn, _ = _deploy_stack(fakes, _EXTERNAL_ID)
    wrong = role_session(
        fake_settings, retry, external_id="kriptik-ffffffffffffffff", role_arn=role_arn
    )
    with pytest.raises(RoleNotAssumable, match=r"would not let KripTik assume the role .* \(403\)"):
        await wrong.identity()
    right = role_session(fake_settings, retry, external_id=_EXTERNAL_ID, role_arn=role_arn)
    assert (await right.identity()).arn.startswith(
        f"arn:aws:sts::{st.USER_ACCOUNT}:assumed-role/{AwsNames.for_external_id(_EXTERNAL_ID).access_role}/"
    )
