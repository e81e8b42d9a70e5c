"""Per-thread agent history: pydantic-ai's `ConversationStore` on the vault's opaque JSON rows.

A chat thread is one conversation (`conversation_id` = the thread id, `scope` = the user
id). pydantic-ai's store logic decides what is new and where a history branches; this
module supplies its five storage primitives plus a one-query `read_history`, and owns the
messages' serialisation: the vault stores the JSON this module writes and knows nothing of
pydantic-ai.

A save appends only the messages a run added, with an optimistic revision check, so two
instances saving the same thread cannot overwrite each other (`ConversationConflict`, from
the vault's `HistoryConflict`).
Every message passes through the redactor before it is stored: agent history must never
hold a key, even one a model or a user put there by mistake.

Each store keeps the parsed history of its most recently used threads (at most
`max_threads` threads and `max_messages` messages in all, least recently used dropped
first), so a turn does not parse the whole window back from JSON:

- A load always reads the thread's record from the database; the cached messages are used
  only when the record's `revision` (and head entry) is the one they were read or written
  at. Any other writer, another instance included, changes the revision, so its save
  makes the next load read the history again. Entries themselves are never changed once
  written.
- A save that this store makes adds its new messages to the cache as they were stored
  (the redacted JSON parsed back), so the cache holds what a fresh load would return.
- A save does not read the record again when this store holds it at the conversation's
  revision: the UPDATE is conditional on that revision, so a save that another writer
  overtook still fails with `ConversationConflict`, and writes nothing.
- Every load hands out copies of the cached messages, so a run that changes a message it
  was given (pydantic-ai fills in fields on the last request) cannot change the cache.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from collections.abc import Sequence
from contextvars import ContextVar
from copy import copy
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import TypeAdapter
from pydantic_ai.conversation import Conversation
from pydantic_ai.conversation_store import (
    ConversationConflict,
    ConversationEntry,
    ConversationRecord,
    ConversationStore,
)
from pydantic_ai.messages import ModelMessage, ModelMessagesTypeAdapter
from pydantic_ai.run import AgentRunResult
from pydantic_ai.tools import DeferredToolRequests
from pydantic_ai.usage import RunUsage

from vault.conversations import HistoryConflict, HistoryEntry, HistoryRecord, HistoryRows
from vault.redact import REDACTOR, Redactor

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

__all__ = ["SqlConversationStore"]

_T = TypeVar("_T")
_USAGE: TypeAdapter[RunUsage] = TypeAdapter(RunUsage)
_DEFERRED: TypeAdapter[DeferredToolRequests | None] = TypeAdapter(DeferredToolRequests | None)

# The save in progress in this task: (store, conversation id, the revision it continues).
_SAVING: ContextVar[tuple[SqlConversationStore, str, str | None] | None] = ContextVar(
    "kriptik_conversation_saving", default=None
)


def _record(row: HistoryRecord) -> ConversationRecord:
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


def _copy_record(record: ConversationRecord) -> ConversationRecord:
    return dataclasses.replace(record, usage=copy(record.usage), branches=list(record.branches))


def _message(text: str) -> ModelMessage:
    return ModelMessagesTypeAdapter.validate_json(text)[0]


def _clone(value: _T) -> _T:
    """A shallow copy, as `copy.copy` makes of a plain dataclass, at a quarter of its cost."""
    if not hasattr(value, "__dict__"):
        return copy(value)
    clone = object.__new__(type(value))
    clone.__dict__.update(vars(value))
    return clone


def _detached(entry: ConversationEntry) -> ConversationEntry:
    """`entry` with a shallow copy of its message and of the message's list of parts."""
    message = _clone(entry.message)
    vars(message)["parts"] = list(message.parts)
    detached = _clone(entry)
    vars(detached)["message"] = message  # a frozen dataclass: this copy is ours to fill
    return detached


@dataclasses.dataclass
class _Thread:
    """A thread's cached history at one revision: the last entries up to its head, oldest
    first, and the record when this store read or wrote it."""

    revision: str
    head_id: str | None
    entries: list[ConversationEntry]
    record: ConversationRecord | None = None
    window: int | None = None  # how many entries the last load asked for (None: all)

    @property
    def complete(self) -> bool:
        """Whether `entries` reach the thread's first message."""
        return self.entries[0].parent_id is None if self.entries else self.head_id is None

    def last(self, limit: int | None) -> list[ConversationEntry] | None:
        """The last `limit` entries (all with None), or None if the cache holds too few."""
        if limit == 0:
            return []
        if limit is not None and len(self.entries) >= limit:
            return self.entries[-limit:]
        return self.entries if self.complete else None


class SqlConversationStore(ConversationStore):
    """Conversations in the vault's history rows (`vault.conversations.HistoryRows`)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        redactor: Redactor = REDACTOR,
        max_threads: int = 256,
        max_messages: int = 8192,
    ) -> None:
        self._rows = HistoryRows(sessions)
        self._redactor = redactor
        self._max_threads = max_threads
        self._max_messages = max_messages
        self._threads: OrderedDict[str, _Thread] = OrderedDict()
        self._messages = 0  # cached entries, all threads together
        self.hits = 0  # loads served from the cache, and those that read the entries
        self.misses = 0

    def cached(self) -> tuple[int, int]:
        """How many threads the cache holds, and how many messages in all."""
        return len(self._threads), self._messages

    def _dump_message(self, message: ModelMessage) -> str:
        return self._redactor.redact(ModelMessagesTypeAdapter.dump_json([message]).decode())

    def _row(self, record: ConversationRecord) -> HistoryRecord:
        deferred = record.deferred_tool_requests
        return HistoryRecord(
            conversation_id=record.conversation_id,
            scope=record.scope,
            head_id=record.head_id,
            usage=_USAGE.dump_json(record.usage).decode(),
            deferred=None
            if deferred is None
            else self._redactor.redact(_DEFERRED.dump_json(deferred).decode()),
            forked_from=record.forked_from,
            forked_at=record.forked_at,
            branches=list(record.branches),
            revision=record.revision,
            updated_at=record.updated_at,
            format_version=record.format_version,
        )

    # The cache

    def _keep(self, conversation_id: str, thread: _Thread) -> None:
        self._drop(conversation_id)
        self._threads[conversation_id] = thread
        self._messages += len(thread.entries)
        while self._threads and (
            len(self._threads) > self._max_threads or self._messages > self._max_messages
        ):
            self._drop(next(iter(self._threads)))  # the least recently used

    def _drop(self, conversation_id: str) -> _Thread | None:
        thread = self._threads.pop(conversation_id, None)
        if thread is not None:
            self._messages -= len(thread.entries)
        return thread

    def _cached(self, record: ConversationRecord) -> _Thread | None:
        """The cached history of `record`'s thread if it is at `record`'s revision."""
        thread = self._threads.get(record.conversation_id)
        if thread is None or (thread.revision, thread.head_id) != (record.revision, record.head_id):
            return None
        self._threads.move_to_end(record.conversation_id)
        return thread

    def _written(
        self,
        record: ConversationRecord,
        stored: Sequence[tuple[ConversationEntry, str]],
        expected_revision: str | None,
    ) -> None:
        """After a committed write of `record` and `stored` (each new entry with its stored
        text): extend the cached history when they continue it, start one for a new thread,
        else drop what the cache had."""
        cid = record.conversation_id
        thread = self._drop(cid)
        if expected_revision is None:
            thread = _Thread(revision="", head_id=None, entries=[])
        elif thread is None or thread.revision != expected_revision:
            return
        if stored and stored[0][0].parent_id != thread.head_id:
            return
        if record.head_id != (stored[-1][0].id if stored else thread.head_id):
            return
        window = thread.window
        if window is not None:
            stored = stored[-window:] if window else []
        # The new messages as stored (redacted), as a fresh load would read them back.
        added = [
            ConversationEntry(id=entry.id, parent_id=entry.parent_id, message=_message(text))
            for entry, text in stored
        ]
        entries = [*thread.entries, *added]
        if window is not None:
            entries = entries[-window:] if window else []
        self._keep(cid, _Thread(
            revision=record.revision, head_id=record.head_id, entries=entries,
            record=_copy_record(record), window=window,
        ))  # fmt: skip

    async def save(
        self, conversation: Conversation | AgentRunResult[Any], *, scope: str | None = None
    ) -> list[ConversationEntry]:
        """pydantic-ai's save; the record it reads first may come from the cache (above)."""
        target = (
            conversation.conversation if isinstance(conversation, AgentRunResult) else conversation
        )
        token = _SAVING.set((self, target.conversation_id, target.revision))
        try:
            return await super().save(conversation, scope=scope)
        finally:
            _SAVING.reset(token)

    def _record_for_save(self, conversation_id: str) -> ConversationRecord | None:
        saving = _SAVING.get()
        if saving is None or saving[0] is not self or saving[1] != conversation_id:
            return None
        _SAVING.set(None)  # once: a second read in the same save goes to the database
        thread = self._threads.get(conversation_id)
        if thread is None or thread.record is None or thread.revision != saving[2]:
            return None
        return _copy_record(thread.record)

    # The storage primitives

    async def read_record(self, conversation_id: str) -> ConversationRecord | None:
        if (record := self._record_for_save(conversation_id)) is not None:
            return record
        row = await self._rows.record(conversation_id)
        return None if row is None else _record(row)

    async def read_records(
        self, *, scope: str | None = None, limit: int | None = None
    ) -> Sequence[ConversationRecord]:
        return [_record(row) for row in await self._rows.records(scope=scope, limit=limit)]

    async def write_record(
        self,
        record: ConversationRecord,
        *,
        new_entries: Sequence[ConversationEntry] = (),
        expected_revision: str | None,
    ) -> None:
        cid = record.conversation_id
        stored = [(entry, self._dump_message(entry.message)) for entry in new_entries]
        rows = [
            HistoryEntry(id=entry.id, parent_id=entry.parent_id, kind=entry.kind, message=text)
            for entry, text in stored
        ]
        try:
            await self._rows.write(
                self._row(record), new_entries=rows, expected_revision=expected_revision
            )
        except HistoryConflict:
            self._drop(cid)
            raise ConversationConflict(cid) from None
        except BaseException:
            self._drop(cid)
            raise
        if self._max_threads > 0:
            self._written(record, stored, expected_revision)

    async def delete_record(self, conversation_id: str, *, expected_revision: str) -> None:
        """Delete a thread's record and the entries it wrote, unless a fork still points
        into them (then they stay, unreachable from this thread)."""
        self._drop(conversation_id)
        try:
            await self._rows.delete(conversation_id, expected_revision=expected_revision)
        except HistoryConflict:
            raise ConversationConflict(conversation_id) from None

    async def read_entry(self, entry_id: str) -> ConversationEntry:
        row = await self._rows.entry(entry_id)
        if row is None:
            raise LookupError(entry_id)
        return ConversationEntry(id=row.id, parent_id=row.parent_id, message=_message(row.message))

    async def _history_of(
        self, record: ConversationRecord, *, limit: int | None = None
    ) -> list[ConversationEntry] | None:
        """`record`'s history (`record` as just read from the database): from the cache
        when it holds that revision, else read as pydantic-ai does, then cached. Copies."""
        thread = self._cached(record)
        history = None if thread is None else thread.last(limit)
        if thread is not None and history is not None:
            self.hits += 1
            thread.window = limit
        else:
            self.misses += 1
            history = await super()._history_of(record, limit=limit)
            if history is None:
                return None
            thread = _Thread(
                revision=record.revision, head_id=record.head_id, entries=history, window=limit
            )
            self._keep(record.conversation_id, thread)
        thread.record = _copy_record(record)
        return [_detached(entry) for entry in history]

    async def read_history(
        self, head_id: str | None, *, limit: int | None = None
    ) -> list[ConversationEntry]:
        """The chain ending at `head_id`, oldest first, in one recursive query."""
        if head_id is None or limit == 0:
            return []
        rows = await self._rows.chain(head_id, limit=limit)
        if not rows:
            raise LookupError(head_id)
        return [
            ConversationEntry(id=row.id, parent_id=row.parent_id, message=_message(row.message))
            for row in rows
        ]
