"""Spend controls: per-user limits, and each deployment's time-to-live, idle limit and
running cost.

`user_limits` holds what an admin set for one user (NULL: the operator's default from the
settings) and what the user set for themselves (NULL: none; a user may only lower a limit).
A deployment gains its time-to-live and idle limit (as approved), when it expires and when
it was last active, when the user was warned, up to when its cost is accrued, and what the
provider's billing reported (NULL: unknown, never zero).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_DEPLOYMENT_COLUMNS = (
    ("ttl_s", sa.Integer()),
    ("idle_limit_s", sa.Integer()),
    ("cost_cap_usd", sa.Float()),
    ("expires_at", sa.DateTime(timezone=True)),
    ("last_active_at", sa.DateTime(timezone=True)),
    ("warned_at", sa.DateTime(timezone=True)),
    ("cost_accrued_to", sa.DateTime(timezone=True)),
    ("billed_usd", sa.Float()),
    ("billed_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    op.create_table(
        "user_limits",
        sa.Column("user_id", sa.String(length=36), sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("monthly_budget_usd", sa.Float(), nullable=True),
        sa.Column("deployment_cap_usd", sa.Float(), nullable=True),
        sa.Column("max_live", sa.Integer(), nullable=True),
        sa.Column("max_workers", sa.Integer(), nullable=True),
        sa.Column("max_gpus", sa.Integer(), nullable=True),
        sa.Column("own_monthly_budget_usd", sa.Float(), nullable=True),
        sa.Column("own_deployment_cap_usd", sa.Float(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    # Nullable columns with no default: instant on PostgreSQL, a plain ALTER on SQLite.
    with op.batch_alter_table("deployments") as batch:
        for name, kind in _DEPLOYMENT_COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deployments") as batch:
        for name, _ in reversed(_DEPLOYMENT_COLUMNS):
            batch.drop_column(name)
    op.drop_table("user_limits")
