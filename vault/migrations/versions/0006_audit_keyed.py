"""The keyed audit chain: each audit row records the scheme that seals it.

Rows written before this revision keep a NULL scheme: they were sealed with plain
SHA-256 and still verify as such (reported as unkeyed). Every row sealed from now on is
HMAC-SHA256 under a key derived from the master key (`vault.audit_seal`). Downgrading
drops the column, and the keyed rows then no longer verify: do not downgrade past here
with rows you need to check.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A nullable column with no default: instant on PostgreSQL and a plain ALTER on SQLite,
    # however long the chain is.
    with op.batch_alter_table("audit_events") as batch:
        batch.add_column(sa.Column("scheme", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_column("scheme")
