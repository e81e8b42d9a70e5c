"""Alembic environment. Migrations always run on a connection handed in by
`vault.migrate.upgrade`, so they work inside a running event loop and on any backend."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from vault.models import Base

connection: Connection | None = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `kriptik db upgrade` (vault.migrate.upgrade)")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
