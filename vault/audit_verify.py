"""Checking and exporting the audit transcript.

`verify_chain` walks the rows in seq order and names every problem by seq and row id:

- *changed*: a row's content no longer matches its hash;
- *removed*: a gap in seq, a row chained to a hash that no longer exists, or a tail
  shorter than the chain head says;
- *reordered*: a row chained to a row other than the one before it;
- *unfinished*: a tool call that started and never finished (the process stopped); not
  tampering, so it does not fail verification.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

from pydantic import BaseModel

from vault.audit import GENESIS, AuditEvent, AuditHead, AuditRecord, row_hash, stamp

__all__ = ["AuditProblem", "VerifyReport", "to_jsonl", "to_markdown", "verify_chain"]

ProblemKind = Literal["changed", "removed", "reordered", "unfinished"]


class AuditProblem(BaseModel):
    kind: ProblemKind
    seq: int | None
    row_id: str | None
    message: str


class VerifyReport(BaseModel):
    checked: int
    head_seq: int
    problems: list[AuditProblem]

    @property
    def ok(self) -> bool:
        return all(problem.kind == "unfinished" for problem in self.problems)


def _name(row: AuditEvent) -> str:
    what = row.tool if row.kind == "tool" else f"model request ({row.model})"
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


def _walk(rows: Sequence[AuditEvent]) -> tuple[list[AuditProblem], str]:
    problems: list[AuditProblem] = []
    by_hash: dict[str | None, AuditEvent] = {row.hash: row for row in rows}
    expected_prev, expected_seq = GENESIS, 1
    for row in rows:
        seq = row.seq or 0
        if seq > expected_seq:
            problems.append(_problem("removed", expected_seq, None, (
                f"rows seq {expected_seq}..{seq - 1} are missing (deleted)")))  # fmt: skip
        if row_hash(row, row.prev_hash or "") != row.hash:
            problems.append(_problem("changed", seq, row.id, (
                f"{_name(row)} was changed after it was written: its content no longer "
                "matches its hash")))  # fmt: skip
        elif row.prev_hash != expected_prev and seq == expected_seq:
            problems.append(_link_problem(row, by_hash))
        expected_prev, expected_seq = row.hash or "", seq + 1
    return problems, expected_prev


def verify_chain(rows: Iterable[AuditEvent], head: AuditHead | None) -> VerifyReport:
    """Check every sealed row and the chain head; list unfinished tool calls."""
    everything = list(rows)
    sealed = sorted((row for row in everything if row.seq is not None), key=lambda r: r.seq or 0)
    problems, last_hash = _walk(sealed)
    last_seq = sealed[-1].seq or 0 if sealed else 0
    if head is None:
        problems.append(_problem("removed", None, None, "the chain head row is missing"))
    elif head.seq > last_seq:
        problems.append(_problem("removed", last_seq + 1, None, (
            f"the last rows seq {last_seq + 1}..{head.seq} are missing (deleted)")))  # fmt: skip
    elif head.hash != last_hash:
        problems.append(_problem("changed", last_seq, None, (
            "the chain head does not match the last row: rows were rewritten")))  # fmt: skip
    problems += [
        _problem("unfinished", None, row.id, (
            f"tool call {row.tool} (id {row.id}, thread {row.thread_id}) started at "
            f"{stamp(row.started_at)} and never finished: the process stopped mid-call"))
        for row in everything if row.seq is None
    ]  # fmt: skip
    return VerifyReport(checked=len(sealed), head_seq=head.seq if head else 0, problems=problems)


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
        if r.kind == "tool":
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
