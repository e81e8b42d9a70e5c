"""Feedback on chat steps: one thumbs up or down per step, given, changed and removed only
by the owner of the step's thread.

Chainlit's `PUT /feedback` and `DELETE /feedback` routes check no ownership at all: the
step id, the thread id and the feedback id all come from the browser. So every query here
joins the step (or the feedback) to its thread and checks that thread's owner in the same
transaction as the write.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from vault.chat_tables import ChatFeedback, ChatStep, ChatThread

__all__ = ["delete_feedback", "upsert_feedback"]


async def upsert_feedback(
    session: AsyncSession,
    feedback_id: str,
    *,
    for_id: str,
    value: int,
    comment: str | None,
    thread_id: str | None,
    user_id: str,
) -> str | None:
    """Vote on a step; a second vote on the same step replaces the first. Returns the
    feedback's id, or None (nothing written) when the step is unknown, is not in the thread
    named, or is in a thread `user_id` does not own."""
    step = await session.get(ChatStep, for_id)
    if step is None or thread_id not in (None, step.thread_id):
        return None
    owner = await session.scalar(select(ChatThread.user_id).where(ChatThread.id == step.thread_id))
    if owner != user_id:
        return None
    row = await session.scalar(select(ChatFeedback).where(ChatFeedback.for_id == for_id))
    if row is None:
        row = ChatFeedback(id=feedback_id, thread_id=step.thread_id, for_id=for_id)
        session.add(row)
    row.value = value
    row.comment = comment
    return row.id


async def delete_feedback(session: AsyncSession, feedback_id: str, *, user_id: str) -> bool:
    """Remove a vote, only one on a thread `user_id` owns. True when a row was removed."""
    owned = select(ChatThread.id).where(ChatThread.user_id == user_id)
    query = delete(ChatFeedback).where(
        ChatFeedback.id == feedback_id, ChatFeedback.thread_id.in_(owned)
    )
    result = await session.execute(query)
    return bool(getattr(result, "rowcount", 0))
