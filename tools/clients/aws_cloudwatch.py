"""CloudWatch metric alarms through boto3, over an `AwsSession`: the alarm that wakes a
SageMaker inference component scaled to zero (its action is a scaling policy).

```
CloudWatchClient(session)
  put_alarm(MetricAlarmSpec)                  PutMetricAlarm (creates, or updates in place)
  describe_alarm(name) -> AlarmStatus | None
  delete_alarm(name) -> bool                  False: there was none
```

`PutMetricAlarm` replaces an alarm of the same name, so a create run again after a crash
adopts it. Alarms are read and deleted by exact name only (never by prefix), so the role
needs them on its own `kriptik-*` alarms and nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from tools.clients.aws_session import AwsSession
from tools.clients.errors import NotFound

__all__ = ["AlarmStatus", "CloudWatchClient", "MetricAlarmSpec"]


@dataclass(frozen=True, kw_only=True)
class MetricAlarmSpec:
    """One alarm on one metric: when `statistic` over `period_s` compares to `threshold`
    for `evaluation_periods`, its `actions` run."""

    name: str
    namespace: str
    metric: str
    dimensions: Mapping[str, str]
    actions: Sequence[str]
    statistic: str = "Maximum"
    period_s: int = 30
    evaluation_periods: int = 1
    threshold: float = 1.0
    comparison: str = "GreaterThanOrEqualToThreshold"
    treat_missing_data: str = "missing"
    description: str = ""
    tags: Mapping[str, str] = field(default_factory=dict[str, str])

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "AlarmName": self.name,
            "Namespace": self.namespace,
            "MetricName": self.metric,
            "Dimensions": [{"Name": k, "Value": v} for k, v in sorted(self.dimensions.items())],
            "Statistic": self.statistic,
            "Period": self.period_s,
            "EvaluationPeriods": self.evaluation_periods,
            "DatapointsToAlarm": self.evaluation_periods,
            "Threshold": float(self.threshold),
            "ComparisonOperator": self.comparison,
            "TreatMissingData": self.treat_missing_data,
            "ActionsEnabled": True,
            "AlarmActions": list(self.actions),
        }
        if self.description:
            out["AlarmDescription"] = self.description[:1024]
        if self.tags:
            out["Tags"] = [{"Key": k, "Value": v} for k, v in sorted(self.tags.items())]
        return out


@dataclass(frozen=True)
class AlarmStatus:
    """`DescribeAlarms`, the fields we use."""

    name: str
    state: str
    actions: tuple[str, ...]


class CloudWatchClient:
    """CloudWatch's metric alarms, for one session and region."""

    def __init__(self, session: AwsSession) -> None:
        self._s = session

    def __repr__(self) -> str:
        return f"CloudWatchClient(region={self._s.region!r})"

    async def put_alarm(self, spec: MetricAlarmSpec) -> None:
        await self._s.call(
            "cloudwatch",
            "put_metric_alarm",
            spec.body(),
            what=f"the alarm {spec.name}",
            idempotent=True,
        )

    async def describe_alarm(self, name: str) -> AlarmStatus | None:
        out = await self._s.call(
            "cloudwatch",
            "describe_alarms",
            {"AlarmNames": [name]},
            what=f"the alarm {name}",
            idempotent=True,
        )
        for row in cast("list[dict[str, Any]]", out.get("MetricAlarms") or []):
            if row.get("AlarmName") == name:
                actions = tuple(str(a) for a in cast("list[str]", row.get("AlarmActions") or []))
                return AlarmStatus(name, str(row.get("StateValue") or ""), actions)
        return None

    async def delete_alarm(self, name: str) -> bool:
        """Delete the alarm; False when there was none (looked up first, so the answer
        says whether one was deleted, whatever CloudWatch says of a missing name)."""
        if await self.describe_alarm(name) is None:
            return False
        try:
            await self._s.call(
                "cloudwatch",
                "delete_alarms",
                {"AlarmNames": [name]},
                what=f"the alarm {name}",
                idempotent=True,
            )
        except NotFound:
            return False
        return True
