"""Whether extending a ready endpoint fits its owner's monthly GPU budget: more time is
more spend, so Extend is checked like a new plan (`tools.budget` checks those, a layer
above the pipeline)."""

from __future__ import annotations

from datetime import datetime
from typing import Final

from tools.pipeline.cost import usd_per_worker_second
from tools.pipeline.expiry import span
from tools.pipeline.services import PipelineServices
from vault.deployments import DeploymentView

__all__ = ["extension_refusal"]

# Rounding slack, as the plan check has: a cent's fraction never refuses an extension.
_EPSILON_USD: Final = 1e-6


async def extension_refusal(
    services: PipelineServices, view: DeploymentView, expires: datetime
) -> str | None:
    """Why extending `view` to `expires` does not fit the owner's monthly budget (None: it
    fits). The extra worst case is all its workers for the added time, but never more than
    what is left of its own dollar cap, which stops it in any case."""
    # From the record, as the running cost accrues (a record from before full plans too).
    rate = usd_per_worker_second(view)
    now = services.clock()
    added_s = max((expires - max(view.expires_at or now, now)).total_seconds(), 0.0)
    extra = view.workers_max * rate * added_s
    if view.cost_cap_usd is not None:
        extra = min(extra, max(view.cost_cap_usd - view.cost_usd, 0.0))
    limits = await services.limits(view.user_id)
    spent = await services.vault.limits.spent_this_month(view.user_id, now=now)
    left = max(limits.monthly_budget_usd - spent, 0.0)
    if extra <= left + _EPSILON_USD:
        return None
    return (
        f"Extending {view.repo_id} could cost up to ${extra:.2f} more "
        f"({view.workers_max} x ${rate * 3600:.2f}/h for {span(added_s)}), but "
        f"${left:.2f} of your ${limits.monthly_budget_usd:.2f} monthly GPU budget is left. "
        "Tear down a deployment you no longer need, or ask an admin to raise your budget "
        "(`kriptik admin limits set USER --monthly-budget USD`)."
    )
