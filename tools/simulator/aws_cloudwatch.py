"""CloudWatch's metric alarms in the AWS fake: `PutMetricAlarm` (creates or replaces),
`DescribeAlarms` (by names or a prefix) and `DeleteAlarms`, checked as CloudWatch checks
them, and the metric side the fake simulates: `breach` records one datapoint of a metric
(SageMaker's `NoCapacityInvocationFailures` when an inference component at zero copies
is called), moves each alarm on it whose threshold it crosses to ALARM, and returns the
actions to run (only on the change of state, as CloudWatch does); `settle` moves them
back to OK once the metric is quiet.

boto3 speaks CloudWatch's JSON 1.0 protocol (`GraniteServiceVersion20100801.*`) with
`x-amzn-query-mode`, so errors carry their query-era code in `x-amzn-query-error` too.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from tools.simulator.aws_state import Alarm, AwsState, Ctx
from tools.simulator.aws_wire import AwsError

__all__ = ["HANDLERS", "NEEDS", "alarm_arn", "breach", "settle"]

Needs = list[tuple[str, str, dict[str, str]]]
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanOrEqualToThreshold": operator.ge, "GreaterThanThreshold": operator.gt,
    "LessThanThreshold": operator.lt, "LessThanOrEqualToThreshold": operator.le,
}  # fmt: skip


def alarm_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:cloudwatch:{region}:{account}:alarm:{name}"


def _invalid(code: str, message: str) -> AwsError:
    return AwsError(code, message, 400)


def put_metric_alarm(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    for required in ("EvaluationPeriods", "ComparisonOperator"):
        if p.get(required) is None:
            raise _invalid("MissingParameter", f"The parameter {required} is required.")
    single = all(p.get(k) is not None for k in ("MetricName", "Namespace", "Period"))
    if p.get("Metrics") is None and not (
        single and (p.get("Statistic") or p.get("ExtendedStatistic"))
    ):
        raise _invalid("MissingParameter", "An alarm needs MetricName, Namespace, Period and "
                       "Statistic (or ExtendedStatistic), or Metrics.")  # fmt: skip
    actions: list[str] = p.get("AlarmActions") or []
    for action in actions:
        if not action.startswith("arn:"):
            raise _invalid("ValidationError", f"Invalid arn syntax: {action}")
    name = p["AlarmName"]
    old = ctx.state.alarms.get((ctx.region, name))
    ctx.state.alarms[(ctx.region, name)] = Alarm(
        name, alarm_arn(ctx.region, ctx.account, name), p, ctx.now,
        state=old.state if old else "INSUFFICIENT_DATA",
    )  # fmt: skip
    return {}


def _row(alarm: Alarm) -> dict[str, Any]:
    keep = ("AlarmDescription", "ActionsEnabled", "OKActions", "AlarmActions", "MetricName",
            "Namespace", "Statistic", "ExtendedStatistic", "Dimensions", "Period", "Unit",
            "EvaluationPeriods", "DatapointsToAlarm", "Threshold", "ComparisonOperator",
            "TreatMissingData", "Metrics", "InsufficientDataActions")  # fmt: skip
    row = {k: alarm.body[k] for k in keep if alarm.body.get(k) is not None}
    return row | {"AlarmName": alarm.name, "AlarmArn": alarm.arn, "StateValue": alarm.state,
                  "StateReason": f"The alarm is {alarm.state}.",
                  "StateUpdatedTimestamp": alarm.updated,
                  "AlarmConfigurationUpdatedTimestamp": alarm.updated}  # fmt: skip


def describe_alarms(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    names, prefix = p.get("AlarmNames"), p.get("AlarmNamePrefix")
    if names and prefix:
        raise _invalid("InvalidParameterCombination",
                       "AlarmNames and AlarmNamePrefix cannot be used together.")  # fmt: skip
    rows = sorted((a for (r, _), a in ctx.state.alarms.items() if r == ctx.region
                   and (names is None or a.name in names) and a.name.startswith(prefix or "")),
                  key=lambda a: a.name)  # fmt: skip
    start, size = int(p.get("NextToken") or 0), int(p.get("MaxRecords") or 50)
    out: dict[str, Any] = {"MetricAlarms": [_row(a) for a in rows[start : start + size]]}
    return out | ({"NextToken": str(start + size)} if start + size < len(rows) else {})


def delete_alarms(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    missing = [n for n in p["AlarmNames"] if (ctx.region, n) not in ctx.state.alarms]
    if missing:  # CloudWatch deletes none of them then
        raise AwsError("ResourceNotFound", f"Alarm(s) {', '.join(missing)} not found.", 404)
    for name in p["AlarmNames"]:
        del ctx.state.alarms[(ctx.region, name)]
    return {}


def _watches(alarm: Alarm, namespace: str, metric: str, dimensions: dict[str, str]) -> bool:
    body = alarm.body
    listed: list[dict[str, str]] = body.get("Dimensions") or []
    dims = {d["Name"]: d["Value"] for d in listed}
    return (body.get("Namespace"), body.get("MetricName"), dims) == (namespace, metric, dimensions)


def breach(
    state: AwsState, region: str, namespace: str, metric: str, dimensions: dict[str, str],
    value: float = 1.0,
) -> list[str]:  # fmt: skip
    """One datapoint of `metric`: the actions of every alarm it moves into ALARM."""
    actions: list[str] = []
    for (r, _), alarm in state.alarms.items():
        if r != region or not _watches(alarm, namespace, metric, dimensions):
            continue
        crossed = _COMPARE.get(alarm.body.get("ComparisonOperator", ""), operator.ge)(
            value, float(alarm.body.get("Threshold", 0.0))
        )
        if crossed and alarm.state != "ALARM":
            alarm.state = "ALARM"
            if alarm.body.get("ActionsEnabled", True):
                actions += alarm.body.get("AlarmActions") or []
    return actions


def settle(
    state: AwsState, region: str, namespace: str, metric: str, dimensions: dict[str, str]
) -> None:
    """The metric is quiet again: its alarms go back to OK."""
    for (r, _), alarm in state.alarms.items():
        if r == region and _watches(alarm, namespace, metric, dimensions):
            alarm.state = "OK"


HANDLERS: dict[str, Callable[[Ctx, dict[str, Any]], dict[str, Any]]] = {
    "PutMetricAlarm": put_metric_alarm,
    "DescribeAlarms": describe_alarms,
    "DeleteAlarms": delete_alarms,
}


def _on_names(action: str) -> Callable[[Ctx, dict[str, Any]], Needs]:
    def needs(ctx: Ctx, p: dict[str, Any]) -> Needs:
        names = p.get("AlarmNames") or ([p["AlarmName"]] if p.get("AlarmName") else [])
        arns = [alarm_arn(ctx.region, ctx.account, n) for n in names] or ["*"]
        return [(action, arn, {}) for arn in arns]

    return needs


# Each alarm is authorised by its own ARN (a prefix or no name at all: "*").
NEEDS: dict[str, Callable[[Ctx, dict[str, Any]], Needs]] = {
    op: _on_names(f"cloudwatch:{op}") for op in HANDLERS
}
