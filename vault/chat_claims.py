"""Other users' traces on a thread id: the audit rows, deployments and agent history that
name it, for a thread id that has no chat row (never had one, or its owner deleted it).

Chainlit lets a socket take any thread id that has no chat thread (its author check runs
only when `get_thread` finds one). The audit transcript is append-only and deployments
outlive their chat, so a deleted thread's id still names another user's records; a
`kriptik chat` conversation never has a chat row at all. Such an id must not be taken.
"""

from __future__ import annotations

from sqlalchemy import exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from vault.audit import AuditEvent
from vault.conversation_tables import ConversationRow
from vault.deployments import DeploymentRecord

__all__ = ["claimed_by_others"]


async def claimed_by_others(session: AsyncSession, thread_id: str, user_id: str) -> bool:
    """True when an audit row, a deployment or an agent conversation names `thread_id` and
    belongs to anyone but `user_id`."""
    claims = or_(
        exists().where(AuditEvent.thread_id == thread_id, AuditEvent.user_id != user_id),
        exists().where(
            DeploymentRecord.thread_id == thread_id, DeploymentRecord.user_id != user_id
        ),
        exists().where(
            ConversationRow.conversation_id == thread_id,
            ConversationRow.scope.is_distinct_from(user_id),
        ),
    )
    return bool(await session.scalar(select(claims)))
