"""ComfyUI workflows users brought to the chat, kept so that a deployment (and a restart)
reads exactly what was analysed, and so that a workflow's text never has to travel through
the LLM: the chat refers to a workflow by its id.

The workflow is stored as given to us in ComfyUI's API format (JSON text; it is no secret).
`supplied` holds what the user added since: a model file's source (`models`: filename ->
"owner/repo/path") and a package's pinned version (`versions`: package id -> version).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, cast

from pydantic import BaseModel, ConfigDict
from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from vault.errors import VaultError
from vault.models import Base, utcnow

__all__ = ["StoredWorkflow", "WorkflowNotFound", "WorkflowRecord", "WorkflowStore"]


class WorkflowNotFound(VaultError):
    """No workflow with that id belongs to the user."""


class WorkflowRecord(Base):
    __tablename__ = "workflows"
    __table_args__ = (UniqueConstraint("user_id", "digest", name="uq_workflows_user_digest"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(36), ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(64))
    digest: Mapped[str] = mapped_column(String(64))
    source_format: Mapped[str] = mapped_column(String(8))
    api_json: Mapped[str] = mapped_column(Text)
    supplied: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StoredWorkflow(BaseModel):
    """One stored workflow, as the tools read it."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    digest: str
    source_format: str
    api_json: str
    supplied: dict[str, dict[str, str]]
    created_at: datetime


def _stored(row: WorkflowRecord) -> StoredWorkflow:
    supplied = {
        kind: {str(k): str(v) for k, v in cast(dict[str, Any], values).items()}
        for kind, values in (row.supplied or {}).items()
        if isinstance(values, dict)
    }
    return StoredWorkflow(
        id=row.id, name=row.name, digest=row.digest, source_format=row.source_format,
        api_json=row.api_json, supplied=supplied, created_at=row.created_at,
    )  # fmt: skip


class WorkflowStore:
    """Each user's workflows (one row per user and content digest)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def save(
        self, user_id: str, *, name: str, digest: str, source_format: str, api_json: str
    ) -> StoredWorkflow:
        """Keep a workflow; the same content brought twice is the same workflow."""
        async with self._sessions.begin() as session:
            row = await session.scalar(
                select(WorkflowRecord).where(
                    WorkflowRecord.user_id == user_id, WorkflowRecord.digest == digest
                )
            )
            if row is None:
                row = WorkflowRecord(
                    id=str(uuid.uuid4()), user_id=user_id, name=name[:64], digest=digest,
                    source_format=source_format, api_json=api_json, supplied={},
                    created_at=utcnow(),
                )  # fmt: skip
                session.add(row)
            return _stored(row)

    async def get(self, user_id: str, workflow_id: str) -> StoredWorkflow:
        """The user's workflow `workflow_id`.

        Raises:
            WorkflowNotFound: It does not exist or belongs to someone else.
        """
        async with self._sessions() as session:
            row = await session.get(WorkflowRecord, workflow_id)
            if row is None or row.user_id != user_id:
                raise WorkflowNotFound(f"no workflow {workflow_id}: attach it again")
            return _stored(row)

    async def supply(
        self, user_id: str, workflow_id: str, kind: str, key: str, value: str
    ) -> StoredWorkflow:
        """Record what the user supplied (`kind` "models" or "versions") for a workflow."""
        async with self._sessions.begin() as session:
            row = await session.get(WorkflowRecord, workflow_id, with_for_update=True)
            if row is None or row.user_id != user_id:
                raise WorkflowNotFound(f"no workflow {workflow_id}: attach it again")
            supplied = {k: dict(v) for k, v in (row.supplied or {}).items()}
            supplied.setdefault(kind, {})[key] = value
            row.supplied = supplied  # a new dict, so the JSON column is written
            return _stored(row)
