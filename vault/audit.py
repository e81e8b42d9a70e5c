"""The audit transcript: one row per tool call, model request and credential change,
MAC-chained (`vault.audit_seal`) and anchored outside the database (`vault.audit_anchor`).

```
begin_tool()  -> pending row (no seq)            the tool runs only after this commits
finish_tool() -> sealed: seq, prev_hash, hash    appended under the chain-head lock
record_tool() / record_model_request()           written sealed in one transaction
appending()   -> a transaction that appends      credential changes, with their rows
verify()      -> every changed, removed, reordered or cut-off row, by seq and id
```

A tool call's row is written before the tool runs, so a failed audit write stops the tool
(fail closed), and sealed when it ends, so the MAC covers the outcome too. An appending
transaction takes the `audit_heads` row first with an UPDATE: on PostgreSQL that row lock
orders appends from every instance; on SQLite the same write takes the database's write
lock at once. Once it commits, the new head is anchored in the KripTik home.

The MAC of a row covers its content and the previous row's MAC, not its `seq`: so a
swapped pair of rows reads as *reordered* (their links point at the wrong neighbours),
a gap as *removed*, and edited content as *changed*. Everything stored is redacted.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vault.audit_anchor import AnchorBook
from vault.audit_seal import GENESIS, AuditSeal, stamp
from vault.audit_tables import CHAIN, AuditEvent, AuditHead, AuditRecord, Outcome
from vault.audit_verify import VerifyReport, verify_chain
from vault.models import new_id, utcnow
from vault.redact import REDACTOR, Redactor

__all__ = [
    "CHAIN",
    "CREDENTIALS_THREAD",
    "GENESIS",
    "Appending",
    "AuditEvent",
    "AuditHead",
    "AuditLog",
    "AuditRecord",
    "Outcome",
    "stamp",
]

# Credential changes are not part of a chat: their rows share this thread id, so
# `kriptik audit export --thread credentials` lists them.
CREDENTIALS_THREAD = "credentials"
_MAX_ARGS = 4000
_MAX_SUMMARY = 1000


def _record(row: AuditEvent) -> AuditRecord:
    return AuditRecord.model_validate(row, from_attributes=True)


class Appending:
    """One transaction that appends to the chain (see `AuditLog.appending`)."""

    def __init__(self, session: AsyncSession, seal: AuditSeal) -> None:
        self.session = session
        self._seal = seal
        self.head: tuple[int, str] | None = None  # the last row appended: seq and MAC
        self._prev = GENESIS  # the MAC of the row before it

    async def append(self, row: AuditEvent) -> AuditRecord:
        """Seal `row` as the next link and add it to the transaction."""
        bumped = await self.session.execute(
            update(AuditHead)
            .where(AuditHead.chain == CHAIN)
            .values(seq=AuditHead.seq + 1)
            .returning(AuditHead.seq, AuditHead.hash)
        )
        seq, prev = bumped.one()
        self._seal.seal(row, seq, prev)
        await self.session.execute(
            update(AuditHead).where(AuditHead.chain == CHAIN).values(hash=row.hash)
        )
        self.session.add(row)
        self.head, self._prev = (seq, row.hash or ""), prev
        return _record(row)

    async def witness(self, anchors: AnchorBook) -> tuple[int, str | None] | None:
        """The MAC that the row the anchor names has in this chain now, read before commit,
        so the anchor moves on only along the chain it anchored (not along a restored
        backup that has grown past it)."""
        held = anchors.held()
        if self.head is None or held is None or held.seq >= self.head[0]:
            return None
        if held.seq == self.head[0] - 1:
            return held.seq, self._prev
        found = await self.session.scalar(
            select(AuditEvent.hash).where(AuditEvent.chain == CHAIN, AuditEvent.seq == held.seq)
        )
        return held.seq, found


class AuditLog:
    """Writes and checks the audit transcript. Every write is awaited and transactional.

    `seal` is required: no code path can append an unkeyed row by forgetting it. The app,
    the CLI and the tests take the log from the vault (`Vault.audit`), which passes the
    seal it opened with."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        seal: AuditSeal,
        redactor: Redactor = REDACTOR,
    ) -> None:
        self._sessions = sessions
        self._seal = seal
        self._redactor = redactor

    @asynccontextmanager
    async def appending(self) -> AsyncGenerator[Appending]:
        """A transaction whose first statement takes the append lock (a no-op UPDATE of the
        head, so nothing is numbered until a row is appended), anchored once it commits."""
        anchors = self._seal.anchors
        async with self._sessions.begin() as session:
            await session.execute(
                update(AuditHead).where(AuditHead.chain == CHAIN).values(seq=AuditHead.seq)
            )
            chain = Appending(session, self._seal)
            yield chain
            witness = await chain.witness(anchors) if anchors is not None else None
        if chain.head is not None and anchors is not None:
            # An fsync and a rename: off the event loop, so other sessions' turns go on.
            await asyncio.to_thread(anchors.record, *chain.head, witness=witness)

    def _clean(self, text: str | None, limit: int) -> str | None:
        if text is None:
            return None
        cleaned = self._redactor.redact(text)
        return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"

    def _args(self, args: Mapping[str, Any] | str | None) -> str | None:
        if args is None or isinstance(args, str):
            return self._clean(args, _MAX_ARGS)
        return self._clean(json.dumps(args, sort_keys=True, default=str), _MAX_ARGS)

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
        async with self.appending() as chain:
            row = await chain.session.get(AuditEvent, row_id)
            if row is None or row.seq is not None:
                raise LookupError(f"no pending audit row {row_id}")
            row.outcome = outcome
            row.summary = self._clean(summary, _MAX_SUMMARY)
            row.approved_by = approved_by or row.approved_by
            finished = utcnow()
            row.finished_at = finished
            row.duration_ms = int((finished - row.started_at).total_seconds() * 1000)
            record = await chain.append(row)
        return record

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
        async with self.appending() as chain:
            record = await chain.append(row)
        return record

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
        async with self.appending() as chain:
            record = await chain.append(row)
        return record

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

    async def model_use_since(self, user_id: str, since: datetime) -> tuple[Decimal, int]:
        """The user's model spend (USD) since `since`, and the tokens (input and output) of
        the requests that reported no price (a local server), in one query: what the daily
        cap counts, the second at a fallback rate."""
        tokens = func.coalesce(AuditEvent.input_tokens, 0) + func.coalesce(
            AuditEvent.output_tokens, 0
        )
        unpriced = case((AuditEvent.cost_microusd.is_(None), tokens), else_=0)
        query = select(
            func.coalesce(func.sum(AuditEvent.cost_microusd), 0),
            func.coalesce(func.sum(unpriced), 0),
        ).where(
            AuditEvent.user_id == user_id,
            AuditEvent.kind == "model",
            AuditEvent.started_at >= since,
        )
        async with self._sessions() as session:
            micro, tokens = (await session.execute(query)).one()
        return Decimal(int(micro or 0)) / 1_000_000, int(tokens or 0)

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

    def credential_row(
        self, action: str, *, user_id: str, facts: Mapping[str, Any], outcome: Outcome,
        summary: str,
    ) -> AuditEvent:  # fmt: skip
        """A credential change (added, validated, removed, rotated), to append in the
        transaction that makes it. `facts` name the key (provider, label, last four
        characters, actor); the key itself never reaches this row."""
        now = utcnow()
        return AuditEvent(
            id=new_id(), chain=CHAIN, kind="credential", thread_id=CREDENTIALS_THREAD,
            user_id=user_id, tool=f"credential_{action}", args=self._args(facts),
            outcome=outcome, started_at=now, finished_at=now, duration_ms=0,
            summary=self._clean(summary, _MAX_SUMMARY),
        )  # fmt: skip

    async def verify(self) -> VerifyReport:
        """Walk the chain and name every changed, removed, reordered or cut-off row."""
        # The anchors first: each is written only after its row commits, so every row an
        # anchor names is visible to the reads below, even while others append.
        reading = self._seal.anchors.read() if self._seal.anchors else None
        async with self._sessions() as session:
            head = await session.get(AuditHead, CHAIN)
            rows = list(await session.scalars(select(AuditEvent).order_by(AuditEvent.seq)))
        return verify_chain(rows, head, key=self._seal.key, anchors=reading)
