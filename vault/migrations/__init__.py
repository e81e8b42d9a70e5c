"""Alembic migrations. `HEAD` names the newest revision, so start-up can tell whether the
schema is current with one query, without importing Alembic (a test keeps it in step)."""

HEAD = "0010"
