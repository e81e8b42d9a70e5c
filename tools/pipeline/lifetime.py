"""An endpoint's lifetime, as a durable workflow (DBOS): once a deployment is ready, watch
its time-to-live, its idle limit and its dollar cap, warn before the first of them, then
tear it down through the teardown workflow and say so in the chat and the audit transcript.

    ready --> check (row + RunPod /health) --> wait --> ... --> warn --> ... --> due?
                  ^------ an extension (`extend`) wakes the wait ------'        |
                                                               teardown <-------'

The workflow id is `<deployment id>:lifetime`, started by the deployment workflow when it
ends ready (`workflow.run_deployment`), so starting it twice runs it once. Its waits are
`DBOS.recv_async` with a timeout: a durable sleep (a restarted process sleeps only what is
left of it) that `extend` can cut short. Every read of the clock and of the record is in a
step, so a recovered workflow replays the same decisions. Activity is RunPod's job counters
(`/health`): a change since the last look, or jobs queued or running, moves
`last_active_at`; a deploy target reports none, so its idle limit runs from readiness or the
last extension. The user may extend the endpoint (`extend`) or tear it down at any time;
the workflow re-reads the record before it acts, so it never stops what was extended.

Each look also accrues the endpoint's running cost (`tools.pipeline.cost.accrue`), so what
it has spent keeps growing while it is up even when nobody looks at it. Its dollar cap
(`cost_cap_usd`, recorded at creation) cannot be warned of ahead: the look that sees the
cost reach it warns ("stops now") and tears the endpoint down at once, and `extend` refuses.

The steps are plain functions of the services; `DeploymentPipeline` (`durable`) runs each as
a named DBOS step, and its `lifetime_workflow` runs `run_lifetime`.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any, Final, Literal, Protocol

from dbos import DBOS, SetWorkflowID
from pydantic import BaseModel, ConfigDict

from tools.clients.errors import ProviderError
from tools.pipeline import cost
from tools.pipeline.expiry import Deadline, Reason, cost_cap_reached, deadline_of, span
from tools.pipeline.extension_budget import extension_refusal
from tools.pipeline.services import PipelineServices
from tools.pipeline.target_plan import is_target_deployment
from tools.pipeline.teardown_flow import TeardownReport
from vault import CredentialNotFound, VaultError
from vault.chat import ChatStore
from vault.deployments import DeploymentView

__all__ = [
    "LIFETIME",
    "LIFETIME_THREAD",
    "LifetimeCheck",
    "LifetimeError",
    "LifetimeOutcome",
    "LifetimeSteps",
    "check",
    "extend",
    "lifetime_id",
    "record_teardown",
    "run_lifetime",
    "stop_if_due",
    "warn",
]

# The topic the lifetime workflow listens on while it waits (`extend` wakes it).
LIFETIME: Final = "lifetime"
# Audit rows of a deployment started outside a chat (the CLI) share this thread id.
LIFETIME_THREAD: Final = "deployments"
LifetimeOutcome = Literal["torn_down", "teardown_failed", "ended"]
# The chat's assistant name (`.chainlit/config.toml`): notices read as its messages.
_AUTHOR: Final = "KripTik AI"
_NOTICE_NS: Final = uuid.UUID("6f1d2c3e-9b1a-4c55-8a77-2f0e1d3c4b5a")


class LifetimeError(VaultError):
    """The deployment cannot be extended; the message says why."""


class LifetimeCheck(BaseModel):
    """One look at a ready deployment: the time, its deadline, and its job counters."""

    model_config = ConfigDict(frozen=True)

    at: str
    ended: bool = False
    deadline: str | None = None
    reason: Reason | None = None
    warning_s: float = 0.0
    warned: bool = False
    # completed + failed + inProgress + inQueue at this look (None: RunPod did not answer).
    activity: int | None = None


class LifetimeSteps(Protocol):
    """The durable steps of a lifetime, as `DeploymentPipeline` (`tools.pipeline.durable`)
    registers them with DBOS. A protocol, so this module never imports the one that runs it."""

    services: PipelineServices

    async def lifetime_check(self, deployment_id: str, seen: int | None) -> LifetimeCheck: ...
    async def lifetime_warn(self, deployment_id: str, deadline: str) -> None: ...
    async def lifetime_due(self, deployment_id: str) -> str | None: ...
    async def lifetime_record(
        self, deployment_id: str, why: str, report: TeardownReport
    ) -> None: ...
    async def teardown_workflow(self, deployment_id: str, remove_image: bool) -> TeardownReport: ...


def lifetime_id(deployment_id: str) -> str:
    return f"{deployment_id}:lifetime"


# ---- steps ------------------------------------------------------------------------------


def _warning_s(svc: PipelineServices, view: DeploymentView) -> float:
    planned = view.plan.get("warning_s")
    return float(planned if isinstance(planned, int) else svc.settings.expiry_warning_s)


async def _start_clock(
    svc: PipelineServices, view: DeploymentView, now: datetime
) -> DeploymentView:
    """The first look after ready: the time-to-live runs from now; a record written before
    lifetimes existed gets the operator's defaults."""
    if view.expires_at is not None and view.last_active_at is not None:
        return view
    ttl = view.ttl_s or svc.settings.endpoint_ttl_s
    return await svc.deployments.update(
        view.id,
        ttl_s=ttl,
        idle_limit_s=view.idle_limit_s or svc.settings.endpoint_idle_limit_s,
        expires_at=view.expires_at or now + timedelta(seconds=ttl),
        last_active_at=view.last_active_at or now,
    )


async def _activity(svc: PipelineServices, view: DeploymentView) -> tuple[int | None, bool]:
    """(the job counters' sum, whether jobs are queued or running now); (None, False) when
    RunPod cannot be asked (a blip must not count as idleness, nor as activity). A deploy
    target's activity is `_target_busy`."""
    try:
        health = await (await svc.jobs(view.user_id)).health(view.endpoint_id or "")
    except (ProviderError, CredentialNotFound):
        return None, False
    jobs = health.jobs
    busy = jobs.get("inProgress", 0) + jobs.get("inQueue", 0) > 0
    total = sum(jobs.get(k, 0) for k in ("completed", "failed", "inProgress", "inQueue"))
    return total, busy or health.workers.get("running", 0) > 0


def _target_busy(view: DeploymentView, rate: float | None) -> bool:
    """Whether a deploy target's deployment, running up `rate` ($/h) now, is in use. One
    that scales to zero (no replica always on) has an instance up only while requests keep
    it: it scales in after its idle time without them, so a cost now means requests within
    that time (a SageMaker inference component, a Hugging Face endpoint). One with replicas
    always on bills idle or not, and reports no request counts: its idle limit counts from
    readiness or the user's last extension."""
    return view.plan.get("workers_min", 1) == 0 and bool(rate)


async def check(svc: PipelineServices, deployment_id: str, seen: int | None) -> LifetimeCheck:
    """Look once: the record, the clock and RunPod's job counters (`seen`: their sum at the
    last look). Moves `last_active_at` on activity, accrues the running cost up to now (the
    scheduled accrual; overlapping readers never count a second twice), and clears a
    warning whose deadline has moved since (an extension, or requests again)."""
    view = await svc.deployments.get(deployment_id, user_id=None)
    now = svc.clock()
    if view.state != "ready" or view.endpoint_id is None:
        return LifetimeCheck(at=now.isoformat(), ended=True)
    view = await _start_clock(svc, view, now)
    rate: float | None = None
    if target := is_target_deployment(view):
        # One look at the target: its running rate is both its activity and its cost count.
        rate = await cost.target_rate(svc, view)
        activity, busy = None, _target_busy(view, rate)
    else:
        activity, busy = await _activity(svc, view)
    if busy or (seen is not None and activity is not None and activity != seen):
        view = await svc.deployments.update(deployment_id, last_active_at=now)
    if target:
        view = await cost.accrue_target(svc, view, rate)
    else:
        view = await cost.accrue(svc, deployment_id)
    deadline, warning_s = deadline_of(view), _warning_s(svc, view)
    if deadline is None:  # never: the clock has just started
        return LifetimeCheck(at=now.isoformat(), ended=True)
    if view.warned_at is not None and now < deadline.at - timedelta(seconds=warning_s):
        view = await svc.deployments.update(deployment_id, warned_at=None)
    return LifetimeCheck(
        at=now.isoformat(), deadline=deadline.at.isoformat(), reason=deadline.reason,
        warning_s=warning_s, warned=view.warned_at is not None, activity=activity,
    )  # fmt: skip


def _notice_id(deployment_id: str, what: str) -> str:
    """A notice's chat step id, the same on a re-run of its step (no second message)."""
    return str(uuid.uuid5(_NOTICE_NS, f"{deployment_id}:{what}"))


async def _notify(svc: PipelineServices, view: DeploymentView, text: str, step_id: str) -> None:
    """Post `text` in the deployment's chat as the assistant's message (only in a thread
    that its owner still has: a deleted chat is not brought back by a notice)."""
    if view.thread_id is None:
        return
    chat = ChatStore(svc.vault.sessions)
    owner, _ = await chat.thread_owner(view.thread_id)
    if owner != view.user_id:
        return
    values = {"type": "assistant_message", "name": _AUTHOR, "output": text}
    await chat.upsert_step(step_id, view.thread_id, values)


async def _audit(
    svc: PipelineServices, view: DeploymentView, tool: str, args: dict[str, Any],
    summary: str, *, ok: bool = True,
) -> None:  # fmt: skip
    await svc.vault.audit.record_tool(
        thread_id=view.thread_id or LIFETIME_THREAD, user_id=view.user_id, tool=tool,
        tool_call_id=None, args={"deployment_id": view.id, **args},
        outcome="success" if ok else "failed", summary=summary,
    )  # fmt: skip


def _who(view: DeploymentView) -> str:
    return f"{view.repo_id} (endpoint {view.endpoint_id})"


async def warn(svc: PipelineServices, deployment_id: str, deadline: str) -> None:
    """Say, once per deadline, that the endpoint stops soon: the record (`warned_at`, which
    the deployments panel shows), the audit transcript and the chat."""
    view = await svc.deployments.get(deployment_id, user_id=None)
    found = deadline_of(view)
    if view.warned_at is not None or view.state != "ready" or found is None:
        return
    left = (found.at - svc.clock()).total_seconds()
    text = (
        f"{_who(view)} stops by itself in {span(left)}: {found.words()}. To keep it, press "
        "Extend in /deployments; to stop it now, tear it down there."
        if left > 0
        else f"{_who(view)} stops by itself now: {found.words()}."
    )
    args = {"endpoint_id": view.endpoint_id, "reason": found.words(), "deadline": deadline}
    await _audit(svc, view, "endpoint_expiry_warning", args, text)
    await svc.deployments.update(deployment_id, warned_at=svc.clock())
    await _notify(svc, view, text, _notice_id(deployment_id, f"warned {deadline}"))


async def stop_if_due(svc: PipelineServices, deployment_id: str) -> str | None:
    """Re-read the record at the deadline: the user may have extended the endpoint or torn
    it down. Still due: mark it `tearing_down` (a deployment step refuses to create after
    that) and return why; otherwise None."""
    view = await svc.deployments.get(deployment_id, user_id=None)
    found: Deadline | None = deadline_of(view)
    if view.state != "ready" or found is None or svc.clock() < found.at:
        return None
    why = found.words()
    await svc.deployments.update(
        deployment_id, state="tearing_down", message=f"stopping by itself: {why}"
    )
    return why


async def record_teardown(
    svc: PipelineServices, deployment_id: str, why: str, report: TeardownReport
) -> None:
    """The automatic teardown in the audit transcript and the chat."""
    view = await svc.deployments.get(deployment_id, user_id=None)
    ok = report.failure is None
    head = f"{_who(view)} was torn down automatically ({why})." if ok else (
        f"{_who(view)} reached its limit ({why}), but its automatic teardown stopped part-way."
    )  # fmt: skip
    text = f"{head}\n{report.text()}"
    args = {"endpoint_id": view.endpoint_id, "reason": why, "removed": list(report.removed)}
    await _audit(svc, view, "endpoint_auto_teardown", args, text, ok=ok)
    await _notify(svc, view, text, _notice_id(deployment_id, "torn down"))


# ---- the workflow -----------------------------------------------------------------------


async def _tear_down(pipe: LifetimeSteps, deployment_id: str, why: str) -> LifetimeOutcome:
    """The existing teardown workflow, as a child with a fixed id (a recovered lifetime
    finds the same teardown instead of starting a second)."""
    with SetWorkflowID(f"{deployment_id}:teardown:lifetime"):
        handle = await DBOS.start_workflow_async(pipe.teardown_workflow, deployment_id, False)
    report = await handle.get_result()
    await pipe.lifetime_record(deployment_id, why, report)
    return "torn_down" if report.failure is None else "teardown_failed"


async def run_lifetime(pipe: LifetimeSteps, deployment_id: str) -> LifetimeOutcome:
    """Watch one ready deployment until it ends; see the module docstring."""
    poll_s = pipe.services.timings.activity_poll_s
    seen: int | None = None
    while True:
        look = await pipe.lifetime_check(deployment_id, seen)
        if look.ended or look.deadline is None:
            return "ended"
        seen = look.activity if look.activity is not None else seen
        now, deadline = datetime.fromisoformat(look.at), datetime.fromisoformat(look.deadline)
        if now >= deadline:
            if not look.warned:  # due unannounced (a cost cap; a late look): warn as it stops
                await pipe.lifetime_warn(deployment_id, look.deadline)
            why = await pipe.lifetime_due(deployment_id)
            if why is not None:
                return await _tear_down(pipe, deployment_id, why)
            continue  # extended, or torn down by the user: the next look says which
        warn_at = deadline - timedelta(seconds=look.warning_s)
        if now >= warn_at and not look.warned:
            await pipe.lifetime_warn(deployment_id, look.deadline)
        next_at = deadline if now >= warn_at else warn_at
        wait_s = max(0.0, min(poll_s, (next_at - now).total_seconds()))
        await DBOS.recv_async(LIFETIME, timeout_seconds=wait_s)


# ---- the user's side --------------------------------------------------------------------


async def extend(services: PipelineServices, user_id: str, deployment_id: str) -> DeploymentView:
    """Give a ready deployment its full time-to-live again from now (never less than it has)
    and count now as activity; clears the warning, writes an audit row, and wakes its
    lifetime workflow so that it waits for the new deadline. Owner-checked.

    Raises:
        DeploymentNotFound: Not the user's deployment.
        LifetimeError: It has reached its dollar cap, it is not ready (nothing to extend), or
            the added time could cost more than the owner's monthly budget has left.
    """
    await services.deployments.get(deployment_id, user_id=user_id)  # the owner check
    view = await cost.accrue(services, deployment_id)  # the cap as it stands now
    if cost_cap_reached(view):
        raise LifetimeError(
            f"{view.repo_id} has reached its cost cap of ${view.cost_cap_usd or 0.0:,.2f} "
            f"({cost.money(view.cost_usd)} spent), so it cannot be extended. To run it "
            "longer, ask an admin to raise your per-deployment cap "
            "(`kriptik admin limits set USER --deployment-cap USD`), then deploy it again."
        )
    if view.state != "ready":
        raise LifetimeError(
            f"{view.repo_id} is {view.state.replace('_', ' ')}, so there is nothing to extend"
        )
    now = services.clock()
    ttl = view.ttl_s or services.settings.endpoint_ttl_s
    expires = max(view.expires_at or now, now + timedelta(seconds=ttl))
    if refusal := await extension_refusal(services, view, expires):
        raise LifetimeError(refusal)  # more time is more spend: it must fit the budget
    updated = await services.deployments.update(
        deployment_id, expires_at=expires, last_active_at=now, warned_at=None
    )
    text = f"{_who(view)} extended: it now stops by itself by {expires:%Y-%m-%d %H:%M} UTC."
    args = {"endpoint_id": view.endpoint_id, "expires_at": expires.isoformat()}
    await _audit(services, view, "endpoint_extended", args, text)
    status = await DBOS.get_workflow_status_async(lifetime_id(deployment_id))
    if status is not None and status.status in {"PENDING", "ENQUEUED"}:
        await DBOS.send_async(lifetime_id(deployment_id), "extended", topic=LIFETIME)
    return updated
