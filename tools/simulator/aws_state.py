"""The AWS fake's world: access keys and the sessions STS issued, IAM roles with their
trust and permission policies, and what SageMaker and ECR hold, per region.

```
state.accounts[key_id] -> AwsAccount   a user's key, the operator's, or a role session
state.roles[arn] -> FakeRole           external id, trusted principals, policy statements
state.endpoints[(region, name)] ...    models, endpoint_configs, inference_components,
                                       repositories (with their images), alarms
state.scalable_targets[(region, id)]   Application Auto Scaling's targets and policies
state.resources() / resource_count()   what is left ("0 resources left" after teardown)
```

Policy evaluation follows IAM's order (an explicit Deny wins, then any Allow, else an
implicit deny) over `Action`/`NotAction` and `Resource` with `*`/`?` wildcards, and the
`StringEquals`/`StringLike` conditions on request context keys (`iam:PassedToService`).
"""

from __future__ import annotations

import fnmatch
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

__all__ = [
    "ACCESS_KEY_ID",
    "EXECUTION_ROLE_ARN",
    "EXTERNAL_ID",
    "OPERATOR_ARN",
    "OPERATOR_KEY_ID",
    "OPERATOR_SECRET",
    "ROLE_ARN",
    "SECRET_ACCESS_KEY",
    "USER_ACCOUNT",
    "Alarm",
    "AwsAccount",
    "AwsState",
    "Ctx",
    "Decision",
    "Endpoint",
    "FakeRole",
    "Image",
    "InferenceComponent",
    "Repository",
    "Resource",
    "ScalableTarget",
    "ScalingPolicy",
    "decide",
]  # fmt: skip

Decision = Literal["allowed", "explicitDeny", "implicitDeny"]
USER_ACCOUNT = "123456789012"
ACCESS_KEY_ID = "AKIAKRIPTIKFAKE00001"  # the user's own key pair (key mode)
SECRET_ACCESS_KEY = "kriptikFAKEsecretACCESSkey00000000000000"
OPERATOR_KEY_ID = "AKIAKRIPTIKOPERATOR1"  # KripTik's principal, which assumes roles
OPERATOR_SECRET = "kriptikFAKEoperatorSECRETkey000000000000"
OPERATOR_ARN = "arn:aws:iam::111111111111:user/kriptik-operator"
EXTERNAL_ID = "kriptik-fake0external0id0001"
ROLE_ARN = f"arn:aws:iam::{USER_ACCOUNT}:role/kriptik-access-fake0001"
EXECUTION_ROLE_ARN = f"arn:aws:iam::{USER_ACCOUNT}:role/kriptik-sagemaker-fake0001"
_ALLOW_ALL: list[dict[str, Any]] = [{"Effect": "Allow", "Action": "*", "Resource": "*"}]


@dataclass
class AwsAccount:
    """One access key: a user's, the operator's, or an assumed-role session's.

    `policy` None allows everything (an administrator's key); a session's permissions
    are its role's."""

    secret: str
    arn: str = f"arn:aws:iam::{USER_ACCOUNT}:user/kriptik-deployer"
    account: str = USER_ACCOUNT
    user_id: str = "AIDAKRIPTIKFAKE00001"
    session_token: str | None = None
    role: str | None = None
    expires_at: datetime | None = None
    expired: bool = False
    policy: list[dict[str, Any]] | None = None


@dataclass
class FakeRole:
    """An IAM role: who may assume it (with which external id), and what it may do."""

    arn: str
    external_id: str | None
    trusted: set[str] = field(default_factory=lambda: {OPERATOR_ARN})
    policy: list[dict[str, Any]] = field(default_factory=lambda: list(_ALLOW_ALL))
    max_session_s: int = 3600

    @property
    def name(self) -> str:
        return self.arn.rsplit("/", 1)[1]

    @property
    def account(self) -> str:
        return self.arn.split(":")[4]


@dataclass
class Resource:
    """A SageMaker model or endpoint config: its ARN and the request that made it."""

    name: str
    arn: str
    body: dict[str, Any]
    created: datetime


@dataclass
class Endpoint(Resource):
    config_name: str = ""
    status: str = "Creating"
    polls_left: int = 0
    failure_reason: str | None = None
    modified: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass
class InferenceComponent(Resource):
    """`copies` is what was asked for (DesiredCopyCount); `current` follows it after
    `scaling_polls` more describes (a copy takes minutes to start on AWS)."""

    endpoint_name: str = ""
    status: str = "Creating"
    polls_left: int = 0
    copies: int = 1
    current: int = 0
    scaling_polls: int = 0


@dataclass
class ScalableTarget:
    """An Application Auto Scaling target (one resource id and dimension)."""

    arn: str
    resource_id: str
    dimension: str
    min_capacity: int
    max_capacity: int
    created: datetime


@dataclass
class ScalingPolicy:
    """A scaling policy on a target; `alarms` are the ones Application Auto Scaling made for
    a target-tracking policy (deleted with it)."""

    arn: str
    name: str
    resource_id: str
    dimension: str
    kind: str
    body: dict[str, Any]
    created: datetime
    alarms: list[str] = field(default_factory=list[str])


@dataclass
class Alarm:
    """A CloudWatch metric alarm: the request that made it, and its state."""

    name: str
    arn: str
    body: dict[str, Any]
    updated: datetime
    state: str = "INSUFFICIENT_DATA"


@dataclass
class Image:
    digest: str
    tags: set[str]
    pushed_at: datetime
    size: int = 1_000_000


@dataclass
class Repository:
    name: str
    arn: str
    uri: str
    created: datetime
    images: dict[str, Image] = field(default_factory=dict[str, Image])


Key = tuple[str, str]  # (region, name)


@dataclass(frozen=True)
class RegistryBacking:
    """A real registry behind the fake's ECR: `GetAuthorizationToken` answers its address
    and credentials, so a real `docker push` with ECR's login lands there."""

    url: str  # http://127.0.0.1:PORT
    username: str
    password: str = field(repr=False)


@dataclass
class AwsState:
    """Everything the fake holds, and the knobs tests turn (see `tools.simulator.aws`)."""

    accounts: dict[str, AwsAccount] = field(default_factory=dict[str, AwsAccount])
    roles: dict[str, FakeRole] = field(default_factory=dict[str, FakeRole])
    models: dict[Key, Resource] = field(default_factory=dict[Key, Resource])
    endpoint_configs: dict[Key, Resource] = field(default_factory=dict[Key, Resource])
    endpoints: dict[Key, Endpoint] = field(default_factory=dict[Key, Endpoint])
    inference_components: dict[Key, InferenceComponent] = field(
        default_factory=dict[Key, InferenceComponent]
    )
    repositories: dict[Key, Repository] = field(default_factory=dict[Key, Repository])
    # Application Auto Scaling, keyed by (region, resource id) and (region, policy ARN);
    # CloudWatch alarms by (region, name); the service-linked roles made, by service.
    scalable_targets: dict[Key, ScalableTarget] = field(default_factory=dict[Key, ScalableTarget])
    scaling_policies: dict[Key, ScalingPolicy] = field(default_factory=dict[Key, ScalingPolicy])
    alarms: dict[Key, Alarm] = field(default_factory=dict[Key, Alarm])
    service_linked_roles: set[str] = field(default_factory=set[str])
    quotas: dict[str, int] = field(default_factory=dict[str, int])
    ready_after: int = 2  # DescribeEndpoint polls an endpoint stays Creating
    failing: dict[str, str] = field(default_factory=dict[str, str])  # name or image -> reason
    registry: RegistryBacking | None = None  # None: ECR's logins name AWS's own registry

    def __post_init__(self) -> None:
        self.accounts |= {
            ACCESS_KEY_ID: AwsAccount(SECRET_ACCESS_KEY),
            OPERATOR_KEY_ID: AwsAccount(OPERATOR_SECRET, arn=OPERATOR_ARN, account="111111111111",
                                        user_id="AIDAKRIPTIKOPERATOR1", policy=[
                                            {"Effect": "Allow", "Action": "sts:AssumeRole",
                                             "Resource": "*"}]),
        }  # fmt: skip
        self.roles |= {ROLE_ARN: FakeRole(ROLE_ARN, EXTERNAL_ID),
                       EXECUTION_ROLE_ARN: FakeRole(EXECUTION_ROLE_ARN, None, set())}  # fmt: skip

    def issue_session(self, role: FakeRole, session_name: str, duration_s: int) -> AwsAccount:
        """Temporary credentials for `role` (what AssumeRole returns)."""
        key_id = "ASIA" + secrets.token_hex(8).upper()
        session = AwsAccount(
            secrets.token_urlsafe(30)[:40], arn=f"arn:aws:sts::{role.account}:assumed-role/"
            f"{role.name}/{session_name}", account=role.account,
            user_id=f"AROAKRIPTIK{secrets.token_hex(4).upper()}:{session_name}",
            session_token="FQoGZXIvYXdzE" + secrets.token_urlsafe(96), role=role.arn,
            expires_at=datetime.now(UTC) + timedelta(seconds=duration_s),
        )  # fmt: skip
        self.accounts[key_id] = session
        return session

    def expire_sessions(self) -> int:
        """Every role session issued so far stops working (ExpiredToken); how many."""
        live = [a for a in self.accounts.values() if a.role and not a.expired]
        for account in live:
            account.expired = True
        return len(live)

    def policy_of(self, caller: AwsAccount) -> list[dict[str, Any]]:
        if caller.role is not None:
            return self.roles[caller.role].policy if caller.role in self.roles else []
        return _ALLOW_ALL if caller.policy is None else caller.policy

    def resources(self) -> dict[str, list[str]]:
        """What exists, by kind ("endpoint", "image", ...), as "region/name" strings."""
        images = [f"{r}/{n}@{d}" for (r, n), repo in self.repositories.items()
                  for d in repo.images]  # fmt: skip
        policies = [f"{r}/{p.resource_id}:{p.name}" for (r, _), p in self.scaling_policies.items()]
        kinds = {"model": self.models, "endpoint-config": self.endpoint_configs,
                 "endpoint": self.endpoints, "inference-component": self.inference_components,
                 "repository": self.repositories, "scalable-target": self.scalable_targets,
                 "alarm": self.alarms}  # fmt: skip
        found = {kind: [f"{r}/{n}" for r, n in rows] for kind, rows in kinds.items()}
        found |= {"image": images, "scaling-policy": policies}
        return {k: v for k, v in found.items() if v}

    def resource_count(self) -> int:
        return sum(len(v) for v in self.resources().values())


def decide(
    policy: list[dict[str, Any]], action: str, resource: str, context: dict[str, str] | None = None
) -> Decision:
    """IAM's verdict on one action on one resource under `policy`'s statements."""
    allowed = False
    for statement in policy:
        if not _matches(statement, action, resource, context or {}):
            continue
        if statement.get("Effect") == "Deny":
            return "explicitDeny"
        allowed = True
    return "allowed" if allowed else "implicitDeny"


def _listed(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]


def _matches(statement: dict[str, Any], action: str, resource: str, ctx: dict[str, str]) -> bool:
    def any_of(patterns: list[str], value: str, *, case: bool) -> bool:
        if not case:
            patterns, value = [p.lower() for p in patterns], value.lower()
        return any(fnmatch.fnmatchcase(value, p) for p in patterns)

    if "Action" in statement:
        acting = any_of(_listed(statement["Action"]), action, case=False)
    else:
        acting = not any_of(_listed(statement.get("NotAction", [])), action, case=False)
    on = any_of(_listed(statement.get("Resource", "*")), resource, case=True)
    return acting and on and _conditions(statement.get("Condition") or {}, ctx)


def _conditions(conditions: dict[str, dict[str, object]], ctx: dict[str, str]) -> bool:
    for operator, tests in conditions.items():
        for key, wanted in tests.items():
            have = ctx.get(key)
            if have is None:
                return False
            if operator == "StringEquals" and have not in _listed(wanted):
                return False
            if operator == "StringLike" and not any(
                fnmatch.fnmatchcase(have, p) for p in _listed(wanted)
            ):
                return False
            if operator not in {"StringEquals", "StringLike"}:
                return False  # an operator this fake does not know never matches
    return True


@dataclass
class Ctx:
    """One call as a handler sees it: the world, the region, who is calling, and when."""

    state: AwsState
    region: str
    caller: AwsAccount
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def account(self) -> str:
        return self.caller.account

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account}:{resource}"
