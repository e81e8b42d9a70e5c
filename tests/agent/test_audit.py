"""The audit transcript on SQLite and PostgreSQL: the hash chain, tamper detection that
names the row, concurrent appends from two instances, spend, export and redaction."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from decimal import Decimal
from itertools import pairwise

from sqlalchemy import text

from vault import REDACTOR, Settings, Vault
from vault.audit import GENESIS, AuditEvent, AuditHead, AuditLog, row_hash
from vault.audit_verify import to_jsonl, to_markdown, verify_chain
from vault.models import utcnow


async def fill(log: AuditLog, *, thread: str = "t1", user: str = "u1") -> None:
    """Five rows of every kind: tool success, model request, denied, retried, model."""
    row = await log.begin_tool(thread_id=thread, user_id=user, tool="inspect_model",
                               tool_call_id="c1", args={"repo_id": "a/b"})  # fmt: skip
    await log.finish_tool(row, outcome="success", summary="a tiny model")
    await log.record_model_request(thread_id=thread, user_id=user, model="m/x", input_tokens=10,
                                   output_tokens=2, cost_usd=Decimal("0.0012"), started_at=utcnow())  # fmt: skip
    await log.record_tool(thread_id=thread, user_id=user, tool="create_runpod_endpoint",
                          tool_call_id="c2", args={"pool": "AMPERE_16"}, outcome="denied",
                          summary="denied by ann")  # fmt: skip
    row = await log.begin_tool(thread_id=thread, user_id=user, tool="inspect_model",
                               tool_call_id="c3", args={"repo_id": "bad"})  # fmt: skip
    await log.finish_tool(row, outcome="retried", summary="not a repo id")
    await log.record_model_request(thread_id=thread, user_id=user, model="m/x", input_tokens=20,
                                   output_tokens=5, cost_usd=None, started_at=utcnow())  # fmt: skip


async def sql(vault: Vault, *statements: str) -> None:
    async with vault.engine.begin() as conn:
        for statement in statements:
            await conn.execute(text(statement))


async def row_id(vault: Vault, seq: int) -> str:
    async with vault.engine.connect() as conn:
        return str(await conn.scalar(text(f"SELECT id FROM audit_events WHERE seq = {seq}")))  # noqa: S608


async def test_an_untouched_chain_verifies_and_exports_redacted(vault: Vault) -> None:
    secret = "rpa_AuditRedaction0123456789abcdefXYZ"
    REDACTOR.register(secret)
    log = AuditLog(vault.sessions)
    try:
        await fill(log)
        row = await log.begin_tool(thread_id="t9", user_id="u1", tool="check_credential",
                                   tool_call_id="c9", args={"note": secret})  # fmt: skip
        await log.finish_tool(row, outcome="failed", summary=f"provider said {secret}")
    finally:
        REDACTOR.clear()
    report = await log.verify()
    assert report.ok and report.checked == 6 and report.head_seq == 6 and report.problems == []
    records = await log.records()
    assert [r.seq for r in records] == [1, 2, 3, 4, 5, 6]
    assert all(b.prev_hash == a.hash for a, b in pairwise(records))
    assert [r.outcome for r in records[:5]] == [
        "success",
        "success",
        "denied",
        "retried",
        "success",
    ]
    assert records[1].cost_usd == Decimal("0.0012") and records[4].cost_usd is None
    assert secret not in records[5].model_dump_json() and "[REDACTED]" in (records[5].args or "")

    thread = await log.records(thread_id="t1")
    lines = [json.loads(line) for line in to_jsonl(thread).splitlines()]
    assert [line["seq"] for line in lines] == [1, 2, 3, 4, 5]
    markdown = to_markdown(thread, thread_id="t1")
    assert markdown.startswith("# Audit transcript: thread t1")
    assert "| `create_runpod_endpoint` | denied |" in markdown
    assert "10 in / 2 out tokens, $0.001200" in markdown


async def test_sql_tampering_is_detected_and_the_row_named(vault: Vault) -> None:
    log = AuditLog(vault.sessions)
    await fill(log)
    ids = {seq: await row_id(vault, seq) for seq in range(1, 6)}

    await sql(vault, "UPDATE audit_events SET approved_by = 'mallory' WHERE seq = 3")
    [changed] = (await log.verify()).problems
    assert (changed.kind, changed.seq, changed.row_id) == ("changed", 3, ids[3])
    assert (
        f"row seq 3 (id {ids[3]}, create_runpod_endpoint, thread t1) was changed" in changed.message
    )
    await sql(vault, "UPDATE audit_events SET approved_by = NULL WHERE seq = 3")
    assert (await log.verify()).ok

    swap = ("UPDATE audit_events SET seq = 1000 WHERE seq = 2",
            "UPDATE audit_events SET seq = 2 WHERE seq = 3",
            "UPDATE audit_events SET seq = 3 WHERE seq = 1000")  # fmt: skip
    await sql(vault, *swap)
    moved = (await log.verify()).problems
    assert [(p.kind, p.row_id) for p in moved] == [
        ("reordered", ids[3]), ("reordered", ids[2]), ("reordered", ids[4]),
    ]  # fmt: skip
    assert (
        f"right after the row now at seq 3 (id {ids[2]}), not after row seq 1" in moved[0].message
    )
    await sql(vault, *swap)
    assert (await log.verify()).ok

    await sql(vault, "DELETE FROM audit_events WHERE seq = 5")
    [tail] = (await log.verify()).problems
    assert (tail.kind, tail.seq) == ("removed", 5) and "the last rows seq 5..5" in tail.message


def chain(n: int) -> list[AuditEvent]:
    """`n` sealed rows built in memory exactly as `AuditLog` seals them."""
    rows: list[AuditEvent] = []
    prev = GENESIS
    for seq in range(1, n + 1):
        row = AuditEvent(id=f"id-{seq}", kind="tool", thread_id="t", user_id="u",
                         tool=f"tool{seq}", outcome="success", started_at=utcnow())  # fmt: skip
        row.seq, row.prev_hash = seq, prev
        row.hash = prev = row_hash(row, prev)
        rows.append(row)
    return rows


def test_removed_rows_are_named_with_or_without_renumbering() -> None:
    rows = chain(6)
    head = AuditHead(chain="audit", seq=6, hash=rows[-1].hash)
    assert verify_chain(rows, head).ok
    [gap] = verify_chain(rows[:2] + rows[3:], head).problems
    assert (gap.kind, gap.seq) == ("removed", 3) and "rows seq 3..3 are missing" in gap.message
    renumbered = rows[:2] + rows[3:]
    for row in renumbered[2:]:
        row.seq = (row.seq or 0) - 1
    [hole] = verify_chain(renumbered, AuditHead(chain="audit", seq=5, hash=rows[-1].hash)).problems
    assert (hole.kind, hole.seq, hole.row_id) == ("removed", 3, "id-4")
    assert "a row is missing before row seq 3 (id id-4" in hole.message
    assert [p.kind for p in verify_chain(rows, None).problems] == ["removed"]


async def test_two_instances_appending_at_once_keep_one_chain(
    vault: Vault, settings: Settings
) -> None:
    other = await Vault.open(settings)  # a second process: its own engine and connections
    try:
        logs = [AuditLog(vault.sessions), AuditLog(other.sessions)]

        async def append(log: AuditLog, n: int) -> None:
            row = await log.begin_tool(thread_id=f"t{n}", user_id="u", tool="inspect_model",
                                       tool_call_id=f"c{n}", args={"n": n})  # fmt: skip
            await log.finish_tool(row, outcome="success", summary=str(n))

        await asyncio.gather(*(append(logs[n % 2], n) for n in range(24)))
        report = await logs[0].verify()
        assert report.ok and report.checked == 24 and report.head_seq == 24
        assert [r.seq for r in await logs[1].records()] == list(range(1, 25))
    finally:
        await other.close()


async def test_spend_per_user_and_unfinished_calls(vault: Vault) -> None:
    log = AuditLog(vault.sessions)
    await fill(log, user="ann")
    await fill(log, user="bob")
    since = utcnow() - timedelta(minutes=1)
    assert await log.cost_since("ann", since) == Decimal("0.0012")
    assert await log.cost_since("ann", utcnow() + timedelta(minutes=1)) == 0
    pending = await log.begin_tool(thread_id="t1", user_id="ann", tool="choose_gpu",
                                   tool_call_id="c9", args={})  # fmt: skip
    report = await log.verify()  # a crash mid-call is reported, but it is not tampering
    assert report.ok and [(p.kind, p.row_id) for p in report.problems] == [("unfinished", pending)]
