"""The /audit and /usage commands: the caller's own audit transcript of this chat (with
downloads and the chain check), and the tokens and dollars of this chat and of today, with
what the GPU endpoints have cost. A figure nobody reported reads "unknown", never $0."""

from __future__ import annotations

# Chainlit's File element is only partly annotated.
# pyright: reportUnknownMemberType=false
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any, Final

import chainlit as cl
from chainlit.context import ChainlitContextException, context
from chainlit.user import PersistedUser
from sqlalchemy import func, select

from tools.pipeline.cost import money
from ui.web.render import clean
from ui.web.titles import tool_title
from vault import Vault
from vault.audit import AuditEvent, AuditLog, AuditRecord
from vault.audit_verify import VerifyReport, to_jsonl, to_markdown
from vault.deployments import DeploymentView

_ROWS_SHOWN: Final = 40
_DETAIL_CHARS: Final = 160
_PROBLEMS_SHOWN: Final = 5
_FIELDS_SHOWN: Final = 6


_TONES: Final = {
    "success": "ok",
    "failed": "bad",
    "denied": "bad",
    "retried": "",
    "pending": "running",
}


def _args(text: str | None) -> dict[str, Any]:
    try:
        parsed: object = json.loads(text or "{}")
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}  # pyright: ignore[reportUnknownVariableType]


def _readable(summary: str) -> str:
    """A tool's JSON result as "dtype bf16 · total_gb 17.2", anything else as it is."""
    parsed = _args(summary) if summary.lstrip().startswith("{") else {}
    if not parsed:
        return summary
    scalars = [(k, v) for k, v in parsed.items() if isinstance(v, str | int | float | bool)]
    return " · ".join(f"{k.replace('_', ' ')} {v}" for k, v in scalars[:_FIELDS_SHOWN])


def audit_row(record: AuditRecord) -> dict[str, Any]:
    """One audit row as the panel shows it: short, redacted, human."""
    details: list[str] = []
    if record.kind == "tool":
        what = tool_title(
            record.tool or "tool", _args(record.args), done=record.outcome == "success"
        )
        details += [_readable(record.summary)] if record.summary else []
        details += [f"approved by {record.approved_by}"] if record.approved_by else []
    else:
        what = "Model request"
        cost = "cost unknown" if record.cost_usd is None else f"${record.cost_usd:.4f}"
        details.append(
            f"{record.input_tokens or 0:,} in / {record.output_tokens or 0:,} out · {cost}"
        )
    if record.duration_ms is not None:
        details.append(f"{record.duration_ms / 1000:.1f} s")
    return {
        "id": record.id, "time": record.started_at.strftime("%H:%M:%S"), "what": clean(what),
        "outcome": record.outcome, "tone": _TONES.get(record.outcome, ""),
        "details": clean(" · ".join(details))[:_DETAIL_CHARS],
    }  # fmt: skip


def verdict(report: VerifyReport, *, detailed: bool) -> str:
    """The chain check in a sentence (plus the first problems, for admins)."""
    if report.ok:
        unfinished = len(report.problems)
        extra = f"; {unfinished} call(s) never finished (the server stopped)" if unfinished else ""
        return f"Every row of the audit log checked out ({report.checked:,} rows){extra}."
    broken = [p for p in report.problems if p.kind != "unfinished"]
    line = f"{len(broken)} row(s) of the audit log were changed, removed or reordered."
    if not detailed:
        return line + " An admin can see which with `kriptik audit verify`."
    return line + " " + " ".join(clean(p.message) for p in broken[:_PROBLEMS_SHOWN])


def _session_user_id() -> str | None:
    try:
        user = context.session.user
    except ChainlitContextException:
        return None
    return user.id if isinstance(user, PersistedUser) else None


async def show_audit(
    audit: AuditLog, *, thread_id: str, is_admin: bool, user_id: str | None = None
) -> None:
    """The caller's own rows of this chat: the thread id alone is not enough, since Chainlit
    lets a session take a thread id whose chat is gone while its audit rows stay. Without
    `user_id`, the session's user; with no user at all, no rows."""
    user_id = user_id or _session_user_id()
    records = [] if user_id is None else await audit.records(thread_id=thread_id, user_id=user_id)
    report = await audit.verify()
    shown = records[-_ROWS_SHOWN:]
    props = {
        "ok": report.ok, "verdict": verdict(report, detailed=is_admin),
        "rows": [audit_row(r) for r in shown], "more": len(records) - len(shown),
    }  # fmt: skip
    elements: list[Any] = [cl.CustomElement(name="AuditPanel", props=props, display="inline")]
    stem = f"kriptik-audit-{thread_id[:8]}"
    if records:
        jsonl = to_jsonl(records).encode()
        markdown = to_markdown(records, thread_id=thread_id).encode()
        elements += [
            cl.File(name=f"{stem}.jsonl", content=jsonl, mime="application/x-ndjson"),
            cl.File(name=f"{stem}.md", content=markdown, mime="text/markdown"),
        ]
    intro = "This chat's audit transcript" + (
        ", with downloads (JSONL and Markdown):" if records else ":"
    )
    await cl.Message(content=intro, elements=elements).send()


@dataclass(frozen=True)
class Totals:
    """Model usage; `cost_usd` sums the requests whose price was reported, and `unpriced`
    counts the others (a local model, a provider that sent no price)."""

    requests: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    unpriced: int = 0

    def cost(self) -> str:
        if self.requests and self.unpriced == self.requests:
            return "cost unknown"
        if self.unpriced:
            return f"${self.cost_usd:.4f}, plus {self.unpriced:,} request(s) of unknown cost"
        return f"${self.cost_usd:.4f}"

    def line(self) -> str:
        return (
            f"{self.input_tokens + self.output_tokens:,} tokens "
            f"({self.input_tokens:,} in, {self.output_tokens:,} out) in {self.requests:,} "
            f"model request(s): {self.cost()}"
        )


async def totals(
    vault: Vault, *, user_id: str, thread_id: str | None = None, since: datetime | None = None
) -> Totals:
    """The user's model usage, in one thread or since a moment."""
    query = select(
        func.count(),
        func.coalesce(func.sum(AuditEvent.input_tokens), 0),
        func.coalesce(func.sum(AuditEvent.output_tokens), 0),
        func.coalesce(func.sum(AuditEvent.cost_microusd), 0),
        func.count() - func.count(AuditEvent.cost_microusd),  # NULL: no price reported
    ).where(AuditEvent.user_id == user_id, AuditEvent.kind == "model")
    if thread_id is not None:
        query = query.where(AuditEvent.thread_id == thread_id)
    if since is not None:
        query = query.where(AuditEvent.started_at >= since)
    async with vault.sessions() as session:
        row = (await session.execute(query)).one()
    count, tokens_in, tokens_out, micro, unpriced = (int(value or 0) for value in row)
    return Totals(count, tokens_in, tokens_out, micro / 1_000_000, unpriced)


def gpu_line(views: Sequence[DeploymentView]) -> str:
    """What these deployments' endpoints cost: our estimate (accrued for as long as each
    existed) beside RunPod's bill; a figure not known for every endpoint says so."""
    shown = [v for v in views if v.endpoint_id is not None]
    if not shown:
        return "no GPU endpoints"
    priced = [v for v in shown if v.usd_per_second > 0]
    estimated = f"{money(sum(v.cost_usd for v in priced))} estimated"
    if not priced:
        estimated = "estimate unknown (no price for the GPU)"
    elif len(priced) < len(shown):
        estimated += f" (unknown for {len(shown) - len(priced)}: no price for the GPU)"
    billed = [v.billed_usd for v in shown if v.billed_usd is not None]
    if not billed:
        bill = "RunPod's bill unknown"
    elif len(billed) < len(shown):
        bill = f"{money(sum(billed))} billed by RunPod for {len(billed)} (unknown for the rest)"
    else:
        bill = f"{money(sum(billed))} billed by RunPod"
    return f"{len(shown)} endpoint(s): {estimated}, {bill}"


async def show_usage(
    vault: Vault, *, user_id: str, thread_id: str, deployments: Sequence[DeploymentView] = ()
) -> None:
    """Tokens and dollars of this chat and of today; with `deployments` (the user's, cost
    accrued up to now), what the GPU endpoints of this chat and of this month cost."""
    now = datetime.now(UTC)
    midnight = datetime.combine(now.date(), time.min, tzinfo=UTC)
    month = midnight.replace(day=1)
    chat = await totals(vault, user_id=user_id, thread_id=thread_id)
    today = await totals(vault, user_id=user_id, since=midnight)
    mine = [v for v in deployments if v.thread_id == thread_id]
    this_month = [v for v in deployments if v.ended_at is None or v.ended_at >= month]
    await cl.Message(
        content=(
            "### Usage\n\n"
            f"- **This chat:** {chat.line()}\n"
            f"- **Today (UTC):** {today.line()}\n"
            f"- **GPU, this chat:** {gpu_line(mine)}\n"
            f"- **GPU, endpoints up this month (UTC), each in whole:** {gpu_line(this_month)}\n\n"
            "Model costs are what the provider reported for each request; where it reported "
            "none (a local model), the cost is unknown. GPU costs are our estimate, for as "
            "long as each endpoint existed, beside what RunPod's billing reported."
        )
    ).send()
