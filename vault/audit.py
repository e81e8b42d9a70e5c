"""The audit transcript: one row per tool call and one per model request, hash-chained.

```
begin_tool()  -> pending row (no seq)            the tool runs only after this commits
finish_tool() -> sealed: seq, prev_hash, hash    appended under the chain-head lock
record_tool() / record_model_request()           written sealed in one transaction
verify()      -> every changed, removed or reordered row, by seq and id
```

A tool call's row is written before the tool runs, so a failed audit write stops the tool
(fail closed), and sealed when it ends, so the hash covers the outcome too. Sealing takes
the `audit_heads` row first with an UPDATE: on PostgreSQL that row lock orders appends
from every instance; on SQLite the same write takes the database's write lock at once.

The hash of a row covers its content and the previous row's hash, not its `seq`: so a
swapped pair of rows reads as *reordered* (their links point at the wrong neighbours),
a gap as *removed*, and edited content as *changed*. Everything stored is redacted.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel
from sqlalchemy import BigInteger, Integer, String, Text, UniqueConstraint, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from vault.models import Base, new_id, utcnow
from vault.redact import REDACTOR, Redactor

if TYPE_CHECKING:
    from vault.audit_verify import VerifyReport

__all__ = ["CHAIN", "GENESIS", "AuditLog", "AuditRecord", "Outcome", "row_hash"]

Outcome = Literal["pending", "success", "failed", "denied", "retried"]
Kind = Literal["tool", "model"]
GENESIS = "0" * 64
CHAIN = "audit"
_MAX_ARGS = 4000
_MAX_SUMMARY = 1000


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

    @property
    def cost_usd(self) -> Decimal | None:
        return None if self.cost_microusd is None else Decimal(self.cost_microusd) / 1_000_000


def stamp(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="microseconds")


def _content(row: AuditEvent) -> dict[str, object]:
    # Every column except seq and the hashes; the order of rows is protected by the links.
    return {
        "id": row.id, "kind": row.kind, "thread_id": row.thread_id, "user_id": row.user_id,
        "run_id": row.run_id, "tool": row.tool, "tool_call_id": row.tool_call_id,
        "args": row.args, "outcome": row.outcome, "approved_by": row.approved_by,
        "started_at": stamp(row.started_at), "finished_at": stamp(row.finished_at),
        "duration_ms": row.duration_ms, "summary": row.summary, "model": row.model,
        "input_tokens": row.input_tokens, "output_tokens": row.output_tokens,
        "cost_microusd": row.cost_microusd,
    }  # fmt: skip


def row_hash(row: AuditEvent, prev_hash: str) -> str:
    body = json.dumps(_content(row), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


def _record(row: AuditEvent) -> AuditRecord:
    return AuditRecord.model_validate(row, from_attributes=True)


class AuditLog:
    """Writes and checks the audit transcript. Every write is awaited and transactional."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], *, redactor: Redactor = REDACTOR
    ) -> None:
        self._sessions = sessions
        self._redactor = redactor

    def _clean(self, text: str | None, limit: int) -> str | None:
        if text is None:
            return None
        cleaned = self._redactor.redact(text)
        return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"

    def _args(self, args: Mapping[str, Any] | str | None) -> str | None:
        if args is None or isinstance(args, str):
            return self._clean(args, _MAX_ARGS)
        return self._clean(json.dumps(args, sort_keys=True, default=str), _MAX_ARGS)

    async def _lock_head(self, session: AsyncSession) -> tuple[int, str]:
        """Take the next seq and the previous hash. This UPDATE is the append lock, so it is
        the first statement of every sealing transaction (see the module docstring)."""
        bumped = await session.execute(
            update(AuditHead)
            .where(AuditHead.chain == CHAIN)
            .values(seq=AuditHead.seq + 1)
            .returning(AuditHead.seq, AuditHead.hash)
        )
        seq, prev = bumped.one()
        return seq, prev

    async def _link(self, session: AsyncSession, row: AuditEvent, seq: int, prev: str) -> None:
        row.seq, row.prev_hash = seq, prev
        row.hash = row_hash(row, prev)
        await session.execute(
            update(AuditHead).where(AuditHead.chain == CHAIN).values(hash=row.hash)
        )

    async def begin_tool(
        self,
        *,
        thread_id: str,
        user_id: str,
        tool: str,
        tool_call_id: str | None,
        args: Mapping[str, Any] | str | None,
        run_id: str | None = None,
        approved_by: str | None = None,
    ) -> str:
        """Write a pending row for a tool about to run; returns its id. Raises if it fails."""
        row = AuditEvent(
            id=new_id(), chain=CHAIN, kind="tool", thread_id=thread_id, user_id=user_id,
            run_id=run_id, tool=tool, tool_call_id=tool_call_id, args=self._args(args),
            outcome="pending", approved_by=approved_by, started_at=utcnow(),
        )  # fmt: skip
        async with self._sessions.begin() as session:
            session.add(row)
        return row.id

    async def finish_tool(
        self,
        row_id: str,
        *,
        outcome: Outcome,
        summary: str | None,
        approved_by: str | None = None,
    ) -> AuditRecord:
        """Seal a pending row with its outcome."""
        async with self._sessions.begin() as session:
            seq, prev = await self._lock_head(session)
            row = await session.get(AuditEvent, row_id)
            if row is None or row.seq is not None:
                raise LookupError(f"no pending audit row {row_id}")
            row.outcome = outcome
            row.summary = self._clean(summary, _MAX_SUMMARY)
            row.approved_by = approved_by or row.approved_by
            finished = utcnow()
            row.finished_at = finished
            row.duration_ms = int((finished - row.started_at).total_seconds() * 1000)
            await self._link(session, row, seq, prev)
            return _record(row)

    async def record_tool(
        self,
        *,
        thread_id: str,
        user_id: str,
        tool: str,
        tool_call_id: str | None,
        args: Mapping[str, Any] | str | None,
        outcome: Outcome,
        summary: str | None,
        run_id: str | None = None,
        approved_by: str | None = None,
    ) -> AuditRecord:
        """A tool call that never ran (denied, refused): written sealed at once."""
        now = utcnow()
        row = AuditEvent(
            id=new_id(), chain=CHAIN, kind="tool", thread_id=thread_id, user_id=user_id,
            run_id=run_id, tool=tool, tool_call_id=tool_call_id, args=self._args(args),
            outcome=outcome, approved_by=approved_by, started_at=now, finished_at=now,
            duration_ms=0, summary=self._clean(summary, _MAX_SUMMARY),
        )  # fmt: skip
        async with self._sessions.begin() as session:
            seq, prev = await self._lock_head(session)
            await self._link(session, row, seq, prev)
            session.add(row)
        return _record(row)

    async def record_model_request(
        self,
        *,
        thread_id: str,
        user_id: str,
        model: str,
        input_tokens: int,
        output_tokens: int,
        cost_usd: Decimal | None,
        started_at: datetime,
        run_id: str | None = None,
    ) -> AuditRecord:
        """One model request: model, tokens and cost (None when the provider gave none)."""
        now = utcnow()
        micro = None if cost_usd is None else int((cost_usd * 1_000_000).to_integral_value())
        row = AuditEvent(
            id=new_id(), chain=CHAIN, kind="model", thread_id=thread_id, user_id=user_id,
            run_id=run_id, outcome="success", started_at=started_at, finished_at=now,
            duration_ms=int((now - started_at).total_seconds() * 1000), model=model[:128],
            input_tokens=input_tokens, output_tokens=output_tokens, cost_microusd=micro,
        )  # fmt: skip
        async with self._sessions.begin() as session:
            seq, prev = await self._lock_head(session)
            await self._link(session, row, seq, prev)
            session.add(row)
        return _record(row)

    async def cost_since(self, user_id: str, since: datetime) -> Decimal:
        """The user's model spend (USD) since `since`, from the model-request rows."""
        async with self._sessions() as session:
            total = await session.scalar(
                select(func.coalesce(func.sum(AuditEvent.cost_microusd), 0)).where(
                    AuditEvent.user_id == user_id,
                    AuditEvent.kind == "model",
                    AuditEvent.started_at >= since,
                )
            )
        return Decimal(int(total or 0)) / 1_000_000

    async def records(
        self, *, thread_id: str | None = None, user_id: str | None = None
    ) -> list[AuditRecord]:
        """Rows in chain order (pending rows last), optionally of one thread and of one user.
        Anything a user is shown passes `user_id`: a thread id alone names no owner (the
        audit outlives a deleted chat, whose id another session may then take)."""
        query = select(AuditEvent).order_by(AuditEvent.seq.is_(None), AuditEvent.seq)
        if thread_id is not None:
            query = query.where(AuditEvent.thread_id == thread_id)
        if user_id is not None:
            query = query.where(AuditEvent.user_id == user_id)
        async with self._sessions() as session:
            return [_record(row) for row in await session.scalars(query)]

    async def verify(self) -> VerifyReport:
        """Walk the chain and name every changed, removed or reordered row."""
        from vault.audit_verify import verify_chain

        async with self._sessions() as session:
            head = await session.get(AuditHead, CHAIN)
            rows = list(await session.scalars(select(AuditEvent).order_by(AuditEvent.seq)))
        return verify_chain(rows, head)
