"""Chat history for the web app: threads, steps, custom elements and feedback.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "chat_threads",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_chat_threads_user_created", "chat_threads", ["user_id", "created_at"])
    op.create_table(
        "chat_steps",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("thread_id", sa.String(length=64), nullable=False),
        sa.Column("parent_id", sa.String(length=64), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("input", sa.Text(), nullable=False),
        sa.Column("output", sa.Text(), nullable=False),
        sa.Column("is_error", sa.Boolean(), nullable=False),
        sa.Column("streaming", sa.Boolean(), nullable=False),
        sa.Column("wait_for_answer", sa.Boolean(), nullable=False),
        sa.Column("show_input", sa.String(length=32), nullable=True),
        sa.Column("language", sa.String(length=32), nullable=True),
        sa.Column("default_open", sa.Boolean(), nullable=False),
        sa.Column("auto_collapse", sa.Boolean(), nullable=False),
        sa.Column("command", sa.String(length=64), nullable=True),
        sa.Column("icon", sa.String(length=64), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("modes", sa.JSON(), nullable=True),
        sa.Column("generation", sa.JSON(), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("start_at", _TS, nullable=True),
        sa.Column("end_at", _TS, nullable=True),
        sa.ForeignKeyConstraint(["thread_id"], ["chat_threads.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_chat_steps_thread_created", "chat_steps", ["thread_id", "created_at"])
    op.create_table(
        "chat_elements",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("thread_id", sa.String(length=64), nullable=False),
        sa.Column("for_id", sa.String(length=64), nullable=True),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("display", sa.String(length=16), nullable=False),
        sa.Column("mime", sa.String(length=128), nullable=True),
        sa.Column("props", sa.JSON(), nullable=False),
        sa.Column("language", sa.String(length=32), nullable=True),
        sa.Column("size", sa.String(length=16), nullable=True),
        sa.Column("page", sa.Integer(), nullable=True),
        sa.Column("url", sa.String(length=2048), nullable=True),
        sa.Column("chainlit_key", sa.String(length=64), nullable=True),
        sa.Column("object_key", sa.String(length=512), nullable=True),
        sa.ForeignKeyConstraint(["thread_id"], ["chat_threads.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_chat_elements_thread_id", "chat_elements", ["thread_id"])
    op.create_table(
        "chat_feedback",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("thread_id", sa.String(length=64), nullable=False),
        sa.Column("for_id", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["thread_id"], ["chat_threads.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_chat_feedback_thread_id", "chat_feedback", ["thread_id"])


def downgrade() -> None:
    op.drop_index("ix_chat_feedback_thread_id", table_name="chat_feedback")
    op.drop_table("chat_feedback")
    op.drop_index("ix_chat_elements_thread_id", table_name="chat_elements")
    op.drop_table("chat_elements")
    op.drop_index("ix_chat_steps_thread_created", table_name="chat_steps")
    op.drop_table("chat_steps")
    op.drop_index("ix_chat_threads_user_created", table_name="chat_threads")
    op.drop_table("chat_threads")
