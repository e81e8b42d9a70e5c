"""ComfyUI workflows a user brought to the chat.

`workflows` keeps each one in ComfyUI's API format (the UI format is converted on import),
once per user and content digest, with its name, the format it arrived in, and what the
user supplied for it since (a model file's source, a package's pinned version).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "workflows",
        sa.Column("id", sa.String(length=36), primary_key=True),
        sa.Column("user_id", sa.String(length=36), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("source_format", sa.String(length=8), nullable=False),
        sa.Column("api_json", sa.Text(), nullable=False),
        sa.Column("supplied", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("user_id", "digest", name="uq_workflows_user_digest"),
    )
    op.create_index("ix_workflows_user_created", "workflows", ["user_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_workflows_user_created", table_name="workflows")
    op.drop_table("workflows")
