"""The audit transcript on SQLite and PostgreSQL: the MAC chain and its anchor, tamper
detection that names the row (the forgeries of a database writer without the master key
included), concurrent appends from two instances, spend, export and redaction."""

from __future__ import annotations

import asyncio
import json
import os
import stat
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from itertools import pairwise

import pytest
from sqlalchemy import delete, select, text, update

from vault import REDACTOR, Settings, Vault
from vault.audit import GENESIS, AuditEvent, AuditHead, AuditLog, Outcome
from vault.audit_anchor import ANCHOR_FILE_NAME
from vault.audit_seal import KEYED, AuditSeal, ChainKey, legacy_hash
from vault.audit_verify import to_jsonl, to_markdown, verify_chain
from vault.models import utcnow


async def fill(
    log: AuditLog, *, thread: str = "t1", user: str = "u1", endpoint: Outcome = "denied"
) -> None:
    """Five rows of every kind: tool success, model request, `create_runpod_endpoint`
    (denied unless told otherwise), retried, model."""
    row = await log.begin_tool(thread_id=thread, user_id=user, tool="inspect_model",
                               tool_call_id="c1", args={"repo_id": "a/b"})  # fmt: skip
    await log.finish_tool(row, outcome="success", summary="a tiny model")
    await log.record_model_request(thread_id=thread, user_id=user, model="m/x", input_tokens=10,
                                   output_tokens=2, cost_usd=Decimal("0.0012"), started_at=utcnow())  # fmt: skip
    await log.record_tool(thread_id=thread, user_id=user, tool="create_runpod_endpoint",
                          tool_call_id="c2", args={"pool": "AMPERE_16"}, outcome=endpoint,
                          summary=f"{endpoint} (ann)")  # fmt: skip
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


# ---- What a database writer without the master key can do ------------------------------


async def cut_tail(vault: Vault) -> None:
    """Delete the last row and move the head back to the row before it: what is left is a
    consistent chain, with nothing in the database to say a row is gone."""
    async with vault.sessions.begin() as session:
        rows = list(await session.scalars(select(AuditEvent).order_by(AuditEvent.seq)))
        await session.delete(rows[-1])
        await session.execute(update(AuditHead).values(seq=rows[-2].seq, hash=rows[-2].hash))


async def empty_chain(vault: Vault) -> None:
    """Delete every row and reset the head, as a freshly migrated database has it."""
    async with vault.sessions.begin() as session:
        await session.execute(delete(AuditEvent))
        await session.execute(update(AuditHead).values(seq=0, hash=GENESIS))


Reseal = Callable[[AuditEvent, str], str]


def unkeyed(row: AuditEvent, prev: str) -> str:
    """The chain's old, unkeyed scheme (plain SHA-256), as anyone can compute it."""
    row.scheme = None
    return legacy_hash(row, prev)


GUESS = ChainKey(os.urandom(32))


def guessed_key(row: AuditEvent, prev: str) -> str:
    """The keyed scheme, under a key the forger made up."""
    row.scheme = KEYED
    return GUESS.mac(row, prev)


async def deny_and_reseal(vault: Vault, reseal: Reseal, *, start: int = 3) -> None:
    """Turn the `create_runpod_endpoint` row at seq 3 into "denied", then recompute the
    hash of every row from `start` on, and the head, so every link holds again."""
    async with vault.sessions.begin() as session:
        rows = list(await session.scalars(select(AuditEvent).order_by(AuditEvent.seq)))
        prev = rows[start - 2].hash if start > 1 else GENESIS
        for row in rows[start - 1 :]:
            if row.tool == "create_runpod_endpoint":
                row.outcome, row.summary = "denied", "denied by ann"
            row.prev_hash = prev or ""
            row.hash = prev = reseal(row, prev or "")
        await session.execute(update(AuditHead).values(seq=rows[-1].seq, hash=prev))


async def test_an_untouched_chain_verifies_and_exports_redacted(vault: Vault) -> None:
    secret = "rpa_AuditRedaction0123456789abcdefXYZ"
    REDACTOR.register(secret)
    log = vault.audit
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
    log = vault.audit
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
    assert (tail.kind, tail.seq) == ("truncated", 5) and "the last rows seq 5..5" in tail.message


async def test_every_row_is_keyed_and_the_head_anchored_in_a_private_file(
    vault: Vault, settings: Settings
) -> None:
    log = vault.audit
    await fill(log)
    records = await log.records()
    assert {r.scheme for r in records} == {KEYED}
    # The master key comes from the setting here, and the anchor still lives in `home`.
    anchor = settings.home / ANCHOR_FILE_NAME
    assert not (settings.home / "master.key").exists()
    assert stat.S_IMODE(anchor.stat().st_mode) == 0o600
    [(database, entry)] = json.loads(anchor.read_text())["anchors"].items()
    assert (entry["seq"], entry["mac"], entry["instance"]) == (5, records[-1].hash, "local")
    assert database == vault.engine.url.render_as_string(hide_password=True)
    # No temporary file is left behind.
    anchor_files = sorted(p.name for p in settings.home.iterdir() if "anchor" in p.name)
    assert anchor_files == [f".{ANCHOR_FILE_NAME}.lock", ANCHOR_FILE_NAME]
    report = await log.verify()
    assert report.ok and report.anchored_seq == 5 and report.unkeyed == 0
    assert report.notes == [
        f"anchored: the anchor in {anchor} (instance local, "
        f"{entry['written_at'][:10]} {entry['written_at'][11:19]} UTC) says the chain "
        "reached seq 5"
    ]


async def test_a_cut_tail_with_the_head_moved_back_is_caught_by_the_anchor(
    vault: Vault, settings: Settings
) -> None:
    log = vault.audit
    await fill(log)
    await cut_tail(vault)
    [cut] = (await log.verify()).problems
    assert (cut.kind, cut.seq) == ("truncated", 5)
    assert cut.message.startswith(
        f"truncated after seq 4: the anchor in {settings.home / ANCHOR_FILE_NAME} (instance local"
    )
    assert cut.message.endswith("says the chain reached seq 5; the last rows seq 5..5 are "
                                "missing (deleted)")  # fmt: skip


@pytest.mark.parametrize("reseal", [unkeyed, guessed_key])
async def test_an_edited_row_resealed_without_the_key_is_named(
    vault: Vault, reseal: Reseal
) -> None:
    log = vault.audit
    await fill(log, endpoint="success")
    ids = {seq: await row_id(vault, seq) for seq in range(1, 6)}
    await deny_and_reseal(vault, reseal)
    [outcome] = [r.outcome for r in await log.records() if r.tool == "create_runpod_endpoint"]
    assert outcome == "denied"  # the forgery took: every link and the head agree
    report = await log.verify()
    assert not report.ok
    assert [(p.kind, p.row_id) for p in report.problems] == [
        ("changed", ids[3]), ("changed", ids[4]), ("changed", ids[5]),
    ]  # fmt: skip
    first = report.problems[0].message
    assert f"row seq 3 (id {ids[3]}, create_runpod_endpoint, thread t1) was changed" in first
    why = "comes after keyed rows" if reseal is unkeyed else "no longer matches its MAC"
    assert why in first


async def test_a_chain_resealed_unkeyed_from_the_start_fails_at_its_anchor(
    vault: Vault,
) -> None:
    log = vault.audit
    await fill(log, endpoint="success")
    await deny_and_reseal(vault, unkeyed, start=1)
    report = await log.verify()
    assert report.unkeyed == 5
    [replaced] = report.problems
    assert (replaced.kind, replaced.seq) == ("changed", 5)
    assert "is not the row the anchor in" in replaced.message


async def test_deleting_every_row_is_caught_by_the_anchor(vault: Vault) -> None:
    log = vault.audit
    await fill(log)
    await empty_chain(vault)
    report = await log.verify()
    [gone] = report.problems
    assert (gone.kind, gone.seq, report.checked) == ("truncated", 1, 0)
    assert gone.message.startswith("the chain is empty, but the anchor in")
    assert gone.message.endswith("says it reached seq 5: every row was deleted")


async def test_a_restored_backup_that_grew_again_does_not_match_its_anchor(
    vault: Vault,
) -> None:
    log = vault.audit
    await fill(log)
    await cut_tail(vault)
    await cut_tail(vault)  # the database as a backup taken at seq 3 left it
    await fill(log)  # the app carries on; its rows are sealed with the real key
    report = await log.verify()
    [replaced] = report.problems
    assert (replaced.kind, replaced.seq) == ("changed", 5)
    assert "is not the row the anchor in" in replaced.message
    assert "the chain was rewritten or replaced up to here" in replaced.message


KEY = ChainKey(bytes(range(32)))


def chain(n: int) -> list[AuditEvent]:
    """`n` sealed rows built in memory exactly as `AuditLog` seals them."""
    rows: list[AuditEvent] = []
    prev = GENESIS
    for seq in range(1, n + 1):
        row = AuditEvent(id=f"id-{seq}", kind="tool", thread_id="t", user_id="u",
                         tool=f"tool{seq}", outcome="success", started_at=utcnow())  # fmt: skip
        AuditSeal(KEY).seal(row, seq, prev)
        prev = row.hash or ""
        rows.append(row)
    return rows


def test_removed_rows_are_named_with_or_without_renumbering() -> None:
    rows = chain(6)
    head = AuditHead(chain="audit", seq=6, hash=rows[-1].hash)
    assert verify_chain(rows, head, key=KEY).ok
    [gap] = verify_chain(rows[:2] + rows[3:], head, key=KEY).problems
    assert (gap.kind, gap.seq) == ("removed", 3) and "rows seq 3..3 are missing" in gap.message
    renumbered = rows[:2] + rows[3:]
    for row in renumbered[2:]:
        row.seq = (row.seq or 0) - 1
    five = AuditHead(chain="audit", seq=5, hash=rows[-1].hash)
    [hole] = verify_chain(renumbered, five, key=KEY).problems
    assert (hole.kind, hole.seq, hole.row_id) == ("removed", 3, "id-4")
    assert "a row is missing before row seq 3 (id id-4" in hole.message
    assert [p.kind for p in verify_chain(rows, None, key=KEY).problems] == ["removed"]


def test_rows_sealed_with_another_key_are_all_changed() -> None:
    rows = chain(3)
    head = AuditHead(chain="audit", seq=3, hash=rows[-1].hash)
    report = verify_chain(rows, head, key=ChainKey(os.urandom(32)))
    assert [(p.kind, p.seq) for p in report.problems] == [
        ("changed", 1),
        ("changed", 2),
        ("changed", 3),
    ]
    assert "its content no longer matches its MAC" in report.problems[0].message


async def test_two_instances_appending_at_once_keep_one_chain(
    vault: Vault, settings: Settings
) -> None:
    other = await Vault.open(settings)  # a second process: its own engine and connections
    try:
        logs = [vault.audit, other.audit]

        async def append(log: AuditLog, n: int) -> None:
            row = await log.begin_tool(thread_id=f"t{n}", user_id="u", tool="inspect_model",
                                       tool_call_id=f"c{n}", args={"n": n})  # fmt: skip
            await log.finish_tool(row, outcome="success", summary=str(n))

        await asyncio.gather(*(append(logs[n % 2], n) for n in range(24)))
        report = await logs[0].verify()
        assert report.ok and report.checked == 24 and report.head_seq == 24
        assert report.anchored_seq == 24  # the anchor only ever moves forward
        assert [r.seq for r in await logs[1].records()] == list(range(1, 25))
    finally:
        await other.close()


async def test_spend_per_user_and_unfinished_calls(vault: Vault) -> None:
    log = vault.audit
    await fill(log, user="ann")
    await fill(log, user="bob")
    since = utcnow() - timedelta(minutes=1)
    assert await log.cost_since("ann", since) == Decimal("0.0012")
    assert await log.cost_since("ann", utcnow() + timedelta(minutes=1)) == 0
    pending = await log.begin_tool(thread_id="t1", user_id="ann", tool="choose_gpu",
                                   tool_call_id="c9", args={})  # fmt: skip
    report = await log.verify()  # a crash mid-call is reported, but it is not tampering
    assert report.ok and [(p.kind, p.row_id) for p in report.problems] == [("unfinished", pending)]
