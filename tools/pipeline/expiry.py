"""An endpoint's lifetime in plain terms: its deadline (the time-to-live, the idle limit or
its dollar cap, whichever comes first), the approval card's sentence about it, and the
deployments panel's warning line. Pure functions of a deployment record;
`tools.pipeline.lifetime` acts on them.

Light on purpose (no DBOS): the card and the panel import it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from vault.deployments import DeploymentView

__all__ = [
    "Deadline",
    "Reason",
    "cost_cap_reached",
    "deadline_of",
    "lifetime_sentence",
    "span",
    "warning_line",
]

Reason = Literal["ttl", "idle", "cost"]


def span(seconds: float) -> str:
    """A duration as a person says it: "24 h", "90 min", "1.5 h", "45 s"."""
    seconds = max(0.0, seconds)
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{int(seconds // 3600)} h"
    if seconds > 5400:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{math.ceil(seconds / 60)} min"
    return f"{math.ceil(seconds)} s"


def lifetime_sentence(
    ttl_s: int, idle_limit_s: int, warning_s: int, *, requests_seen: bool = True
) -> str:
    """The approval card's fact: how the endpoint stops by itself. `requests_seen`: False
    where KripTik cannot see the endpoint's requests (a deploy target with replicas always
    on), so its idle limit counts from readiness or the last extension."""
    idle = (
        f"after {span(idle_limit_s)} with no requests"
        if requests_seen
        else f"{span(idle_limit_s)} after it is ready or you last extend it (KripTik cannot "
        "see its requests)"
    )
    warned = f"you are warned {span(warning_s)} before"
    return f"Stops by itself after {span(ttl_s)}, or {idle}; {warned}"


@dataclass(frozen=True)
class Deadline:
    """When the endpoint stops by itself, and why."""

    at: datetime
    reason: Reason
    idle_limit_s: int
    cost_cap_usd: float | None = None

    def words(self) -> str:
        """Why, as the warning and the audit transcript say it."""
        if self.reason == "ttl":
            return "time-to-live reached"
        if self.reason == "cost":
            return f"cost cap of ${self.cost_cap_usd or 0.0:,.2f} reached"
        return f"idle for {span(self.idle_limit_s)}"


def cost_cap_reached(view: DeploymentView) -> bool:
    """Whether the accrued cost (`tools.pipeline.cost`) has reached the deployment's dollar
    cap, recorded when it was created (None: a record from before caps, never capped)."""
    return view.cost_cap_usd is not None and view.cost_usd >= view.cost_cap_usd


def deadline_of(view: DeploymentView) -> Deadline | None:
    """min(expires_at, last activity + idle limit, and once the cost cap is reached, the
    time the accrual saw it); None before its clock started."""
    candidates: list[tuple[datetime, Reason]] = []
    if cost_cap_reached(view):
        # Due at once: when the cost was counted up to (the record's own time, so a
        # recovered workflow decides the same), never a time still to come.
        candidates.append((view.cost_accrued_to or view.ready_at or view.created_at, "cost"))
    if view.expires_at is not None:
        candidates.append((view.expires_at, "ttl"))
    since = view.last_active_at or view.ready_at
    if view.idle_limit_s and since is not None:
        candidates.append((since + timedelta(seconds=view.idle_limit_s), "idle"))
    if not candidates:
        return None
    at, reason = min(candidates, key=lambda c: c[0])
    return Deadline(
        at=at, reason=reason, idle_limit_s=view.idle_limit_s or 0, cost_cap_usd=view.cost_cap_usd
    )


def warning_line(view: DeploymentView, *, now: datetime) -> str | None:
    """ "Stops in 12 min: time-to-live reached" once the warning went out, else None."""
    if view.warned_at is None or view.state != "ready":
        return None
    deadline = deadline_of(view)
    if deadline is None:
        return None
    left = (deadline.at - now).total_seconds()
    when = f"Stops in {span(left)}" if left > 0 else "Stopping now"
    return f"{when}: {deadline.words()}"
