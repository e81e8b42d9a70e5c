"""The audit chain's anchor outside the database: it moves only forward and only along
the chain it anchored, a sink file (`KRIPTIK_AUDIT_ANCHOR_FILE`) keeps every anchor
when the home's is lost, and an anchor that cannot be read fails the check."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from tests.agent.test_audit import cut_tail, fill
from vault import Settings, Vault
from vault.audit_anchor import ANCHOR_FILE_NAME, AnchorBook


def book(home: Path, database: str = "sqlite+aiosqlite:////db") -> AnchorBook:
    return AnchorBook(home, database=database, instance="a")


def test_the_anchor_moves_only_forward_and_only_along_its_chain(tmp_path: Path) -> None:
    anchors = book(tmp_path / "home")
    anchors.record(5, "mac5", witness=None)
    anchors.record(3, "mac3", witness=None)  # a slower process of the same home
    held = anchors.held()
    assert held is not None and (held.seq, held.mac) == (5, "mac5")
    anchors.record(6, "other6", witness=(5, "restored5"))  # a chain that lost row 5
    held = anchors.held()
    assert held is not None and (held.seq, held.mac) == (5, "mac5")
    anchors.record(7, "mac7", witness=(5, "mac5"))
    held = anchors.held()
    assert held is not None and (held.seq, held.mac) == (7, "mac7")
    assert stat.S_IMODE(anchors.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(anchors.home.stat().st_mode) == 0o700


def test_each_database_has_its_own_anchor_in_one_home(tmp_path: Path) -> None:
    first, second = book(tmp_path, "postgresql+asyncpg://k:***@db/a"), book(tmp_path, "x")
    first.record(9, "mac9", witness=None)
    second.record(2, "mac2", witness=None)
    assert [(a.seq, a.mac) for a in first.read().anchors] == [(9, "mac9")]
    assert [(a.seq, a.mac) for a in second.read().anchors] == [(2, "mac2")]
    assert set(json.loads(first.path.read_text())["anchors"]) == {
        "postgresql+asyncpg://k:***@db/a", "x",
    }  # fmt: skip


async def test_the_sink_keeps_every_anchor_when_the_home_loses_its_own(
    settings: Settings, tmp_path: Path
) -> None:
    sink = tmp_path / "elsewhere" / "anchors.jsonl"
    vault = await Vault.open(settings.model_copy(update={"audit_anchor_file": sink}))
    try:
        log = vault.audit
        await fill(log)
        lines = [json.loads(line) for line in sink.read_text().splitlines()]
        assert [line["seq"] for line in lines] == [1, 2, 3, 4, 5]
        assert [line["mac"] for line in lines] == [r.hash for r in await log.records()]
        assert stat.S_IMODE(sink.stat().st_mode) == 0o600
        (settings.home / ANCHOR_FILE_NAME).unlink()  # the home's anchor is gone
        await cut_tail(vault)
        report = await log.verify()
        [cut] = report.problems
        assert (cut.kind, cut.seq) == ("truncated", 5)
        assert cut.message.startswith(f"truncated after seq 4: the anchor in {sink} line 5 ")
    finally:
        await vault.close()


async def test_an_unreadable_anchor_fails_the_check_and_is_started_again(
    vault: Vault, settings: Settings
) -> None:
    log = vault.audit
    await fill(log)
    anchor = settings.home / ANCHOR_FILE_NAME
    anchor.write_text("{not json")
    report = await log.verify()
    [problem] = report.problems
    assert problem.kind == "anchor" and not report.ok
    assert f"the anchor {anchor}: " in problem.message
    await fill(log)  # appending goes on, with a fresh anchor; the damaged one is kept
    assert (settings.home / f"{ANCHOR_FILE_NAME}.unreadable").read_text() == "{not json"
    report = await log.verify()
    assert report.ok and report.anchored_seq == 10


async def test_another_home_without_an_anchor_verifies_and_says_so(
    vault: Vault, settings: Settings, tmp_path: Path
) -> None:
    await fill(vault.audit)
    # A second instance on the same database, with its own home: nothing anchored there yet.
    other = await Vault.open(settings.model_copy(update={"home": tmp_path / "other"}))
    try:
        report = await other.audit.verify()
        assert report.ok and report.anchored_seq is None
        [note] = report.notes
        assert note.startswith(f"not anchored: {tmp_path / 'other' / ANCHOR_FILE_NAME} holds no")
    finally:
        await other.close()
