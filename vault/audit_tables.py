"""The audit tables, as ORM rows: the chain head and the events, and a row as read back.

Apart from the log that writes them, so the chat's claim check (`vault.chat_claims`) and
the reports can query them without the chain's keys.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel
from sqlalchemy import BigInteger, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from vault.models import Base, new_id

__all__ = ["CHAIN", "AuditEvent", "AuditHead", "AuditRecord", "Kind", "Outcome"]

Outcome = Literal["pending", "success", "failed", "denied", "retried"]
Kind = Literal["tool", "model", "credential"]
CHAIN = "audit"


class AuditHead(Base):
    __tablename__ = "audit_heads"

    chain: Mapped[str] = mapped_column(String(32), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (UniqueConstraint("chain", "seq"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    chain: Mapped[str] = mapped_column(String(32), default=CHAIN)
    seq: Mapped[int | None] = mapped_column(Integer, default=None)
    kind: Mapped[str] = mapped_column(String(16))
    thread_id: Mapped[str] = mapped_column(String(128), index=True)
    user_id: Mapped[str] = mapped_column(String(36))
    run_id: Mapped[str | None] = mapped_column(String(64), default=None)
    tool: Mapped[str | None] = mapped_column(String(64), default=None)
    tool_call_id: Mapped[str | None] = mapped_column(String(128), default=None)
    args: Mapped[str | None] = mapped_column(Text, default=None)
    outcome: Mapped[str] = mapped_column(String(16))
    approved_by: Mapped[str | None] = mapped_column(String(64), default=None)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    duration_ms: Mapped[int | None] = mapped_column(Integer, default=None)
    summary: Mapped[str | None] = mapped_column(Text, default=None)
    model: Mapped[str | None] = mapped_column(String(128), default=None)
    input_tokens: Mapped[int | None] = mapped_column(Integer, default=None)
    output_tokens: Mapped[int | None] = mapped_column(Integer, default=None)
    cost_microusd: Mapped[int | None] = mapped_column(BigInteger, default=None)
    prev_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    hash: Mapped[str | None] = mapped_column(String(64), default=None)
    # None: an unkeyed row from before the chain was keyed (`vault.audit_seal`).
    scheme: Mapped[str | None] = mapped_column(String(16), default=None)


class AuditRecord(BaseModel):
    """One audit row as read back."""

    id: str
    seq: int | None
    kind: Kind
    thread_id: str
    user_id: str
    run_id: str | None
    tool: str | None
    tool_call_id: str | None
    args: str | None
    outcome: Outcome
    approved_by: str | None
    started_at: datetime
    finished_at: datetime | None
    duration_ms: int | None
    summary: str | None
    model: str | None
    input_tokens: int | None
    output_tokens: int | None
    cost_microusd: int | None
    prev_hash: str | None
    hash: str | None
    scheme: str | None = None  # None: sealed before the chain was keyed

    @property
    def cost_usd(self) -> Decimal | None:
        return None if self.cost_microusd is None else Decimal(self.cost_microusd) / 1_000_000
