"""Readiness checks of the system of record, for the chat app's `/readyz` probe:

    database, migrations = await database_checks(engine, timeout_s=2.0)

- **database**: a `SELECT 1` answers within the timeout.
- **migrations**: the schema's Alembic revision is this release's `HEAD`.

A check never raises and its words never carry a DSN, a host, a password or an
exception's text (which may quote the DSN): a probe's body is read by whoever can reach
it, so a failure says what failed and the error's class only, through the redactor.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Final

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from vault.migrations import HEAD
from vault.redact import redact

__all__ = ["DEFAULT_TIMEOUT_S", "Check", "database_checks"]

# Short: a load balancer asks every few seconds, and a slow answer is a failed one.
DEFAULT_TIMEOUT_S: Final = 2.0


@dataclass(frozen=True)
class Check:
    """One readiness check: its name, whether it passed, and why, in words."""

    name: str
    ok: bool
    detail: str

    def as_json(self) -> dict[str, bool | str]:
        return {"ok": self.ok, "detail": self.detail}


async def _revision(conn: AsyncConnection) -> str | None:
    try:
        return await conn.scalar(text("SELECT version_num FROM alembic_version"))
    except DBAPIError:  # no version table: an empty database
        return None


async def _answer(engine: AsyncEngine) -> str | None:
    """`SELECT 1`, then the schema's revision, on one connection."""
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
        return await _revision(conn)


def _migrations(revision: str | None) -> Check:
    if revision == HEAD:
        return Check("migrations", True, f"at {HEAD}")
    found = "no schema" if revision is None else f"revision {redact(revision)[:32]}"
    return Check(
        "migrations", False, f"the database has {found}; this release needs {HEAD} "
        "(run `kriptik serve` once, or `alembic upgrade head`)",
    )  # fmt: skip


async def database_checks(
    engine: AsyncEngine, *, timeout_s: float = DEFAULT_TIMEOUT_S
) -> tuple[Check, Check]:
    """The database and migrations checks, over one connection of `engine`'s pool
    (the migrations check fails as unknown when the database does not answer)."""
    try:
        async with asyncio.timeout(timeout_s):
            revision = await _answer(engine)
    except TimeoutError:
        why = f"the database did not answer within {timeout_s:g} s"
    except Exception as error:  # any failure is an answer: not ready
        why = redact(f"the database refused or dropped the connection ({type(error).__name__})")
    else:
        return Check("database", True, "answers"), _migrations(revision)
    return Check("database", False, why), Check("migrations", False, "unknown: no database")
