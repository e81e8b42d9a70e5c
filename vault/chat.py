"""Chat history for the web app: threads, their steps (messages and tool calls), custom
elements and feedback, on our own tables.

```
chat_threads    one row per chat, owned by a user
chat_steps      messages and tool steps of a thread, in order
chat_elements   custom elements (charts, progress) shown under a step; props only
chat_feedback   a thumbs up or down on a step
```

`ChatStore` holds every query. Writes are merges, never blind overwrites: a late write
that carries an empty output cannot wipe a step's output, a step id cannot move to another
thread, and a thread owned by one user cannot be claimed by another. Everything stored
passes through the redactor first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy import delete, exists, inspect, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from vault.models import Base, User, utcnow
from vault.redact import REDACTOR, Redactor

__all__ = ["ChatElement", "ChatFeedback", "ChatStep", "ChatStore", "ChatThread", "ThreadBundle"]

_TEXT_FIELDS: Final = frozenset({"input", "output", "name"})
_NAME_LIMIT: Final = 255


class ChatThread(Base):
    __tablename__ = "chat_threads"
    __table_args__ = (sa.Index("ix_chat_threads_user_created", "user_id", "created_at"),)

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    user_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), default=None
    )
    name: Mapped[str | None] = mapped_column(sa.String(_NAME_LIMIT), default=None)
    tags: Mapped[list[str]] = mapped_column(default=list)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ChatStep(Base):
    __tablename__ = "chat_steps"
    __table_args__ = (sa.Index("ix_chat_steps_thread_created", "thread_id", "created_at"),)

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    thread_id: Mapped[str] = mapped_column(sa.ForeignKey("chat_threads.id", ondelete="CASCADE"))
    parent_id: Mapped[str | None] = mapped_column(sa.String(64), default=None)
    name: Mapped[str] = mapped_column(sa.String(_NAME_LIMIT), default="")
    type: Mapped[str] = mapped_column(sa.String(32), default="undefined")
    input: Mapped[str] = mapped_column(sa.Text, default="")
    output: Mapped[str] = mapped_column(sa.Text, default="")
    is_error: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    streaming: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    wait_for_answer: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    show_input: Mapped[str | None] = mapped_column(sa.String(32), default=None)
    language: Mapped[str | None] = mapped_column(sa.String(32), default=None)
    default_open: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    auto_collapse: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    command: Mapped[str | None] = mapped_column(sa.String(64), default=None)
    icon: Mapped[str | None] = mapped_column(sa.String(64), default=None)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    tags: Mapped[list[str]] = mapped_column(default=list)
    modes: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    generation: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    start_at: Mapped[datetime | None] = mapped_column(default=None)
    end_at: Mapped[datetime | None] = mapped_column(default=None)


class ChatElement(Base):
    __tablename__ = "chat_elements"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    thread_id: Mapped[str] = mapped_column(
        sa.ForeignKey("chat_threads.id", ondelete="CASCADE"), index=True
    )
    for_id: Mapped[str | None] = mapped_column(sa.String(64), default=None)
    type: Mapped[str] = mapped_column(sa.String(16), default="custom")
    name: Mapped[str] = mapped_column(sa.String(_NAME_LIMIT), default="")
    display: Mapped[str] = mapped_column(sa.String(16), default="inline")
    mime: Mapped[str | None] = mapped_column(sa.String(128), default=None)
    props: Mapped[dict[str, Any]] = mapped_column(default=dict)
    language: Mapped[str | None] = mapped_column(sa.String(32), default=None)
    size: Mapped[str | None] = mapped_column(sa.String(16), default=None)
    page: Mapped[int | None] = mapped_column(sa.Integer, default=None)
    url: Mapped[str | None] = mapped_column(sa.String(2048), default=None)
    chainlit_key: Mapped[str | None] = mapped_column(sa.String(64), default=None)
    object_key: Mapped[str | None] = mapped_column(sa.String(512), default=None)


class ChatFeedback(Base):
    __tablename__ = "chat_feedback"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    thread_id: Mapped[str] = mapped_column(
        sa.ForeignKey("chat_threads.id", ondelete="CASCADE"), index=True
    )
    for_id: Mapped[str] = mapped_column(sa.String(64))
    value: Mapped[int] = mapped_column(sa.Integer)
    comment: Mapped[str | None] = mapped_column(sa.Text, default=None)


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
            return value[:_NAME_LIMIT] if name == "name" else value
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
        thread_id: str | None = None,
    ) -> str | None:
        """One feedback per step: a second vote on the same step replaces the first. None
        when the step is unknown or belongs to another thread than the one named."""
        async with self._sessions.begin() as session:
            step = await session.get(ChatStep, for_id)
            if step is None or thread_id not in (None, step.thread_id):
                return None
            row = await session.scalar(select(ChatFeedback).where(ChatFeedback.for_id == for_id))
            if row is None:
                row = ChatFeedback(id=feedback_id, thread_id=step.thread_id, for_id=for_id)
                session.add(row)
            row.value = value
            row.comment = self._redactor.redact(comment) if comment else None
            return row.id

    async def delete_feedback(self, feedback_id: str) -> bool:
        async with self._sessions.begin() as session:
            result = await session.execute(
                delete(ChatFeedback).where(ChatFeedback.id == feedback_id)
            )
        return bool(getattr(result, "rowcount", 0))
