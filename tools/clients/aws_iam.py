"""The dry check before spend: does the user's role (or key) allow every action a plan
needs? Asked of IAM's policy simulator, `iam:SimulatePrincipalPolicy`, which creates and
costs nothing.

Why the simulator: SageMaker, ECR and IAM have no dry-run flag (only EC2 does), and
calling each action to see would create resources. The simulator evaluates the role's
identity policies, permission boundary and the organisation's SCPs for the role's own ARN
(a session's `assumed-role` ARN is not accepted, so a role is simulated by its role ARN),
and the role may call it on itself (the template grants exactly that). A long-term key is
simulated by its user ARN when IAM lets the user do so; otherwise the report says the
check could not run and the first deployment finds out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from tools.clients.aws_permissions import PermissionCheck
from tools.clients.aws_session import AwsSession
from tools.clients.errors import ProviderPermissionError

__all__ = ["PermissionReport", "check_permissions", "principal_of"]


@dataclass(frozen=True)
class PermissionReport:
    """The simulator's verdict.

    Attributes:
        checked: False when IAM would not run the simulation (`note` says why).
        missing: The checks IAM denied (implicitly or explicitly).
        note: One sentence for the user.
    """

    checked: bool
    missing: tuple[PermissionCheck, ...]
    note: str

    @property
    def ok(self) -> bool:
        return self.checked and not self.missing


def principal_of(caller_arn: str) -> str | None:
    """The ARN the simulator takes for a caller: a user's own, or an assumed role's role."""
    if re.fullmatch(r"arn:[\w-]+:iam::\d{12}:user/.+", caller_arn):
        return caller_arn
    found = re.fullmatch(r"arn:([\w-]+):sts::(\d{12}):assumed-role/([^/]+)/.+", caller_arn)
    return f"arn:{found[1]}:iam::{found[2]}:role/{found[3]}" if found else None


async def check_permissions(
    session: AwsSession, checks: Sequence[PermissionCheck], *, principal_arn: str
) -> PermissionReport:
    """Simulate every check for `principal_arn` (the role's ARN, or the key's user)."""
    groups: dict[tuple[str, str | None, str | None], list[PermissionCheck]] = {}
    for check in checks:
        groups.setdefault((check.resource, check.passed_to, check.service_name), []).append(check)
    missing: list[PermissionCheck] = []
    try:
        for (resource, passed_to, service_name), group in groups.items():
            context = {"iam:PassedToService": passed_to, "iam:AWSServiceName": service_name}
            missing += await _simulate(session, principal_arn, resource, context, group)
    except ProviderPermissionError:
        return PermissionReport(
            False,
            (),
            (
                f"AWS did not let {principal_arn} check its own permissions "
                "(iam:SimulatePrincipalPolicy), so they are checked when the deployment starts. "
                "Update your KripTik CloudFormation stack to get the check before any spend."
            ),
        )
    if not missing:
        return PermissionReport(True, (), f"{principal_arn} allows every step of the plan.")
    listed = ", ".join(sorted({c.action for c in missing}))
    return PermissionReport(
        True,
        tuple(missing),
        (
            f"{principal_arn} is missing {listed}. Update your KripTik CloudFormation stack with "
            "the template KripTik generated, then try again."
        ),
    )


async def _simulate(
    session: AwsSession,
    principal: str,
    resource: str,
    context: dict[str, str | None],
    group: list[PermissionCheck],
) -> list[PermissionCheck]:
    params: dict[str, object] = {
        "PolicySourceArn": principal,
        "ActionNames": [c.action for c in group],
        "ResourceArns": [resource],
    }
    entries = [
        {"ContextKeyName": key, "ContextKeyValues": [value], "ContextKeyType": "string"}
        for key, value in context.items()
        if value
    ]
    if entries:
        params["ContextEntries"] = entries
    decisions: dict[str, str] = {}
    while True:
        out = await session.call(
            "iam", "simulate_principal_policy", params, what="the permission check", idempotent=True
        )
        for result in cast("list[dict[str, Any]]", out.get("EvaluationResults") or []):
            decisions[str(result.get("EvalActionName"))] = str(result.get("EvalDecision"))
        if not out.get("IsTruncated"):
            break
        params["Marker"] = out.get("Marker")
    return [c for c in group if decisions.get(c.action) != "allowed"]
