"""The readiness checks of the system of record (`vault.health`), on SQLite and on the real
PostgreSQL: a migrated database passes, an empty one fails its migrations check, and an
unreachable or silent one fails in words that name no host, path or password."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from vault import Vault
from vault.db import create_engine
from vault.health import database_checks
from vault.migrations import HEAD

PLANTED_PASSWORD = "planted-Pa55word-9f3c"  # a test's planted secret


async def test_a_migrated_database_is_ready(vault: Vault) -> None:
    database, migrations = await database_checks(vault.engine)
    assert database.ok and database.detail == "answers"
    assert migrations.ok and migrations.detail == f"at {HEAD}"


async def test_an_empty_database_is_not_at_head(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        database, migrations = await database_checks(engine)
        assert database.ok
        assert not migrations.ok and "no schema" in migrations.detail and HEAD in migrations.detail
        async with engine.begin() as conn:  # an older release's schema
            await conn.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32))"))
            await conn.execute(text("INSERT INTO alembic_version VALUES ('0001')"))
        _, migrations = await database_checks(engine)
        assert not migrations.ok and "revision 0001" in migrations.detail
    finally:
        await engine.dispose()


async def test_a_broken_sqlite_file_fails_without_naming_it(tmp_path: Path) -> None:
    broken = tmp_path / "kriptik.db"
    engine = create_engine(f"sqlite+aiosqlite:///{broken}")
    broken.write_bytes(b"not a database, " * 512)  # SQLite: "file is not a database"
    try:
        database, migrations = await database_checks(engine)
    finally:
        await engine.dispose()
    assert not database.ok and not migrations.ok
    assert "refused or dropped" in database.detail
    assert str(tmp_path) not in database.detail + migrations.detail


async def test_a_refused_postgres_fails_without_its_dsn() -> None:
    with socket.socket() as probe:  # a loopback port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    engine = create_engine(f"postgresql+asyncpg://kriptik:{PLANTED_PASSWORD}@127.0.0.1:{port}/x")
    try:
        database, _ = await database_checks(engine)
    finally:
        await engine.dispose()
    assert not database.ok
    for leak in (PLANTED_PASSWORD, "127.0.0.1", str(port), "kriptik"):
        assert leak not in database.detail


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port whose listener never answers: the kernel accepts the connection
    and nobody reads it (a hung database)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


async def test_a_silent_database_fails_within_the_timeout(silent_port: int) -> None:
    url = f"postgresql+asyncpg://kriptik:{PLANTED_PASSWORD}@127.0.0.1:{silent_port}/x"
    engine = create_engine(url)
    try:
        database, migrations = await database_checks(engine, timeout_s=0.3)
    finally:
        await engine.dispose()
    assert not database.ok and database.detail == "the database did not answer within 0.3 s"
    assert not migrations.ok
