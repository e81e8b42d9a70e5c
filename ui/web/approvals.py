"""Approval cards: what a side effect will create and what it costs, then Approve or Deny
(`cl.AskActionMessage`).

Only a click on this card's own Approve button approves: the reply must name one of the
buttons sent with this card and carry its one-time token. Anything else (Deny, a timeout,
a reply for another card) is a denial, and the model is told why.
"""

from __future__ import annotations

# Chainlit's ask messages are only partly annotated.
# pyright: reportUnknownMemberType=false, reportUnknownVariableType=false
# pyright: reportUnknownArgumentType=false
import secrets
from dataclasses import dataclass
from typing import Any, Final, Literal

import chainlit as cl

from agent.events import Approval
from agent.interaction import ApprovalDecision
from tools.cards import GpuTerms
from tools.sizing import pool_label
from ui.web.render import clean

# For the 1,000-request estimate when the plan gives none: GPU seconds per request plus
# the idle tail RunPod bills after it (a worker that scales to zero waits `idleTimeout`).
_SECONDS_PER_REQUEST: Final = 2.0
_IDLE_TAIL_S: Final = 5.0
ELEMENT: Final = "ApprovalCard"
Status = Literal["pending", "approved", "denied", "expired"]


@dataclass(frozen=True)
class Card:
    """The rows of an approval card, all plain text."""

    title: str
    provider: str
    resource: str
    gpu_pool: str | None
    workers: str | None
    running: str
    idle: str | None
    per_1k_requests: str | None
    bound: str | None = None
    vram: str | None = None
    # Why the pool is not the cheapest that fits ("24 GB (AMPERE_24) has no capacity now;
    # using 24 GB PRO (ADA_24) at $1.12/h"), from the plan's pick.
    pool_choice: str | None = None
    # What scales, in the target's word: RunPod's workers, a target's replicas or instances.
    unit: str = "worker"

    def rows(self) -> list[dict[str, Any]]:
        rows: list[tuple[str, str | None, bool]] = [
            ("Provider", self.provider, False), ("Creates", self.resource, False),
            ("GPU pool", self.gpu_pool, False), ("Pool choice", self.pool_choice, True),
            # The estimate, its band, and that the pool was chosen on the band's upper end.
            ("VRAM", self.vram, False), (f"{self.unit.capitalize()}s", self.workers, False),
            ("Running", self.running, True), ("Idle", self.idle, True),
            ("1,000 requests", self.per_1k_requests, True),
            # Exactly what runs if approved (the pinned revision, the visibility, ...).
            ("Runs exactly", self.bound, False),
        ]  # fmt: skip
        return [{"name": n, "value": clean(v), "emphasis": e} for n, v, e in rows if v]

    def props(self, status: Status, *, by: str | None = None) -> dict[str, Any]:
        return {
            "title": clean(self.title), "rows": self.rows(), "status": status,
            "decided_by": by, "note": "Nothing is created or charged until you approve.",
        }  # fmt: skip

    def text(self) -> str:
        """The card as plain lines (what the ask message says when it is answered)."""
        return "\n".join(f"- **{row['name']}:** {row['value']}" for row in self.rows())


def _costs(terms: GpuTerms, hourly: float) -> tuple[str, str, str]:
    """The Running, Idle and 1,000-requests rows, in the target's unit ("worker",
    "replica", "instance") and with its idle tail: a copy that scales to zero still bills
    the tail after its last request, which is what a sparse request costs above a busy one."""
    unit, low = terms.unit, terms.workers_min
    tail = _IDLE_TAIL_S if terms.idle_tail_s is None else terms.idle_tail_s
    running = f"${hourly:.2f}/hour per {unit} while it runs"
    idle = (
        f"$0.00/hour: no {unit} runs while idle"
        if low == 0
        else f"${hourly * low:.2f}/hour: {low} {unit}{'s' if low > 1 else ''} always on"
    )
    busy = hourly / 3600 * _SECONDS_PER_REQUEST * 1000
    sparse = hourly / 3600 * (_SECONDS_PER_REQUEST + tail) * 1000
    wait = f"{tail / 60:.0f} min" if tail >= 60 else f"{tail:.0f} s"
    # RunPod's few seconds go unsaid; a target's minutes of idle billing are worth saying.
    why = "" if terms.idle_tail_s is None else f", each {unit} billed {wait} idle after it"
    per_1k = (
        f"${busy:.2f} to ${sparse:.2f}, at ~{_SECONDS_PER_REQUEST:.0f} s of GPU each"
        f" (the higher figure when requests come one at a time{why})"
    )
    return running, idle, per_1k


def card_for(approval: Approval) -> Card:
    """The card for an approval event: the plan's own words and price, plus the GPU rows
    (pool, workers, idle cost, 1,000 requests) from the terms the plan resolved, which are
    the terms that run. Which rows appear follows from the event's fields (its provider, its
    GPU terms), never from the tool's name."""
    provider = approval.provider or "not named"
    resource = "; ".join(approval.creates) or approval.summary
    gpu_pool = workers = idle = per_1k = vram = pool_choice = None
    running = approval.price
    if (terms := approval.gpu) is not None:  # an endpoint: the terms its plan resolved
        # The pool's one display name: the plan's own, else the table's (an estimate card).
        pool = (terms.pick.pool_label if terms.pick else None) or pool_label(terms.pool)
        count = terms.gpu_count
        pool_choice = terms.pick.capacity_note if terms.pick else None
        low, high = terms.workers_min, terms.workers_max
        gpu_pool = f"{pool} x {count} GPU{'s' if count > 1 else ''}"
        vram = terms.vram_line()
        workers = f"{low} to {high}" + (" (scales to zero when idle)" if low == 0 else "")
        hourly = approval.usd_per_hour
        if hourly is not None:
            running, idle, per_1k = _costs(terms, hourly)
        else:
            idle = "unknown"
    bound = "; ".join(f"{name}: {value}" for name, value in approval.facts.items()) or None
    return Card(
        approval.summary, provider, resource, gpu_pool, workers, running, idle, per_1k, bound,
        vram=vram, pool_choice=pool_choice, unit=approval.gpu.unit if approval.gpu else "worker",
    )  # fmt: skip


async def ask_approval(approval: Approval, *, user: str, wait_s: int) -> ApprovalDecision:
    """Show the card and wait up to `wait_s` for a click on Approve or Deny."""
    card = card_for(approval)
    token = secrets.token_urlsafe(12)
    approve = cl.Action(
        name="approve", label="Approve", icon="check", payload={"token": token},
        tooltip="Create it and start billing",
    )  # fmt: skip
    deny = cl.Action(
        name="deny", label="Deny", icon="x", payload={"token": token},
        tooltip="Do nothing; the assistant is told",
    )  # fmt: skip
    ask = cl.AskActionMessage(
        content=f"**{clean(card.title)}?** Approve to go ahead, or deny.",
        actions=[approve, deny], timeout=wait_s,
    )  # fmt: skip
    element = cl.CustomElement(name=ELEMENT, props=card.props("pending"), display="inline")
    await element.send(for_id=ask.id)
    reply = await ask.send()
    approved = (
        reply is not None
        and reply.get("id") == approve.id
        and reply.get("name") == "approve"
        and (reply.get("payload") or {}).get("token") == token
    )
    status: Status
    if reply is None:
        status, verdict, note = "expired", "Not answered in time: nothing was created.", "timed out"
    elif approved:
        status, verdict, note = "approved", f"**Approved** by {user}.", None
    else:
        status, verdict, note = (
            "denied",
            f"**Denied** by {user}: nothing was created.",
            "denied by the user",
        )
    element.props = card.props(status, by=None if reply is None else user)
    await element.update()
    ask.content = verdict
    await ask.update()
    return ApprovalDecision(approved=approved, by=user, note=note)
