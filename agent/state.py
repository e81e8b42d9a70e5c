"""Per-turn state shared by the run loop and its hooks, and the errors that end a turn."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel
from pydantic_ai.usage import RequestUsage

from agent.events import TurnUsage, UIEvent
from agent.guard import mask
from agent.interaction import Interaction
from tools.deps import KeyService
from tools.metrics import Metrics
from vault.audit import AuditLog

__all__ = ["AuditUnavailable", "CostCapReached", "SecretInRequest", "TurnState", "summarize"]


class AuditUnavailable(Exception):
    """An audit row could not be written, so the tool did not run (fail closed)."""

    def __init__(self, tool: str) -> None:
        super().__init__(
            f"The audit log could not be written, so KripTik did not run {tool}. Nothing was "
            "changed. Check that the database is reachable, then try again."
        )


class CostCapReached(Exception):
    """The user's model spend for the day reached the configured cap. Tokens of a model
    that reports no price count at a fallback rate, and the message says how many."""

    def __init__(
        self, spent: Decimal, cap: Decimal, *, unpriced_tokens: int = 0,
        usd_per_mtok: Decimal = Decimal(0),
    ) -> None:  # fmt: skip
        self.spent, self.cap = spent, cap
        counted = (
            f" (counting {unpriced_tokens:,} tokens of a model that reports no price at "
            f"${usd_per_mtok:g} per million, KRIPTIK_UNPRICED_LLM_USD_PER_MTOK)"
            if unpriced_tokens and usd_per_mtok
            else ""
        )
        super().__init__(
            f"You have used ${spent:.2f} of your ${cap:.2f} daily model budget{counted}, so "
            "KripTik stopped before the next model request. It resets at midnight UTC; an "
            "admin can raise KRIPTIK_DAILY_COST_CAP_USD."
        )


class SecretInRequest(Exception):
    """A model request held a known key; it was not sent."""

    def __init__(self) -> None:
        super().__init__(
            "KripTik stopped a model request because it contained one of your keys. Nothing "
            "was sent. Please start a new thread; the key itself is safe in the vault."
        )


@dataclass
class TurnState:
    """What the hooks of one turn share: who, where, the audit log, the UI, the budget."""

    user_id: str
    user_name: str
    thread_id: str
    audit: AuditLog
    interaction: Interaction
    key_service: KeyService
    emit: Callable[[UIEvent], None]
    day_spent: Decimal = Decimal(0)  # priced model spend today, before this turn
    daily_cap: Decimal | None = None
    # Tokens today (before this turn) of requests that reported no price, and what a
    # million of them count for against the cap (settings.unpriced_llm_usd_per_mtok).
    day_unpriced_tokens: int = 0
    unpriced_usd_per_mtok: Decimal = Decimal(0)
    max_key_attempts: int = 3
    metrics: Metrics = field(default_factory=Metrics)  # the process's (`TurnContext.metrics`)
    turn_cost: Decimal = Decimal(0)
    cost_known: bool = True
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    unpriced_tokens: int = 0  # this turn's, from requests that reported no price
    request_started: datetime | None = None
    # Audit rows of questions awaiting their answer, and who approved a call, by call id.
    pending: dict[str, str] = field(default_factory=dict[str, str])
    approvers: dict[str, str] = field(default_factory=dict[str, str])

    def tally(self, usage: RequestUsage, cost: Decimal | None) -> None:
        """Add one model response to the turn: its tokens (cached ones too) and its cost,
        or, when it reported none, its tokens to those the cap counts at a fallback rate."""
        self.requests += 1
        self.input_tokens += usage.input_tokens
        self.output_tokens += usage.output_tokens
        self.cache_read_tokens += usage.cache_read_tokens
        self.cache_write_tokens += usage.cache_write_tokens
        if cost is None:
            self.cost_known = False
            self.unpriced_tokens += usage.input_tokens + usage.output_tokens
        else:
            self.turn_cost += cost

    def counted_today(self) -> Decimal:
        """What today's model use counts for against the daily cap: the priced spend, and
        every unpriced token at the fallback rate (so the cap holds on a local server)."""
        tokens = self.day_unpriced_tokens + self.unpriced_tokens
        return self.day_spent + self.turn_cost + tokens * self.unpriced_usd_per_mtok / 1_000_000

    def check_cap(self) -> None:
        """Raise `CostCapReached` once today's counted use has reached the cap."""
        spent = self.counted_today()
        if self.daily_cap is not None and spent >= self.daily_cap:
            raise CostCapReached(
                spent, self.daily_cap, usd_per_mtok=self.unpriced_usd_per_mtok,
                unpriced_tokens=self.day_unpriced_tokens + self.unpriced_tokens,
            )  # fmt: skip

    def usage(self) -> TurnUsage:
        return TurnUsage(
            requests=self.requests,
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            cached_tokens=self.cache_read_tokens,
            cache_write_tokens=self.cache_write_tokens,
            cost_usd=float(self.turn_cost),
            cost_known=self.cost_known,
            today_usd=float(self.counted_today()),
            daily_cap_usd=None if self.daily_cap is None else float(self.daily_cap),
        )


def summarize(value: Any, *, limit: int = 2000) -> str:
    """A short, masked, one-line rendering of a tool result for the audit and the UI."""
    if isinstance(value, BaseModel):
        text = value.model_dump_json()
    else:
        text = str(value)
    text = mask(" ".join(text.split()))
    return text if len(text) <= limit else text[: limit - 1] + "…"
