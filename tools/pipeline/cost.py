"""A deployment's true running cost: accrued for as long as its endpoint exists (every
billed worker, running or idle, with its container disk, from the endpoint's creation to
its deletion), and reconciled with what RunPod billed where its billing API answers.

How it accrues. `cost_usd` is counted up to `cost_accrued_to`. Each accrual looks at the
endpoint's workers and adds, for each billed one (RUNNING or IDLE), the seconds since
`cost_accrued_to` (or since the worker started, if later) at the plan's price plus its
container disk. The record moves forward only from the value the caller read (a
compare-and-set in SQL, `DeploymentStore.accrue_cost`), so pollers that overlap never
count a second twice. It is a sample: a worker that came and went between two looks is
not seen, which is why RunPod's own figure (`billed_usd`) is shown beside it.

When it accrues: at every look while the deployment waits for its workers
(`accrue_observed`), at every read a person makes (the deployments panel, the reminders,
/usage, `kriptik deployments`: `refresh`), from any schedule the process runs (`accrue`),
and at teardown, just before the endpoint is deleted (`accrue`, then `close` at the end).

A deploy target beside RunPod (`tools.targets`) has no worker list: each accrual asks the
target what runs now (`running_usd_per_hour`) and counts that rate over the seconds since
`cost_accrued_to` (`accrue_at_rate`), with the same compare-and-set. Where the target cannot
say (Cloud Run reports no instance count while it scales between its minimum and maximum),
the count stays where it is and the figure is shown as unknown, never as $0
(`running_cost_known`). Only RunPod's bill is read back (`reconcile`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Final

from pydantic import ValidationError

from tools.clients.errors import NotFound, ProviderError
from tools.clients.runpod_models import Workers
from tools.pipeline.plan import DeploymentPlan
from tools.pipeline.services import PipelineServices
from tools.pipeline.target_plan import (
    TargetMissing,
    is_target_deployment,
    plan_of_view,
    target_for,
    target_plan_for,
)
from tools.targets.base import EndpointState, TargetEndpoint
from vault import CredentialNotFound
from vault.deployments import DeploymentView

__all__ = [
    "BILLED_STATUSES",
    "DISK_USD_PER_GB_MONTH",
    "accrue",
    "accrue_at_rate",
    "accrue_observed",
    "close",
    "money",
    "reconcile",
    "refresh",
    "running_cost_known",
    "spent_text",
    "start_accrual",
    "target_rate",
    "usd_per_worker_second",
    "worker_seconds",
]

# RunPod bills a serverless worker from start until it stops, busy or idle.
BILLED_STATUSES: Final = frozenset({"RUNNING", "IDLE"})
# docs serverless/pricing.mdx: container disk, $0.10 per GB-month (a 30-day month here).
DISK_USD_PER_GB_MONTH: Final = 0.10
_MONTH_S: Final = 30 * 86400
# Compare-and-set tries before giving up to a poller that keeps winning (it counted).
_ATTEMPTS: Final = 5
# Whose bill a target deployment runs up (none of theirs is read back).
_BILLER: Final = {"huggingface": "Hugging Face", "cloudrun": "Google Cloud", "sagemaker": "AWS"}


def usd_per_worker_second(view: DeploymentView) -> float:
    """One billed worker: all its GPUs at the plan's price, and its container disk."""
    try:
        disk_gb = DeploymentPlan.model_validate(view.plan).worker.disk_gb
    except ValidationError:  # a record without a full plan: its GPUs only
        disk_gb = 0
    return view.usd_per_second + disk_gb * DISK_USD_PER_GB_MONTH / _MONTH_S


def worker_seconds(workers: Workers, since: datetime, to: datetime) -> float:
    """Billed worker-seconds in [since, to], as far as one look at `to` shows them."""
    total = 0.0
    for worker in workers.workers:
        if worker.status in BILLED_STATUSES:
            began = min(max(since, worker.started_at or since), to)
            total += (to - began).total_seconds()
    return total


def _accrued_to(view: DeploymentView) -> datetime:
    """Where the count stands. Records from before accrual kept counting only up to ready
    (`cost_usd` already holds that), and the rest since their creation."""
    return view.cost_accrued_to or view.ready_at or view.created_at


def _exists(view: DeploymentView) -> bool:
    return view.endpoint_id is not None and view.state != "torn_down"


async def start_accrual(svc: PipelineServices, deployment_id: str, at: datetime) -> None:
    """The endpoint exists from `at`: the count starts there (once; a re-run keeps it)."""
    await svc.deployments.accrue_cost(deployment_id, 0.0, expected=None, to=at)


async def accrue_observed(
    svc: PipelineServices, deployment_id: str, workers: Workers | None, at: datetime
) -> DeploymentView:
    """Count up to `at` what `workers`, looked at then, show (None: nothing runs)."""

    def usd(view: DeploymentView, since: datetime) -> float:
        seconds = worker_seconds(workers, since, at) if workers is not None else 0.0
        return seconds * usd_per_worker_second(view)

    return await _count(svc, deployment_id, at, usd)


async def accrue_at_rate(
    svc: PipelineServices, deployment_id: str, usd_per_hour: float, at: datetime
) -> DeploymentView:
    """Count up to `at` at `usd_per_hour` (a deploy target's running rate, read at `at`)."""
    return await _count(
        svc, deployment_id, at, lambda _, since: (at - since).total_seconds() * usd_per_hour / 3600
    )


async def _count(
    svc: PipelineServices, deployment_id: str, at: datetime,
    usd_since: Callable[[DeploymentView, datetime], float],
) -> DeploymentView:  # fmt: skip
    """Move the count to `at`, adding `usd_since(view, since)`, from the value read (a
    compare-and-set: overlapping pollers never count a second twice)."""
    store = svc.deployments
    view = await store.get(deployment_id, user_id=None)
    for _ in range(_ATTEMPTS):
        since = _accrued_to(view)
        if at <= since:
            return view  # another poller counted this time already
        usd = usd_since(view, since)
        counted = await store.accrue_cost(deployment_id, usd, expected=view.cost_accrued_to, to=at)
        view = await store.get(deployment_id, user_id=None)
        if counted:
            break
    return view


async def accrue(svc: PipelineServices, deployment_id: str) -> DeploymentView:
    """Look at the endpoint's workers now and count up to now. An endpoint scaled to zero
    (or gone) adds nothing; one RunPod cannot show now keeps its count where it was, and
    the next look counts the gap."""
    view = await svc.deployments.get(deployment_id, user_id=None)
    if not _exists(view):
        return view
    if is_target_deployment(view):
        return await accrue_target(svc, view, await target_rate(svc, view))
    workers: Workers | None = None
    if view.workers_max > 0:
        try:
            workers = await (await svc.runpod(view.user_id)).workers(view.endpoint_id or "")
        except NotFound:
            workers = None  # deleted: nothing bills any more
        except (ProviderError, CredentialNotFound):
            return view
    return await accrue_observed(svc, deployment_id, workers, svc.clock())


async def accrue_target(
    svc: PipelineServices, view: DeploymentView, rate: float | None
) -> DeploymentView:
    """Count a deploy target's deployment up to now at `rate`, as `target_rate` read it
    ($/h); None (it could not say) keeps the count where it was, and the next look counts
    the gap."""
    return view if rate is None else await accrue_at_rate(svc, view.id, rate, svc.clock())


async def target_rate(svc: PipelineServices, view: DeploymentView) -> float | None:
    """What the deploy target says the deployment runs up now, $/h; None when it cannot
    say, or cannot be asked (a blip: the next look counts the gap)."""
    plan = plan_of_view(view)
    if plan is None:
        return None
    state: EndpointState = "initializing"
    if view.state in {"failed", "cancelled"}:
        state = "failed"  # a failed target deployment's resource was deleted at once
    elif view.state == "ready":
        state = "ready"
    endpoint = TargetEndpoint(
        target=plan.target, resource_id=view.endpoint_id or "", url=view.urls.get("base"),
        state=state,
    )  # fmt: skip
    try:
        target = target_for(svc, plan)
        return await target.running_usd_per_hour(
            view.user_id, endpoint, target_plan_for(view, plan)
        )
    except (ProviderError, CredentialNotFound, TargetMissing):
        return None


def running_cost_known(view: DeploymentView) -> bool:
    """Whether the deployment's running cost can be counted. Cloud Run reports no instance
    count, so a service that scales between a different minimum and maximum has an unknown
    cost (`CloudRunTarget.running_usd_per_hour` says None then); every other case is known."""
    plan = view.plan
    if plan.get("target") != "cloudrun":
        return True
    return plan.get("workers_min") == plan.get("workers_max")


async def reconcile(svc: PipelineServices, view: DeploymentView) -> DeploymentView:
    """Record what RunPod billed for the endpoint since it was created (`billed_usd`, at
    `billed_at`). Where the billing API does not answer (a key without billing access,
    an outage), the figure stays as it was: unknown, or the last one read. A deploy target's
    bill is not read (their billing APIs need more than the deploy credential)."""
    if view.endpoint_id is None or is_target_deployment(view):
        return view
    # From its creation, and never after now (the record's clock may run ahead).
    since = min(view.created_at, svc.clock())
    try:
        runpod = await svc.runpod(view.user_id)
        billing = await runpod.serverless_billing(view.endpoint_id, since=since)
    except (ProviderError, CredentialNotFound):
        return view
    return await svc.deployments.update(
        view.id, billed_usd=billing.totals.total, billed_at=svc.clock()
    )


async def close(svc: PipelineServices, deployment_id: str, at: datetime) -> DeploymentView:
    """The endpoint is deleted: count nothing after `at`, and read RunPod's bill once more."""
    view = await accrue_observed(svc, deployment_id, None, at)
    return await reconcile(svc, view)


async def refresh(svc: PipelineServices, user_id: str) -> list[DeploymentView]:
    """The user's deployments with current figures: each endpoint that still exists is
    accrued up to now and reconciled with RunPod's bill."""
    views: list[DeploymentView] = []
    for view in await svc.deployments.list(user_id):
        if _exists(view):
            view = await reconcile(svc, await accrue(svc, view.id))
        views.append(view)
    return views


def money(usd: float) -> str:
    """Dollars, with cents; below a dollar, to a hundredth of a cent (never "$0.00" for
    a small cost that is not zero)."""
    return f"${usd:,.2f}" if usd >= 1 or usd == 0 else f"${usd:.4f}"


def spent_text(view: DeploymentView) -> str:
    """What the deployment has cost: "$1.23 estimated, $1.19 billed by RunPod", or "...,
    RunPod's bill unknown". An unknown figure says so, never $0."""
    if view.usd_per_second <= 0 and view.endpoint_id is not None:
        estimated = "unknown (no price for its GPU)"
    elif not running_cost_known(view):
        estimated = "unknown (the provider does not report how many instances run)"
    else:
        estimated = f"{money(view.cost_usd)} estimated"
    if is_target_deployment(view):
        biller = _BILLER.get(str(view.plan.get("target")), "the provider")
        return f"{estimated}, {biller}'s bill not read"
    if view.billed_usd is None:
        return f"{estimated}, RunPod's bill unknown"
    return f"{estimated}, {money(view.billed_usd)} billed by RunPod"
