"""STS and IAM in the AWS fake: `GetCallerIdentity`, `AssumeRole` (trust and external id
checked, sessions issued), and IAM's policy simulator (`SimulatePrincipalPolicy`) over the
roles' own statements."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tools.simulator.aws_state import Ctx, decide
from tools.simulator.aws_wire import AwsError

__all__ = ["HANDLERS", "NEEDS"]

Needs = list[tuple[str, str, dict[str, str]]]


def get_caller_identity(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    c = ctx.caller
    return {"UserId": c.user_id, "Account": c.account, "Arn": c.arn}


def assume_role(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    role = ctx.state.roles.get(p["RoleArn"])
    denied = AwsError("AccessDenied", f"User: {ctx.caller.arn} is not authorized to perform: "
                      f"sts:AssumeRole on resource: {p['RoleArn']}", 403)  # fmt: skip
    if role is None or ctx.caller.arn not in role.trusted:
        raise denied
    if role.external_id is not None and p.get("ExternalId") != role.external_id:
        raise denied  # the trust policy's sts:ExternalId condition does not hold
    duration = int(p.get("DurationSeconds") or 3600)
    if duration > role.max_session_s:
        raise AwsError("ValidationError", "The requested DurationSeconds exceeds the "
                       "MaxSessionDuration set for this role.")  # fmt: skip
    session = ctx.state.issue_session(role, p["RoleSessionName"], duration)
    key_id = next(k for k, a in ctx.state.accounts.items() if a is session)
    return {
        "Credentials": {"AccessKeyId": key_id, "SecretAccessKey": session.secret,
                        "SessionToken": session.session_token, "Expiration": session.expires_at},
        "AssumedRoleUser": {"AssumedRoleId": session.user_id, "Arn": session.arn},
    }  # fmt: skip


def simulate_principal_policy(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    source = p["PolicySourceArn"]
    if source in ctx.state.roles:
        policy = ctx.state.roles[source].policy
    else:
        users = [a for a in ctx.state.accounts.values() if a.arn == source and a.role is None]
        if not users:
            raise AwsError("NoSuchEntity", f"The role or user {source} cannot be found.", 404)
        policy = ctx.state.policy_of(users[0])
    entries: list[dict[str, Any]] = p.get("ContextEntries") or []
    context = {str(e["ContextKeyName"]): str(e["ContextKeyValues"][0])
               for e in entries if e.get("ContextKeyValues")}  # fmt: skip
    actions: list[str] = p["ActionNames"]
    resources: list[str] = p.get("ResourceArns") or ["*"]
    results: list[dict[str, object]] = [
        {"EvalActionName": action, "EvalResourceName": resource,
         "EvalDecision": decide(policy, action, resource, context),
         "MatchedStatements": [], "MissingContextValues": []}
        for action in actions for resource in resources
    ]  # fmt: skip
    return {"EvaluationResults": results, "IsTruncated": False}


HANDLERS: dict[str, Callable[[Ctx, dict[str, Any]], dict[str, Any]]] = {
    "GetCallerIdentity": get_caller_identity,
    "AssumeRole": assume_role,
    "SimulatePrincipalPolicy": simulate_principal_policy,
}
# What each call needs from the caller's own policy (AssumeRole is judged by the trust).
NEEDS: dict[str, Callable[[Ctx, dict[str, Any]], Needs]] = {
    "AssumeRole": lambda ctx, p: [("sts:AssumeRole", p["RoleArn"], {})],
    "SimulatePrincipalPolicy": lambda ctx, p: [
        ("iam:SimulatePrincipalPolicy", p["PolicySourceArn"], {})
    ],
}
