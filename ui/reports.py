"""The /audit and /usage commands: this chat's audit transcript (with downloads and the
chain check), and the tokens and dollars of this chat and of today."""

from __future__ import annotations

# Chainlit's File element is only partly annotated.
# pyright: reportUnknownMemberType=false
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Final

import chainlit as cl
from sqlalchemy import func, select

from ui.render import clean
from ui.services import current
from vault.audit import AuditEvent, AuditRecord
from vault.audit_verify import VerifyReport, to_jsonl, to_markdown

_ROWS_SHOWN: Final = 30
_PROBLEMS_SHOWN: Final = 5


def _cell(text: object) -> str:
    return clean("" if text is None else str(text)).replace("|", "\\|").replace("\n", " ")


def _row(record: AuditRecord) -> str:
    when = record.started_at.strftime("%H:%M:%S")
    if record.kind == "tool":
        what = f"`{record.tool}`"
        details = _cell(record.summary or "")[:120]
    else:
        what = f"model `{record.model}`"
        cost = "cost unknown" if record.cost_usd is None else f"${record.cost_usd:.4f}"
        details = f"{record.input_tokens or 0:,} in / {record.output_tokens or 0:,} out · {cost}"
    ms = "" if record.duration_ms is None else f"{record.duration_ms:,}"
    return (
        f"| {when} | {what} | {record.outcome} | {_cell(record.approved_by)} | {ms} | {details} |"
    )


def verdict(report: VerifyReport, *, detailed: bool) -> str:
    """The chain check in one line (plus the first problems, for admins)."""
    if report.ok:
        unfinished = len(report.problems)
        extra = f"; {unfinished} call(s) never finished (the server stopped)" if unfinished else ""
        return f"✓ Audit chain intact: {report.checked:,} rows checked{extra}."
    broken = [p for p in report.problems if p.kind != "unfinished"]
    line = f"✗ Audit chain check failed: {len(broken)} row(s) changed, removed or reordered."
    if not detailed:
        return line + " An admin can see which with `kriptik audit verify`."
    shown = "".join(f"\n- {clean(p.message)}" for p in broken[:_PROBLEMS_SHOWN])
    return line + shown


async def show_audit(*, thread_id: str, is_admin: bool) -> None:
    audit = current().audit
    records = await audit.records(thread_id=thread_id)
    report = await audit.verify()
    check = verdict(report, detailed=is_admin)
    if not records:
        await cl.Message(content=f"Nothing in this chat has been audited yet.\n\n{check}").send()
        return
    shown = records[-_ROWS_SHOWN:]
    more = len(records) - len(shown)
    table = "\n".join(_row(r) for r in shown)
    content = (
        f"### Audit transcript of this chat\n\n{check}\n\n"
        "| time (UTC) | what | outcome | approved by | ms | details |\n"
        "|---|---|---|---|---:|---|\n"
        f"{table}\n\n"
        + (f"The {more} earlier row(s) are in the downloads.\n\n" if more else "")
        + "Download the whole transcript:"
    )
    stem = f"kriptik-audit-{thread_id[:8]}"
    files = [
        cl.File(
            name=f"{stem}.jsonl", content=to_jsonl(records).encode(), mime="application/x-ndjson"
        ),
        cl.File(
            name=f"{stem}.md",
            content=to_markdown(records, thread_id=thread_id).encode(),
            mime="text/markdown",
        ),
    ]
    await cl.Message(content=content, elements=files).send()  # pyright: ignore[reportArgumentType]


@dataclass(frozen=True)
class Totals:
    requests: int
    input_tokens: int
    output_tokens: int
    cost_usd: float

    def line(self) -> str:
        return (
            f"{self.input_tokens + self.output_tokens:,} tokens "
            f"({self.input_tokens:,} in, {self.output_tokens:,} out) in {self.requests:,} "
            f"model request(s): ${self.cost_usd:.4f}"
        )


async def totals(
    *, user_id: str, thread_id: str | None = None, since: datetime | None = None
) -> Totals:
    """The user's model usage, in one thread or since a moment."""
    query = select(
        func.count(),
        func.coalesce(func.sum(AuditEvent.input_tokens), 0),
        func.coalesce(func.sum(AuditEvent.output_tokens), 0),
        func.coalesce(func.sum(AuditEvent.cost_microusd), 0),
    ).where(AuditEvent.user_id == user_id, AuditEvent.kind == "model")
    if thread_id is not None:
        query = query.where(AuditEvent.thread_id == thread_id)
    if since is not None:
        query = query.where(AuditEvent.started_at >= since)
    async with current().vault.sessions() as session:
        row = (await session.execute(query)).one()
    count, tokens_in, tokens_out, micro = (int(value or 0) for value in row)
    return Totals(count, tokens_in, tokens_out, micro / 1_000_000)


async def show_usage(*, user_id: str, thread_id: str) -> None:
    midnight = datetime.combine(datetime.now(UTC).date(), time.min, tzinfo=UTC)
    chat = await totals(user_id=user_id, thread_id=thread_id)
    today = await totals(user_id=user_id, since=midnight)
    await cl.Message(
        content=(
            "### Usage\n\n"
            f"- **This chat:** {chat.line()}\n"
            f"- **Today (UTC):** {today.line()}\n\n"
            "Costs are what OpenRouter reported for each request."
        )
    ).send()
