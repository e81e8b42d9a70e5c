"""Apply Alembic migrations to the configured database."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from vault.migrations import HEAD

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.engine import Connection

_SCRIPTS = Path(__file__).parent / "migrations"
_LOCK_KEY = 0x4B52_4950  # "KRIP": the advisory lock that serialises migrations


def _config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config()).get_current_head()


async def current_revision(engine: AsyncEngine) -> str | None:
    """The schema's revision, or None for an empty database. One cheap query."""
    async with engine.connect() as conn:
        try:
            return await conn.scalar(text("SELECT version_num FROM alembic_version"))
        except DBAPIError:  # no version table yet
            return None


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the schema to `revision`. Cheap when it is already there (every start runs
    this), and safe when several instances start at once on PostgreSQL."""
    if revision == "head" and await current_revision(engine) == HEAD:
        return
    from alembic import command

    def run(connection: Connection) -> None:
        command.upgrade(_config(connection), revision)

    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Instances starting together take turns; the second finds the work done.
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
        await conn.run_sync(run)
