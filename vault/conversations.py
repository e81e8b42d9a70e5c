"""Per-thread agent history: pydantic-ai's `ConversationStore` on our own tables.

A chat thread is one conversation (`conversation_id` = the thread id, `scope` = the user
id). pydantic-ai's store logic decides what is new and where a history branches; this
module supplies its five storage primitives plus a one-query `read_history`:

```
agent_conversations   one row per thread: head entry, usage, pending deferred calls, revision
agent_entries         one row per message, linked to the one before it (parent_id)
```

A save appends only the messages a run added, with an optimistic revision check, so two
instances saving the same thread cannot overwrite each other (`ConversationConflict`).
Every message passes through the redactor before it is stored: agent history must never
hold a key, even one a model or a user put there by mistake.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import TypeAdapter
from pydantic_ai.conversation_store import (
    ConversationConflict,
    ConversationEntry,
    ConversationRecord,
    ConversationStore,
)
from pydantic_ai.messages import ModelMessage, ModelMessagesTypeAdapter
from pydantic_ai.tools import DeferredToolRequests
from pydantic_ai.usage import RunUsage
from sqlalchemy import delete, literal, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vault.conversation_tables import ConversationRow, EntryRow
from vault.redact import REDACTOR, Redactor

__all__ = ["SqlConversationStore"]

_USAGE: TypeAdapter[RunUsage] = TypeAdapter(RunUsage)
_DEFERRED: TypeAdapter[DeferredToolRequests | None] = TypeAdapter(DeferredToolRequests | None)


def _record(row: ConversationRow) -> ConversationRecord:
    return ConversationRecord(
        conversation_id=row.conversation_id,
        head_id=row.head_id,
        usage=_USAGE.validate_json(row.usage),
        deferred_tool_requests=_DEFERRED.validate_json(row.deferred) if row.deferred else None,
        scope=row.scope,
        forked_from=row.forked_from,
        forked_at=row.forked_at,
        branches=list(row.branches),
        revision=row.revision,
        updated_at=row.updated_at,
    )


def _message(text: str) -> ModelMessage:
    return ModelMessagesTypeAdapter.validate_json(text)[0]


class SqlConversationStore(ConversationStore):
    """Conversations in `agent_conversations` / `agent_entries`, on SQLite or PostgreSQL."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], *, redactor: Redactor = REDACTOR
    ) -> None:
        self._sessions = sessions
        self._redactor = redactor

    def _dump_message(self, message: ModelMessage) -> str:
        return self._redactor.redact(ModelMessagesTypeAdapter.dump_json([message]).decode())

    def _columns(self, record: ConversationRecord) -> dict[str, Any]:
        deferred = record.deferred_tool_requests
        return {
            "scope": record.scope,
            "head_id": record.head_id,
            "usage": _USAGE.dump_json(record.usage).decode(),
            "deferred": None
            if deferred is None
            else self._redactor.redact(_DEFERRED.dump_json(deferred).decode()),
            "forked_from": record.forked_from,
            "forked_at": record.forked_at,
            "branches": list(record.branches),
            "revision": record.revision,
            "updated_at": record.updated_at,
            "format_version": record.format_version,
        }

    async def read_record(self, conversation_id: str) -> ConversationRecord | None:
        async with self._sessions() as session:
            row = await session.get(ConversationRow, conversation_id)
            return None if row is None else _record(row)

    async def read_records(
        self, *, scope: str | None = None, limit: int | None = None
    ) -> Sequence[ConversationRecord]:
        query = select(ConversationRow).order_by(ConversationRow.updated_at.desc()).limit(limit)
        if scope is not None:
            query = query.where(ConversationRow.scope == scope)
        async with self._sessions() as session:
            return [_record(row) for row in await session.scalars(query)]

    async def write_record(
        self,
        record: ConversationRecord,
        *,
        new_entries: Sequence[ConversationEntry] = (),
        expected_revision: str | None,
    ) -> None:
        cid = record.conversation_id
        try:
            async with self._sessions.begin() as session:
                if expected_revision is None:
                    session.add(ConversationRow(conversation_id=cid, **self._columns(record)))
                    await session.flush()  # a duplicate id fails here: someone created it first
                else:
                    done = await session.execute(
                        update(ConversationRow)
                        .where(
                            ConversationRow.conversation_id == cid,
                            ConversationRow.revision == expected_revision,
                        )
                        .values(**self._columns(record))
                    )
                    if getattr(done, "rowcount", 0) != 1:
                        raise ConversationConflict(cid)
                await self._check_head(session, record, new_entries)
                session.add_all(self._entry(cid, entry) for entry in new_entries)
        except IntegrityError:
            raise ConversationConflict(cid) from None

    def _entry(self, cid: str, entry: ConversationEntry) -> EntryRow:
        return EntryRow(
            id=entry.id,
            conversation_id=cid,
            parent_id=entry.parent_id,
            kind=entry.kind,
            message=self._dump_message(entry.message),
        )

    async def _check_head(
        self, session: AsyncSession, record: ConversationRecord, new: Sequence[ConversationEntry]
    ) -> None:
        head = record.head_id
        if head is None or head in {entry.id for entry in new}:
            return
        if await session.get(EntryRow, head) is None:
            raise ConversationConflict(record.conversation_id)

    async def delete_record(self, conversation_id: str, *, expected_revision: str) -> None:
        """Delete a thread's record and the entries it wrote, unless a fork still points
        into them (then they stay, unreachable from this thread)."""
        async with self._sessions.begin() as session:
            done = await session.execute(
                delete(ConversationRow).where(
                    ConversationRow.conversation_id == conversation_id,
                    ConversationRow.revision == expected_revision,
                )
            )
            if getattr(done, "rowcount", 0) != 1:
                raise ConversationConflict(conversation_id)
            forks = await session.scalar(
                select(ConversationRow.conversation_id)
                .where(ConversationRow.forked_from == conversation_id)
                .limit(1)
            )
            if forks is None:
                await session.execute(
                    delete(EntryRow).where(EntryRow.conversation_id == conversation_id)
                )

    async def read_entry(self, entry_id: str) -> ConversationEntry:
        async with self._sessions() as session:
            row = await session.get(EntryRow, entry_id)
        if row is None:
            raise LookupError(entry_id)
        return ConversationEntry(id=row.id, parent_id=row.parent_id, message=_message(row.message))

    async def read_history(
        self, head_id: str | None, *, limit: int | None = None
    ) -> list[ConversationEntry]:
        """The chain ending at `head_id`, oldest first, in one recursive query."""
        if head_id is None or limit == 0:
            return []
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
        if not rows:
            raise LookupError(head_id)
        return [
            ConversationEntry(id=entry_id, parent_id=parent_id, message=_message(message))
            for entry_id, parent_id, message in rows
        ]
