"""Checking and exporting the audit transcript.

`verify_chain` walks the rows in seq order, holds the end of the chain against the head
row and against the anchors kept outside the database, and names every problem by seq
and row id:

- *changed*: a row's content no longer matches its MAC (or, for a row from before the
  chain was keyed, its hash); an unkeyed row after keyed ones (resealed without the
  key); a row that is not the one an anchor recorded at its seq;
- *removed*: a gap in seq, or a row chained to a row that no longer exists;
- *reordered*: a row chained to a row other than the one before it;
- *truncated*: the chain ends before the head or an anchor says it reached, an emptied
  chain included;
- *anchor*: an anchor that cannot be read, so the chain cannot be held against it;
- *unfinished*: a tool call that started and never finished (the process stopped); not
  tampering, so it does not fail verification.

Notes, which do not fail it, say which rows are unkeyed and where the chain is anchored.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

from pydantic import BaseModel

from vault.audit_anchor import Anchor, AnchorReading
from vault.audit_seal import GENESIS, ChainKey, expected_hash, stamp
from vault.audit_tables import AuditEvent, AuditHead, AuditRecord

__all__ = ["AuditProblem", "VerifyReport", "to_jsonl", "to_markdown", "verify_chain"]

ProblemKind = Literal["changed", "removed", "reordered", "truncated", "anchor", "unfinished"]


class AuditProblem(BaseModel):
    kind: ProblemKind
    seq: int | None
    row_id: str | None
    message: str


class VerifyReport(BaseModel):
    checked: int
    head_seq: int
    problems: list[AuditProblem]
    unkeyed: int = 0  # rows sealed before the chain was keyed
    anchored_seq: int | None = None  # the furthest anchor seen; None without one
    notes: list[str] = []

    @property
    def ok(self) -> bool:
        return all(problem.kind == "unfinished" for problem in self.problems)


def _name(row: AuditEvent) -> str:
    what = f"model request ({row.model})" if row.kind == "model" else row.tool
    return f"row seq {row.seq} (id {row.id}, {what}, thread {row.thread_id})"


def _problem(kind: ProblemKind, seq: int | None, row_id: str | None, text: str) -> AuditProblem:
    return AuditProblem(kind=kind, seq=seq, row_id=row_id, message=text)


def _link_problem(row: AuditEvent, by_hash: dict[str | None, AuditEvent]) -> AuditProblem:
    before = by_hash.get(row.prev_hash)
    if before is not None:
        return _problem("reordered", row.seq, row.id, (
            f"{_name(row)} is out of order: it was written right after the row now at seq "
            f"{before.seq} (id {before.id}), not after row seq {(row.seq or 0) - 1}"))  # fmt: skip
    return _problem("removed", row.seq, row.id, (
        f"a row is missing before {_name(row)}: the row it was chained to is gone (deleted, "
        "with the later rows renumbered)"))  # fmt: skip


def _seal_problem(row: AuditEvent, key: ChainKey, keyed_before: bool) -> AuditProblem | None:
    if row.scheme is None and keyed_before:
        why = ("it is unkeyed but comes after keyed rows: it was rewritten by someone "
               "without the master key")  # fmt: skip
    elif (expected := expected_hash(row, key)) is None:
        why = f"it names an unknown sealing scheme {row.scheme!r}"
    elif expected != row.hash:
        why = f"its content no longer matches its {'hash' if row.scheme is None else 'MAC'}"
    else:
        return None
    return _problem(
        "changed", row.seq, row.id, f"{_name(row)} was changed after it was written: {why}"
    )


def _walk(rows: Sequence[AuditEvent], key: ChainKey) -> list[AuditProblem]:
    problems: list[AuditProblem] = []
    by_hash: dict[str | None, AuditEvent] = {row.hash: row for row in rows}
    expected_prev, expected_seq, keyed = GENESIS, 1, False
    for row in rows:
        seq = row.seq or 0
        if seq > expected_seq:
            problems.append(_problem("removed", expected_seq, None, (
                f"rows seq {expected_seq}..{seq - 1} are missing (deleted)")))  # fmt: skip
        if (sealed := _seal_problem(row, key, keyed)) is not None:
            problems.append(sealed)
        elif row.prev_hash != expected_prev and seq == expected_seq:
            problems.append(_link_problem(row, by_hash))
        keyed = keyed or row.scheme is not None
        expected_prev, expected_seq = row.hash or "", seq + 1
    return problems


def _where(anchor: Anchor) -> str:
    return (f"the anchor in {anchor.source} (instance {anchor.instance}, "
            f"{anchor.written_at:%Y-%m-%d %H:%M:%S} UTC)")  # fmt: skip


def _end_problems(
    by_seq: dict[int, AuditEvent],
    head: AuditHead | None,
    anchors: Sequence[Anchor],
    changed: set[int],
) -> list[AuditProblem]:
    """The chain's end against the head row and every anchor: nothing may be missing from
    the end, and the head and each anchor must name the row that is there (rows already
    found `changed` are not named twice)."""
    last = max(by_seq, default=0)
    problems: list[AuditProblem] = []
    claims = [(a.seq, _where(a)) for a in anchors]
    if head is None:
        problems.append(_problem("removed", None, None, "the chain head row is missing"))
    else:
        claims.append((head.seq, "the chain head in the database"))
    end, who = max(claims, default=(0, ""), key=lambda claim: claim[0])
    if end > last and last == 0:
        problems.append(_problem("truncated", 1, None, (
            f"the chain is empty, but {who} says it reached seq {end}: every row was "
            "deleted")))  # fmt: skip
    elif end > last:
        problems.append(_problem("truncated", last + 1, None, (
            f"truncated after seq {last}: {who} says the chain reached seq {end}; the last "
            f"rows seq {last + 1}..{end} are missing (deleted)")))  # fmt: skip
    row = by_seq.get(head.seq) if head is not None else None
    if head is not None and row is not None and row.hash != head.hash and head.seq not in changed:
        problems.append(_problem("changed", head.seq, None, (
            f"the chain head does not match {_name(row)}: rows were rewritten")))  # fmt: skip
    for anchor in sorted(anchors, key=lambda a: a.seq):
        row = by_seq.get(anchor.seq)
        if row is not None and row.hash != anchor.mac and anchor.seq not in changed:
            changed.add(anchor.seq)
            problems.append(_problem("changed", anchor.seq, row.id, (
                f"{_name(row)} is not the row {_where(anchor)} recorded at seq {anchor.seq}: "
                "the chain was rewritten or replaced up to here")))  # fmt: skip
    return problems


def _notes(sealed: Sequence[AuditEvent], reading: AnchorReading | None) -> list[str]:
    notes: list[str] = []
    unkeyed = [row for row in sealed if row.scheme is None]
    if unkeyed:
        first_keyed = next((row for row in sealed if row.scheme is not None), None)
        since = (first_keyed or unkeyed[-1]).started_at
        notes.append(
            f"unkeyed, written before {since:%Y-%m-%d %H:%M} UTC: {len(unkeyed)} row(s), seq "
            f"{unkeyed[0].seq}..{unkeyed[-1].seq}, sealed with plain SHA-256 before the chain "
            "was keyed; anyone who could write to the database could have rewritten them"
        )
    if reading is not None and reading.anchors:
        furthest = max(reading.anchors, key=lambda a: a.seq)
        notes.append(f"anchored: {_where(furthest)} says the chain reached seq {furthest.seq}")
    elif reading is not None and not reading.unreadable:
        notes.append(
            f"not anchored: {', '.join(reading.places)} holds no anchor for this database, so "
            "a cut tail or an emptied chain cannot be detected; the next row written anchors it"
        )
    return notes


def verify_chain(
    rows: Iterable[AuditEvent],
    head: AuditHead | None,
    *,
    key: ChainKey,
    anchors: AnchorReading | None = None,
) -> VerifyReport:
    """Check every sealed row, the head and the anchors; list unfinished tool calls."""
    everything = list(rows)
    sealed = sorted((row for row in everything if row.seq is not None), key=lambda r: r.seq or 0)
    held = anchors.anchors if anchors else []
    problems = _walk(sealed, key)
    changed = {p.seq for p in problems if p.kind == "changed" and p.seq is not None}
    problems += _end_problems({row.seq or 0: row for row in sealed}, head, held, changed)
    problems += [
        _problem("anchor", None, None, (
            f"the anchor {place} cannot be read, so the chain cannot be checked against it"))
        for place in (anchors.unreadable if anchors else [])
    ]  # fmt: skip
    problems += [
        _problem("unfinished", None, row.id, (
            f"tool call {row.tool} (id {row.id}, thread {row.thread_id}) started at "
            f"{stamp(row.started_at)} and never finished: the process stopped mid-call"))
        for row in everything if row.seq is None
    ]  # fmt: skip
    return VerifyReport(
        checked=len(sealed),
        head_seq=head.seq if head else 0,
        problems=problems,
        unkeyed=sum(row.scheme is None for row in sealed),
        anchored_seq=max((a.seq for a in held), default=None),
        notes=_notes(sealed, anchors),
    )


def to_jsonl(records: Iterable[AuditRecord]) -> str:
    """One JSON object per row, in chain order."""
    return "".join(record.model_dump_json() + "\n" for record in records)


def _cell(text: object) -> str:
    return "" if text is None else str(text).replace("|", "\\|").replace("\n", " ")


def to_markdown(records: Iterable[AuditRecord], *, thread_id: str) -> str:
    """A readable transcript of one thread: tool calls and model requests, in order."""
    lines = [
        f"# Audit transcript: thread {thread_id}",
        "",
        "| seq | time (UTC) | what | outcome | approved by | ms | details |",
        "| ---: | --- | --- | --- | --- | ---: | --- |",
    ]
    for r in records:
        if r.kind != "model":  # a tool call or a credential change
            what = f"`{r.tool}`"
            details = f"args `{_cell(r.args)}`" + (f"; {_cell(r.summary)}" if r.summary else "")
        else:
            what = f"model `{r.model}`"
            cost = "unknown" if r.cost_usd is None else f"${r.cost_usd:.6f}"
            details = f"{r.input_tokens} in / {r.output_tokens} out tokens, {cost}"
        when = r.started_at.strftime("%Y-%m-%d %H:%M:%S")
        lines.append(
            f"| {_cell(r.seq)} | {when} | {what} | {r.outcome} | {_cell(r.approved_by)} "
            f"| {_cell(r.duration_ms)} | {details} |"
        )
    return "\n".join(lines) + "\n"
