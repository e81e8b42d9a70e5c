"""A real PostgreSQL server for tests: `.ci/run` (or `scripts/start-postgres.sh`) starts
it and exports KRIPTIK_TEST_POSTGRES_URL. Each test gets a fresh database on it."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from sqlalchemy.engine import make_url

ADMIN_URL = os.environ.get("KRIPTIK_TEST_POSTGRES_URL")


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def available() -> bool:
    if not ADMIN_URL:
        return False
    try:
        conn = await asyncpg.connect(_dsn(ADMIN_URL), timeout=3)
    except (OSError, asyncpg.PostgresError):
        return False
    await conn.close()
    return True


@asynccontextmanager
async def fresh_database(
    admin_url: str | None = None, *, prefix: str = "kriptik_test"
) -> AsyncIterator[str]:
    """Create an empty database on the server at `admin_url` (default: the suite's), yield
    its SQLAlchemy URL, drop it afterwards."""
    admin_url = admin_url or ADMIN_URL
    assert admin_url
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(_dsn(admin_url))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield (
            make_url(admin_url)
            .set(drivername="postgresql+asyncpg", database=name)
            .render_as_string(hide_password=False)
        )
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
