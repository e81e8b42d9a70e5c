"""The agent history's two tables, apart from the store that reads them: the chat's claim
check (`vault.chat_claims`) queries them on every socket connect without the store.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from vault.models import Base, utcnow

__all__ = ["ConversationRow", "EntryRow"]


class ConversationRow(Base):
    __tablename__ = "agent_conversations"

    conversation_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    scope: Mapped[str | None] = mapped_column(String(64), index=True, default=None)
    head_id: Mapped[str | None] = mapped_column(String(36), default=None)
    usage: Mapped[str] = mapped_column(Text)
    deferred: Mapped[str | None] = mapped_column(Text, default=None)
    forked_from: Mapped[str | None] = mapped_column(String(128), default=None)
    forked_at: Mapped[str | None] = mapped_column(String(36), default=None)
    branches: Mapped[list[str]] = mapped_column(default=list)
    revision: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    format_version: Mapped[int] = mapped_column(Integer, default=1)


class EntryRow(Base):
    __tablename__ = "agent_entries"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(128), index=True)
    parent_id: Mapped[str | None] = mapped_column(String(36), default=None)
    kind: Mapped[str] = mapped_column(String(16), default="message")
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
