"""Database engine and sessions: SQLAlchemy 2 async on aiosqlite (default) or asyncpg."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

from vault.files import create_private_file, sqlite_file, tighten


def normalize_url(url: str) -> str:
    """Accept the URLs people paste (`postgresql://`, `sqlite:///`) and pick async drivers."""
    parsed = make_url(url)
    driver = {
        "postgresql": "postgresql+asyncpg",
        "postgres": "postgresql+asyncpg",
        "sqlite": "sqlite+aiosqlite",
    }.get(parsed.drivername, parsed.drivername)
    return parsed.set(drivername=driver).render_as_string(hide_password=False)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_pragmas(
    database: Path | None, dbapi_connection: Any, _record: ConnectionPoolEntry
) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers proceed during a write; busy_timeout turns lock contention (between
    # the app and a CLI command, or a hundred chat turns writing at once on a busy machine)
    # into a wait instead of "database is locked". 5 s was measured too short: with 100
    # concurrent sessions on 2 loaded cores, writers waited up to 10 s and turns failed.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
    if database is not None:
        # SQLite gives the WAL and shared-memory files the database file's mode; this makes
        # sure of it for a database file someone else created.
        tighten(database)


def create_engine(url: str) -> AsyncEngine:
    url = normalize_url(url)
    if is_sqlite(url):
        database = sqlite_file(url)
        if database is not None:
            # Created 0600 before SQLite opens it: SQLite would create it 0644 minus the umask.
            create_private_file(database)
        engine = create_async_engine(url)
        event.listen(engine.sync_engine, "connect", functools.partial(_sqlite_pragmas, database))
        return engine
    return create_async_engine(url, pool_pre_ping=True)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
