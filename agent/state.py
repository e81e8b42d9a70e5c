"""Per-turn state shared by the run loop and its hooks, and the errors that end a turn."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from agent.events import TurnUsage, UIEvent
from agent.guard import mask
from agent.interaction import Interaction
from tools.deps import KeyService
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
    """The user's model spend for the day reached the configured cap."""

    def __init__(self, spent: Decimal, cap: Decimal) -> None:
        self.spent, self.cap = spent, cap
        super().__init__(
            f"You have used ${spent:.2f} of your ${cap:.2f} daily model budget, so KripTik "
            "stopped before the next model request. It resets at midnight UTC; an admin can "
            "raise KRIPTIK_DAILY_COST_CAP_USD."
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
    day_spent: Decimal = Decimal(0)
    daily_cap: Decimal | None = None
    max_key_attempts: int = 3
    turn_cost: Decimal = Decimal(0)
    cost_known: bool = True
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    request_started: datetime | None = None
    # Audit rows of questions awaiting their answer, and who approved a call, by call id.
    pending: dict[str, str] = field(default_factory=dict[str, str])
    approvers: dict[str, str] = field(default_factory=dict[str, str])

    def usage(self) -> TurnUsage:
        return TurnUsage(
            requests=self.requests,
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            cost_usd=float(self.turn_cost),
            cost_known=self.cost_known,
            today_usd=float(self.day_spent + self.turn_cost),
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
