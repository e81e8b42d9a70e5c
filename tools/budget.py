"""Budgets: what a deployment plan can cost at most, against what the user has left, and
what would fit when it is too much. Checked before the approval card is shown (the agent's
card, `tools.pipeline_cards`) and before `kriptik deploy` creates anything.

```
worst case = workers_max x $/s of one worker x time-to-live     (every worker busy until
                                                                  the endpoint is torn down)
allowed    = min(monthly budget - spent this month, per-deployment cap)
worst case > allowed  ->  refused, with what would fit: fewer workers (the most that fit),
                          a cheaper pool the model fits (the best one that fits), a shorter
                          time-to-live (the longest that fits)
```
"""

from __future__ import annotations

import math
from typing import Final

from pydantic import BaseModel, ConfigDict

from tools.pipeline.diagnose import PoolOption
from tools.pipeline.plan import DeploymentPlan
from tools.pipeline.services import PipelineServices
from tools.targets.base import TARGET_UNITS
from vault.limits import EffectiveLimits

__all__ = ["BudgetCheck", "check_plan_budget", "duration", "plan_budget"]

# A time-to-live shorter than this is not worth offering: the endpoint would be torn down
# about as soon as its first worker is up.
_SHORTEST_TTL_S: Final = 600
# Cents: a plan that is over by less than rounding is not over.
_EPSILON_USD: Final = 0.005


def duration(seconds: int) -> str:
    """A time-to-live in words: "24 h", "16 h 19 min", "45 min"."""
    hours, minutes = divmod(seconds // 60, 60)
    if hours and minutes:
        return f"{hours} h {minutes} min"
    return f"{hours} h" if hours else f"{minutes} min"


class BudgetCheck(BaseModel):
    """A plan's worst case against the user's budget, and what would fit instead.

    Attributes:
        worst_case_usd: The most the plan can cost (all its workers, its whole TTL).
        workers_max: Workers in the worst case.
        usd_per_hour: One running worker.
        ttl_s: The time-to-live the worst case runs for.
        monthly_budget_usd: The user's GPU budget this month.
        spent_usd: Spent so far this month.
        deployment_cap_usd: The most one deployment may cost.
        fewer_workers: The most workers that would fit (None: not even one).
        cheaper_pool: The best cheaper pool the model fits that would (None: none).
        shorter_ttl_s: The longest time-to-live that would fit (None: too short to offer).
    """

    model_config = ConfigDict(frozen=True)

    worst_case_usd: float
    workers_max: int
    usd_per_hour: float
    ttl_s: int
    monthly_budget_usd: float
    spent_usd: float
    deployment_cap_usd: float
    fewer_workers: int | None = None
    cheaper_pool: PoolOption | None = None
    shorter_ttl_s: int | None = None
    unit: str = "worker"  # what scales, in the target's word (`TARGET_UNITS`)

    @property
    def left_usd(self) -> float:
        return max(self.monthly_budget_usd - self.spent_usd, 0.0)

    @property
    def allowed_usd(self) -> float:
        """The most one more deployment may cost now."""
        return min(self.left_usd, self.deployment_cap_usd)

    @property
    def fits(self) -> bool:
        return self.worst_case_usd <= self.allowed_usd + _EPSILON_USD

    def formula(self) -> str:
        """How the worst case is made: "3 workers x $0.98/h x 24 h"."""
        plural = "" if self.workers_max == 1 else "s"
        workers = f"{self.workers_max} {self.unit}{plural}"
        return f"{workers} x ${self.usd_per_hour:.2f}/h x {duration(self.ttl_s)}"

    def card_line(self) -> str:
        """The approval card's budget sentence."""
        return (
            f"This plan can cost at most ${self.worst_case_usd:.2f} ({self.formula()}); "
            f"${self.left_usd:.2f} of your ${self.monthly_budget_usd:.2f} monthly budget is left."
        )

    def options(self, *, cli: bool = False) -> list[str]:
        """What would fit, one phrase each; with `cli`, as `kriptik deploy` flags."""
        found: list[str] = []
        rate = self.usd_per_hour / 3600
        if (n := self.fewer_workers) is not None:
            how = f"--workers-max {n}" if cli else f"workers_max={n}"
            found.append(f"{how} (at most ${n * rate * self.ttl_s:.2f})")
        if (pool := self.cheaper_pool) is not None:
            most = self.workers_max * pool.usd_per_second * self.ttl_s
            how = f"--gpu {pool.pool_id}" if cli else f"pool={pool.pool_id}"
            found.append(
                f"a cheaper GPU, {how}: {pool.gpu_count} x {pool.label} at "
                f"${pool.usd_per_second * 3600:.2f}/h (at most ${most:.2f})"
            )
        if (ttl := self.shorter_ttl_s) is not None:
            how = f"{duration(ttl)}, --ttl-minutes {ttl // 60}" if cli else duration(ttl)
            found.append(f"a time-to-live of {how} (at most ${self.workers_max * rate * ttl:.2f})")
        return found

    def refusal(self, *, cli: bool = False) -> str:
        """Why the plan is refused, with the figures and what would fit (`cli`: as flags)."""
        binding = (
            f"your per-deployment cap of ${self.deployment_cap_usd:.2f}"
            if self.deployment_cap_usd < self.left_usd
            else "what is left of your monthly GPU budget"
        )
        options = self.options(cli=cli)
        fits = (
            "What would fit: " + "; ".join(options) + "."
            if options
            else "Nothing smaller of this plan fits: wait for next month's budget."
        )
        return (
            f"Over budget: monthly GPU budget ${self.monthly_budget_usd:.2f}: "
            f"${self.left_usd:.2f} left (${self.spent_usd:.2f} spent this month); "
            f"per-deployment cap ${self.deployment_cap_usd:.2f}. This plan can cost up to "
            f"${self.worst_case_usd:.2f} ({self.formula()}), more than {binding}. {fits} "
            "An admin can raise the limits (`kriptik admin limits set USER --monthly-budget "
            "USD --deployment-cap USD`)."
        )


def check_plan_budget(
    plan: DeploymentPlan, limits: EffectiveLimits, spent: float, *, default_ttl_s: int | None = None
) -> BudgetCheck:
    """`plan`'s worst case against `limits` with `spent` already spent this month.

    Args:
        plan: The deployment plan (its workers, price and time-to-live).
        limits: The user's effective limits.
        spent: The user's GPU spend this UTC month.
        default_ttl_s: The time-to-live of a plan that names none (the operator's default).

    Raises:
        ValueError: The plan names no time-to-live and no default was given.
    """
    ttl = plan.ttl_s or default_ttl_s
    if ttl is None:
        raise ValueError("the plan has no time-to-live and no default_ttl_s was given")
    check = BudgetCheck(
        worst_case_usd=plan.workers_max * plan.usd_per_second * ttl,
        workers_max=plan.workers_max,
        usd_per_hour=plan.usd_per_hour,
        ttl_s=ttl,
        monthly_budget_usd=limits.monthly_budget_usd,
        spent_usd=spent,
        deployment_cap_usd=limits.deployment_cap_usd,
        unit=TARGET_UNITS[plan.target],
    )
    if check.fits:
        return check
    allowed = check.allowed_usd + _EPSILON_USD
    return check.model_copy(
        update={
            "fewer_workers": _fewer_workers(plan, ttl, allowed),
            "cheaper_pool": _cheaper_pool(plan, ttl, allowed),
            "shorter_ttl_s": _shorter_ttl(plan, allowed),
        }
    )


def _fewer_workers(plan: DeploymentPlan, ttl_s: int, allowed: float) -> int | None:
    """The most workers (below the plan's) whose worst case fits."""
    per_worker = plan.usd_per_second * ttl_s
    most = math.floor(allowed / per_worker) if per_worker > 0 else plan.workers_max
    return min(most, plan.workers_max - 1) if most >= 1 else None


def _cheaper_pool(plan: DeploymentPlan, ttl_s: int, allowed: float) -> PoolOption | None:
    """The priciest (so the best) of the cheaper pools the model fits whose worst case fits."""
    fitting = [
        o
        for o in plan.options
        if o.usd_per_second < plan.usd_per_second
        and plan.workers_max * o.usd_per_second * ttl_s <= allowed
    ]
    return max(fitting, key=lambda o: o.usd_per_second, default=None)


def _shorter_ttl(plan: DeploymentPlan, allowed: float) -> int | None:
    """The longest time-to-live (whole minutes) whose worst case fits."""
    per_second = plan.workers_max * plan.usd_per_second
    if per_second <= 0:
        return None
    longest = math.floor(allowed / per_second / 60) * 60
    return longest if longest >= _SHORTEST_TTL_S else None


async def plan_budget(
    services: PipelineServices, user_id: str, plan: DeploymentPlan
) -> BudgetCheck:
    """`check_plan_budget` for this user now: their limits, and what they spent this month."""
    limits = await services.limits(user_id)
    spent = await services.vault.limits.spent_this_month(user_id, now=services.clock())
    return check_plan_budget(plan, limits, spent, default_ttl_s=services.settings.endpoint_ttl_s)
