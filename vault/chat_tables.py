"""The chat tables, as ORM rows: threads, their steps, custom elements and feedback.

```
chat_threads    one row per chat, owned by a user
chat_steps      messages and tool steps of a thread, in order
chat_elements   custom elements (charts, progress) shown under a step; props only
chat_feedback   a thumbs up or down on a step
```

Queries live in `vault.chat` (`ChatStore`) and `vault.chat_feedback`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from vault.models import Base, utcnow

__all__ = ["NAME_LIMIT", "ChatElement", "ChatFeedback", "ChatStep", "ChatThread"]

NAME_LIMIT: Final = 255


class ChatThread(Base):
    __tablename__ = "chat_threads"
    __table_args__ = (sa.Index("ix_chat_threads_user_created", "user_id", "created_at"),)

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    user_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), default=None
    )
    name: Mapped[str | None] = mapped_column(sa.String(NAME_LIMIT), default=None)
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
    name: Mapped[str] = mapped_column(sa.String(NAME_LIMIT), default="")
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
    name: Mapped[str] = mapped_column(sa.String(NAME_LIMIT), default="")
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
