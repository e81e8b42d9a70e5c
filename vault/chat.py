"""Chat history for the web app: threads, their steps (messages and tool calls), custom
elements and feedback, on our own tables (`vault.chat_tables`).

`ChatStore` holds every query. Writes are merges, never blind overwrites: a late write
that carries an empty output cannot wipe a step's output, a step id cannot move to another
thread, and a thread owned by one user cannot be claimed by another. Feedback is given only
by the thread's owner (`vault.chat_feedback`); a thread id with no chat row that carries
another user's records is refused to the caller (`vault.chat_claims`). Everything stored
passes through the redactor first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import delete, exists, inspect, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vault import chat_feedback
from vault.chat_claims import claimed_by_others
from vault.chat_tables import NAME_LIMIT, ChatElement, ChatFeedback, ChatStep, ChatThread
from vault.models import Base, User, utcnow
from vault.redact import REDACTOR, Redactor

__all__ = ["ChatElement", "ChatFeedback", "ChatStep", "ChatStore", "ChatThread", "ThreadBundle"]

_TEXT_FIELDS: Final = frozenset({"input", "output", "name"})


def _settable(model: type[Base]) -> frozenset[str]:
    """The columns a write may set: all but the keys (anything else in a write is ignored)."""
    return frozenset(a.key for a in inspect(model).column_attrs) - {"id", "thread_id"}


_STEP_FIELDS: Final = _settable(ChatStep)
_ELEMENT_FIELDS: Final = _settable(ChatElement)


@dataclass(frozen=True)
class ThreadBundle:
    """A thread with everything shown when it is reopened."""

    thread: ChatThread
    author: str | None
    steps: Sequence[ChatStep]
    elements: Sequence[ChatElement]
    feedback: Mapping[str, ChatFeedback]


class ChatStore:
    """Every query on the chat tables. Callers pass plain values; rows come back detached."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], *, redactor: Redactor = REDACTOR
    ) -> None:
        self._sessions = sessions
        self._redactor = redactor

    def _clean(self, name: str, value: Any) -> Any:
        if isinstance(value, str) and name in _TEXT_FIELDS:
            value = self._redactor.redact(value)
            return value[:NAME_LIMIT] if name == "name" else value
        return value

    # -- threads ---------------------------------------------------------------------

    async def _thread(self, session: AsyncSession, thread_id: str) -> ChatThread:
        """The thread row, created empty (no owner yet) when a step arrives first."""
        row = await session.get(ChatThread, thread_id)
        if row is None:
            row = ChatThread(id=thread_id, tags=[], meta={}, created_at=utcnow())
            row.updated_at = row.created_at
            session.add(row)
            await session.flush()
        return row

    async def update_thread(
        self,
        thread_id: str,
        *,
        name: str | None = None,
        user_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        tags: Sequence[str] | None = None,
    ) -> bool:
        """Create or update a thread; metadata keys set to None are removed. False when the
        thread belongs to someone else (nothing is written)."""
        for attempt in range(2):
            try:
                async with self._sessions.begin() as session:
                    row = await self._thread(session, thread_id)
                    if user_id is not None and row.user_id not in (None, user_id):
                        return False
                    if user_id is not None:
                        row.user_id = user_id
                    if name is not None:
                        row.name = self._clean("name", name)
                    if tags is not None:
                        row.tags = list(tags)
                    if metadata is not None:
                        merged = {**row.meta, **metadata}
                        row.meta = {k: v for k, v in merged.items() if v is not None}
                    row.updated_at = utcnow()
                return True
            except IntegrityError:  # created by a concurrent first write
                if attempt:
                    raise
        return False

    async def thread_owner(self, thread_id: str) -> tuple[str | None, str | None]:
        """(user id, user name) of a thread's owner; (None, None) when unknown."""
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(ChatThread.user_id, User.name)
                    .outerjoin(User, User.id == ChatThread.user_id)
                    .where(ChatThread.id == thread_id)
                )
            ).first()
        return (None, None) if row is None else (row[0], row[1])

    async def delete_thread(self, thread_id: str) -> None:
        async with self._sessions.begin() as session:
            for table in (ChatFeedback, ChatElement, ChatStep):
                await session.execute(delete(table).where(table.thread_id == thread_id))
            await session.execute(delete(ChatThread).where(ChatThread.id == thread_id))

    async def list_threads(
        self,
        user_id: str,
        *,
        first: int,
        cursor: str | None = None,
        search: str | None = None,
        feedback: int | None = None,
    ) -> tuple[list[ChatThread], bool]:
        """A page of the user's named threads, newest first, and whether more follow."""
        query = select(ChatThread).where(
            ChatThread.user_id == user_id, ChatThread.name.is_not(None)
        )
        if search:
            pattern = f"%{search.lower()}%"
            in_steps = exists().where(
                ChatStep.thread_id == ChatThread.id,
                ChatStep.type.in_(("user_message", "assistant_message")),
                ChatStep.output.ilike(pattern),
            )
            query = query.where(or_(ChatThread.name.ilike(pattern), in_steps))
        if feedback is not None:
            query = query.where(
                exists().where(
                    ChatFeedback.thread_id == ChatThread.id, ChatFeedback.value == feedback
                )
            )
        async with self._sessions() as session:
            if cursor and (after := await session.get(ChatThread, cursor)) is not None:
                query = query.where(
                    or_(
                        ChatThread.created_at < after.created_at,
                        (ChatThread.created_at == after.created_at) & (ChatThread.id < after.id),
                    )
                )
            query = query.order_by(ChatThread.created_at.desc(), ChatThread.id.desc())
            rows = list(await session.scalars(query.limit(first + 1)))
        return rows[:first], len(rows) > first

    async def get_thread(self, thread_id: str) -> ThreadBundle | None:
        async with self._sessions() as session:
            thread = await session.get(ChatThread, thread_id)
            if thread is None:
                return None
            author = None
            if thread.user_id is not None:
                author = await session.scalar(select(User.name).where(User.id == thread.user_id))
            steps = await session.scalars(
                select(ChatStep)
                .where(ChatStep.thread_id == thread_id)
                .order_by(ChatStep.created_at, ChatStep.id)
            )
            elements = await session.scalars(
                select(ChatElement).where(ChatElement.thread_id == thread_id)
            )
            feedback = await session.scalars(
                select(ChatFeedback).where(ChatFeedback.thread_id == thread_id)
            )
            return ThreadBundle(
                thread, author, list(steps), list(elements), {f.for_id: f for f in feedback}
            )

    # -- steps -----------------------------------------------------------------------

    async def upsert_step(self, step_id: str, thread_id: str, values: Mapping[str, Any]) -> bool:
        """Create or merge a step. An empty input or output never replaces a non-empty one
        (writes race); a step of another thread is left alone (returns False)."""
        fields = {k: self._clean(k, v) for k, v in values.items() if k in _STEP_FIELDS}
        async with self._sessions.begin() as session:
            await self._thread(session, thread_id)
            row = await session.get(ChatStep, step_id)
            if row is None:
                row = ChatStep(id=step_id, thread_id=thread_id, meta={}, tags=[])
                session.add(row)
            elif row.thread_id != thread_id:
                return False
            for name, value in fields.items():
                if value is None and name not in {"parent_id", "end_at"}:
                    continue
                if name in {"input", "output"} and not value and getattr(row, name):
                    continue
                setattr(row, name, value)
            if row.created_at is None:  # pyright: ignore[reportUnnecessaryComparison] - unflushed row
                row.created_at = utcnow()
        return True

    async def delete_step(self, step_id: str) -> None:
        async with self._sessions.begin() as session:
            await session.execute(delete(ChatFeedback).where(ChatFeedback.for_id == step_id))
            await session.execute(delete(ChatElement).where(ChatElement.for_id == step_id))
            await session.execute(delete(ChatStep).where(ChatStep.id == step_id))

    # -- elements --------------------------------------------------------------------

    async def upsert_element(
        self, element_id: str, thread_id: str, values: Mapping[str, Any]
    ) -> bool:
        fields = {k: v for k, v in values.items() if k in _ELEMENT_FIELDS}
        async with self._sessions.begin() as session:
            await self._thread(session, thread_id)
            row = await session.get(ChatElement, element_id)
            if row is None:
                row = ChatElement(id=element_id, thread_id=thread_id, props={})
                session.add(row)
            elif row.thread_id != thread_id:
                return False
            for name, value in fields.items():
                setattr(row, name, value)
        return True

    async def get_element(self, thread_id: str, element_id: str) -> ChatElement | None:
        async with self._sessions() as session:
            row = await session.get(ChatElement, element_id)
        return row if row is not None and row.thread_id == thread_id else None

    async def delete_element(self, element_id: str, thread_id: str | None = None) -> None:
        query = delete(ChatElement).where(ChatElement.id == element_id)
        if thread_id:
            query = query.where(ChatElement.thread_id == thread_id)
        async with self._sessions.begin() as session:
            await session.execute(query)

    # -- feedback --------------------------------------------------------------------

    async def upsert_feedback(
        self,
        feedback_id: str,
        *,
        for_id: str,
        value: int,
        comment: str | None,
        user_id: str,
        thread_id: str | None = None,
    ) -> str | None:
        """One feedback per step: a second vote on the same step replaces the first. None
        when the step is unknown, belongs to another thread than the one named, or to a
        thread `user_id` does not own (Chainlit's route checks no ownership itself)."""
        async with self._sessions.begin() as session:
            return await chat_feedback.upsert_feedback(
                session, feedback_id, for_id=for_id, value=value,
                comment=self._redactor.redact(comment) if comment else None,
                thread_id=thread_id, user_id=user_id,
            )  # fmt: skip

    async def delete_feedback(self, feedback_id: str, *, user_id: str) -> bool:
        """Remove a vote, only one on a thread `user_id` owns."""
        async with self._sessions.begin() as session:
            return await chat_feedback.delete_feedback(session, feedback_id, user_id=user_id)

    # -- other users' records ----------------------------------------------------------

    async def claimed_by_others(self, thread_id: str, user_id: str) -> bool:
        """Whether audit rows, deployments or agent history of another user name this
        thread id (see `vault.chat_claims`)."""
        async with self._sessions() as session:
            return await claimed_by_others(session, thread_id, user_id)
