"""Sign-in: GitHub accounts keyed on their numeric id, invitations, and login throttling
shared through the database (it replaces the per-account lock columns).

GitHub users created before this revision have no recorded id. None is guessed from
their login (a recycled login would inherit the account); an admin binds one with
`kriptik users link-github NAME ID`, or the account signs in afresh.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("github_id", sa.BigInteger(), nullable=True))
        batch.add_column(
            sa.Column("github_invited", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.create_unique_constraint("uq_users_github_id", ["github_id"])
        batch.drop_column("failed_logins")
        batch.drop_column("locked_until")
    op.create_table(
        "login_windows",
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("started_at", _TS, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("address"),
    )
    op.create_index("ix_login_windows_started_at", "login_windows", ["started_at"])
    op.create_table(
        "login_delays",
        sa.Column("account", sa.String(length=128), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("next_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("account", "address"),
    )
    op.create_index("ix_login_delays_updated_at", "login_delays", ["updated_at"])
    op.create_table(
        "github_invites",
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("invited_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("subject"),
    )


def downgrade() -> None:
    op.drop_table("github_invites")
    op.drop_index("ix_login_delays_updated_at", table_name="login_delays")
    op.drop_table("login_delays")
    op.drop_index("ix_login_windows_started_at", table_name="login_windows")
    op.drop_table("login_windows")
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("locked_until", _TS, nullable=True),
        )
        batch.add_column(
            sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0")
        )
        batch.drop_constraint("uq_users_github_id", type_="unique")
        batch.drop_column("github_invited")
        batch.drop_column("github_id")
