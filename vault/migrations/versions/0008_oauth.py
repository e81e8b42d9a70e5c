"""Connected accounts (OAuth): a credential's grant, and the redirect flows on their way.

A credential gains how it was connected (NULL: a pasted key), when its access token and
its refresh token expire, the refresh token sealed under its own data key (the row's KEK
version, so a rotation re-wraps it with the access token), and whether a refresh failed
for good (`needs_reconnect`). Existing rows are pasted keys: every new column is NULL, and
`needs_reconnect` is false.

`oauth_pending` holds each redirect flow between the authorize URL and its callback: the
state as a SHA-256 digest (the state itself is never stored), the user and the chat
session (a digest too) that began it, the exact redirect URI, when it expires, and the
PKCE verifier sealed like a key.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)
_CREDENTIAL_COLUMNS = (
    ("connected_via", sa.String(length=16)),
    ("expires_at", _TS),
    ("refresh_expires_at", _TS),
    ("refresh_wrapped_dek", sa.LargeBinary()),
    ("refresh_nonce", sa.LargeBinary()),
    ("refresh_ciphertext", sa.LargeBinary()),
)


def upgrade() -> None:
    with op.batch_alter_table("credentials") as batch:
        for name, kind in _CREDENTIAL_COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=True))
        batch.add_column(
            sa.Column("needs_reconnect", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_table(
        "oauth_pending",
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("session_hash", sa.String(length=64), nullable=False),
        sa.Column("redirect_uri", sa.String(length=500), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("expires_at", _TS, nullable=False),
        sa.Column("kek_version", sa.Integer(), nullable=True),
        sa.Column("wrapped_dek", sa.LargeBinary(), nullable=True),
        sa.Column("nonce", sa.LargeBinary(), nullable=True),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(["kek_version"], ["keks.version"]),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("state_hash"),
    )
    op.create_index("ix_oauth_pending_user_id", "oauth_pending", ["user_id"])
    op.create_index("ix_oauth_pending_expires_at", "oauth_pending", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_oauth_pending_expires_at", table_name="oauth_pending")
    op.drop_index("ix_oauth_pending_user_id", table_name="oauth_pending")
    op.drop_table("oauth_pending")
    with op.batch_alter_table("credentials") as batch:
        batch.drop_column("needs_reconnect")
        for name, _ in reversed(_CREDENTIAL_COLUMNS):
            batch.drop_column(name)
