"""The agent's tables: the hash-chained audit transcript and per-thread conversation history.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)
_GENESIS = "0" * 64


def upgrade() -> None:
    heads = op.create_table(
        "audit_heads",
        sa.Column("chain", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("chain"),
    )
    # The one chain every instance appends to; its head row is the lock that orders appends.
    op.bulk_insert(heads, [{"chain": "audit", "seq": 0, "hash": _GENESIS}])
    op.create_table(
        "audit_events",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("chain", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("thread_id", sa.String(length=128), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.Column("tool", sa.String(length=64), nullable=True),
        sa.Column("tool_call_id", sa.String(length=128), nullable=True),
        sa.Column("args", sa.Text(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("approved_by", sa.String(length=64), nullable=True),
        sa.Column("started_at", _TS, nullable=False),
        sa.Column("finished_at", _TS, nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("model", sa.String(length=128), nullable=True),
        sa.Column("input_tokens", sa.Integer(), nullable=True),
        sa.Column("output_tokens", sa.Integer(), nullable=True),
        sa.Column("cost_microusd", sa.BigInteger(), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=True),
        sa.Column("hash", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("chain", "seq"),
    )
    op.create_index("ix_audit_events_thread_id", "audit_events", ["thread_id"])
    op.create_index("ix_audit_events_user_started", "audit_events", ["user_id", "started_at"])
    op.create_table(
        "agent_conversations",
        sa.Column("conversation_id", sa.String(length=128), nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=True),
        sa.Column("head_id", sa.String(length=36), nullable=True),
        sa.Column("usage", sa.Text(), nullable=False),
        sa.Column("deferred", sa.Text(), nullable=True),
        sa.Column("forked_from", sa.String(length=128), nullable=True),
        sa.Column("forked_at", sa.String(length=36), nullable=True),
        sa.Column("branches", sa.JSON(), nullable=False),
        sa.Column("revision", sa.String(length=64), nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("conversation_id"),
    )
    op.create_index("ix_agent_conversations_scope", "agent_conversations", ["scope"])
    op.create_table(
        "agent_entries",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("conversation_id", sa.String(length=128), nullable=False),
        sa.Column("parent_id", sa.String(length=36), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_agent_entries_conversation_id", "agent_entries", ["conversation_id"])


def downgrade() -> None:
    op.drop_index("ix_agent_entries_conversation_id", table_name="agent_entries")
    op.drop_table("agent_entries")
    op.drop_index("ix_agent_conversations_scope", table_name="agent_conversations")
    op.drop_table("agent_conversations")
    op.drop_index("ix_audit_events_user_started", table_name="audit_events")
    op.drop_index("ix_audit_events_thread_id", table_name="audit_events")
    op.drop_table("audit_events")
    op.drop_table("audit_heads")
