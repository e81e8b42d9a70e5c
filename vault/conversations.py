"""Per-thread agent history as opaque JSON: a record per thread, its entries, a revision check.

The agent owns what the JSON means (`agent.history` turns it into pydantic-ai's
conversations); the vault only stores it and keeps two writers of one thread apart:

```
agent_conversations   one row per thread: head entry, usage, pending deferred calls, revision
agent_entries         one row per message, linked to the one before it (parent_id)
```

A write names the revision it continues; if another writer got there first (or created
the thread first, or the head it links to is gone), nothing is written and it fails with
`HistoryConflict`. Entries are never changed once written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, literal, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vault.conversation_tables import ConversationRow, EntryRow

__all__ = ["HistoryConflict", "HistoryEntry", "HistoryRecord", "HistoryRows"]


class HistoryConflict(Exception):
    """Another writer changed (or created, or deleted) the thread first; nothing was written."""

    def __init__(self, conversation_id: str) -> None:
        self.conversation_id = conversation_id
        super().__init__(f"conversation {conversation_id} changed while this write was in progress")


@dataclass(frozen=True, kw_only=True)
class HistoryRecord:
    """A thread's record; `usage` and `deferred` are the agent's own JSON."""

    conversation_id: str
    scope: str | None
    head_id: str | None
    usage: str
    deferred: str | None
    forked_from: str | None
    forked_at: str | None
    branches: list[str] = field(default_factory=list[str])
    revision: str
    updated_at: datetime
    format_version: int = 1


@dataclass(frozen=True, kw_only=True)
class HistoryEntry:
    """One stored message, as the agent's JSON, and the entry before it."""

    id: str
    parent_id: str | None
    message: str
    kind: str = "message"


def _record(row: ConversationRow) -> HistoryRecord:
    return HistoryRecord(
        conversation_id=row.conversation_id, scope=row.scope, head_id=row.head_id,
        usage=row.usage, deferred=row.deferred, forked_from=row.forked_from,
        forked_at=row.forked_at, branches=list(row.branches), revision=row.revision,
        updated_at=row.updated_at, format_version=row.format_version,
    )  # fmt: skip


def _columns(record: HistoryRecord) -> dict[str, Any]:
    return {
        "scope": record.scope,
        "head_id": record.head_id,
        "usage": record.usage,
        "deferred": record.deferred,
        "forked_from": record.forked_from,
        "forked_at": record.forked_at,
        "branches": list(record.branches),
        "revision": record.revision,
        "updated_at": record.updated_at,
        "format_version": record.format_version,
    }


class HistoryRows:
    """The agent history's rows in `agent_conversations` / `agent_entries`."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def record(self, conversation_id: str) -> HistoryRecord | None:
        async with self._sessions() as session:
            row = await session.get(ConversationRow, conversation_id)
            return None if row is None else _record(row)

    async def records(
        self, *, scope: str | None = None, limit: int | None = None
    ) -> list[HistoryRecord]:
        """The threads' records, the most recently updated first."""
        query = select(ConversationRow).order_by(ConversationRow.updated_at.desc()).limit(limit)
        if scope is not None:
            query = query.where(ConversationRow.scope == scope)
        async with self._sessions() as session:
            return [_record(row) for row in await session.scalars(query)]

    async def write(
        self,
        record: HistoryRecord,
        *,
        new_entries: Sequence[HistoryEntry] = (),
        expected_revision: str | None,
    ) -> None:
        """Write `record` and append `new_entries`, in one transaction; `expected_revision`
        None creates the thread.

        Raises:
            HistoryConflict: The thread is not at `expected_revision` (or already exists),
                or its new head is missing. Nothing was written.
        """
        cid = record.conversation_id
        try:
            async with self._sessions.begin() as session:
                if expected_revision is None:
                    session.add(ConversationRow(conversation_id=cid, **_columns(record)))
                    await session.flush()  # a duplicate id fails here: someone created it first
                else:
                    done = await session.execute(
                        update(ConversationRow)
                        .where(
                            ConversationRow.conversation_id == cid,
                            ConversationRow.revision == expected_revision,
                        )
                        .values(**_columns(record))
                    )
                    if getattr(done, "rowcount", 0) != 1:
                        raise HistoryConflict(cid)
                await _check_head(session, record, new_entries)
                session.add_all(
                    EntryRow(id=entry.id, conversation_id=cid, parent_id=entry.parent_id,
                             kind=entry.kind, message=entry.message)
                    for entry in new_entries
                )  # fmt: skip
        except IntegrityError:
            raise HistoryConflict(cid) from None

    async def delete(self, conversation_id: str, *, expected_revision: str) -> None:
        """Delete a thread's record and the entries it wrote, unless a fork still points
        into them (then they stay, unreachable from this thread).

        Raises:
            HistoryConflict: The thread is not at `expected_revision`; nothing was deleted.
        """
        async with self._sessions.begin() as session:
            done = await session.execute(
                delete(ConversationRow).where(
                    ConversationRow.conversation_id == conversation_id,
                    ConversationRow.revision == expected_revision,
                )
            )
            if getattr(done, "rowcount", 0) != 1:
                raise HistoryConflict(conversation_id)
            forks = await session.scalar(
                select(ConversationRow.conversation_id)
                .where(ConversationRow.forked_from == conversation_id)
                .limit(1)
            )
            if forks is None:
                await session.execute(
                    delete(EntryRow).where(EntryRow.conversation_id == conversation_id)
                )

    async def entry(self, entry_id: str) -> HistoryEntry | None:
        async with self._sessions() as session:
            row = await session.get(EntryRow, entry_id)
        if row is None:
            return None
        return HistoryEntry(id=row.id, parent_id=row.parent_id, message=row.message, kind=row.kind)

    async def chain(self, head_id: str, *, limit: int | None = None) -> list[HistoryEntry]:
        """The entries ending at `head_id` (the last `limit` of them), oldest first, in one
        recursive query; empty if `head_id` is not stored."""
        base = select(
            EntryRow.id, EntryRow.parent_id, EntryRow.message, literal(1).label("depth")
        ).where(EntryRow.id == head_id)
        chain = base.cte("chain", recursive=True)
        step = select(
            EntryRow.id, EntryRow.parent_id, EntryRow.message, (chain.c.depth + 1).label("depth")
        ).join(chain, EntryRow.id == chain.c.parent_id)
        if limit is not None:
            step = step.where(chain.c.depth < limit)
        chain = chain.union_all(step)
        query = select(chain.c.id, chain.c.parent_id, chain.c.message).order_by(
            chain.c.depth.desc()
        )
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        return [
            HistoryEntry(id=entry_id, parent_id=parent_id, message=message)
            for entry_id, parent_id, message in rows
        ]


async def _check_head(
    session: AsyncSession, record: HistoryRecord, new: Sequence[HistoryEntry]
) -> None:
    head = record.head_id
    if head is None or head in {entry.id for entry in new}:
        return
    if await session.get(EntryRow, head) is None:
        raise HistoryConflict(record.conversation_id)
