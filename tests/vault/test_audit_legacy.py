"""A database whose audit chain was written before the chain was keyed, on SQLite and
PostgreSQL: it migrates, still verifies (its rows reported as unkeyed), and the keyed
chain carries on from it; an unkeyed row after keyed ones is a forgery."""

from __future__ import annotations

import importlib
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy import select, update

from vault import Settings, Vault
from vault.audit import GENESIS, AuditEvent
from vault.audit_seal import KEYED, legacy_hash
from vault.db import create_engine
from vault.migrate import upgrade
from vault.models import UTCDateTime, utcnow

# The revision before the keyed chain: its `audit_events` has no `scheme` column.
BEFORE = importlib.import_module("vault.migrations.versions.0006_audit_keyed").down_revision

_OLD_EVENTS = sa.table(
    "audit_events",
    *(sa.column(name) for name in ("id", "chain", "seq", "kind", "thread_id", "user_id")),
    *(sa.column(name) for name in ("tool", "tool_call_id", "args", "outcome", "summary")),
    sa.column("started_at", UTCDateTime()),
    sa.column("finished_at", UTCDateTime()),
    *(sa.column(name) for name in ("duration_ms", "prev_hash", "hash")),
)
_HEADS = sa.table("audit_heads", sa.column("chain"), sa.column("seq"), sa.column("hash"))


def old_rows(n: int) -> list[AuditEvent]:
    """`n` rows sealed as the unkeyed chain sealed them, a day ago."""
    rows: list[AuditEvent] = []
    prev = GENESIS
    when = utcnow() - timedelta(days=1)
    for seq in range(1, n + 1):
        row = AuditEvent(
            id=f"old-{seq}", chain="audit", seq=seq, kind="tool", thread_id="t-old",
            user_id="u1", tool="inspect_model", tool_call_id=f"c{seq}", args='{"repo_id": "a/b"}',
            outcome="success", summary="a tiny model", started_at=when, finished_at=when,
            duration_ms=0, prev_hash=prev,
        )  # fmt: skip
        row.hash = prev = legacy_hash(row, prev)
        rows.append(row)
    return rows


async def write_before_the_keyed_chain(settings: Settings, rows: list[AuditEvent]) -> None:
    engine = create_engine(settings.resolved_database_url)
    try:
        await upgrade(engine, BEFORE)
        async with engine.begin() as conn:
            names = [c.name for c in _OLD_EVENTS.columns]
            await conn.execute(
                sa.insert(_OLD_EVENTS), [{n: getattr(row, n) for n in names} for row in rows]
            )
            await conn.execute(update(_HEADS).values(seq=rows[-1].seq, hash=rows[-1].hash))
    finally:
        await engine.dispose()


async def test_a_database_from_before_the_keyed_chain_still_verifies(settings: Settings) -> None:
    await write_before_the_keyed_chain(settings, old_rows(3))
    vault = await Vault.open(settings)  # migrates to the keyed chain
    try:
        log = vault.audit
        report = await log.verify()
        assert report.ok and report.checked == 3 and report.unkeyed == 3
        [unkeyed, _anchor] = report.notes
        assert unkeyed.startswith("unkeyed, written before ")
        assert "3 row(s), seq 1..3, sealed with plain SHA-256" in unkeyed

        await log.record_tool(thread_id="t-new", user_id="u1", tool="choose_gpu",
                              tool_call_id="n1", args={}, outcome="success", summary="ok")  # fmt: skip
        records = await log.records()
        assert [r.scheme for r in records] == [None, None, None, KEYED]
        assert records[3].prev_hash == records[2].hash  # one chain, across the change
        report = await log.verify()
        assert report.ok and report.checked == 4 and report.unkeyed == 3
        assert f"written before {records[3].started_at:%Y-%m-%d %H:%M} UTC" in report.notes[0]
    finally:
        await vault.close()


async def test_an_unkeyed_row_after_keyed_ones_is_a_forgery(settings: Settings) -> None:
    await write_before_the_keyed_chain(settings, old_rows(2))
    vault = await Vault.open(settings)
    try:
        log = vault.audit
        for n in range(2):
            await log.record_tool(thread_id="t-new", user_id="u1", tool="choose_gpu",
                                  tool_call_id=f"n{n}", args={}, outcome="success", summary="ok")  # fmt: skip
        # A database writer rewrites the last row as if it were from before the keyed chain.
        async with vault.sessions.begin() as session:
            last = await session.scalar(select(AuditEvent).where(AuditEvent.seq == 4))
            assert last is not None
            last.outcome, last.scheme = "denied", None
            last.hash = legacy_hash(last, last.prev_hash or "")
            await session.execute(update(_HEADS).values(hash=last.hash))
        report = await log.verify()
        [forged] = report.problems
        assert (forged.kind, forged.seq, forged.row_id) == ("changed", 4, last.id)
        assert "unkeyed but comes after keyed rows" in forged.message
    finally:
        await vault.close()
