"""`kriptik audit verify|export`: check the hash-chained audit transcript, or export a thread.

kriptik audit verify [--json]                           exit 0 intact, 1 tampered
kriptik audit export --thread ID [--format jsonl|md] [--output FILE]

`verify` checks every row's MAC, the links between rows, and the end of the chain against
the anchor in the KripTik home (and `KRIPTIK_AUDIT_ANCHOR_FILE`); key changes are the rows
of thread `credentials`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from ui.cli.console import run_on_vault, say, warn

if TYPE_CHECKING:
    from ui.cli import Subparsers
    from vault import Vault


def register(subparsers: Subparsers) -> None:
    audit = subparsers.add_parser("audit", help="verify the audit transcript or export a thread")
    sub = audit.add_subparsers(dest="audit_command", metavar="ACTION", required=True)

    verify = sub.add_parser(
        "verify",
        help="check the MAC chain and its anchor; names any changed, removed, reordered or "
        "cut-off row",
    )
    verify.add_argument("--json", action="store_true", help="machine-readable output")
    verify.set_defaults(handler=_verify)

    export = sub.add_parser("export", help="one thread's tool calls and model requests")
    export.add_argument("--thread", required=True, metavar="ID", help="the chat thread id")
    export.add_argument("--format", choices=("jsonl", "md"), default="jsonl")
    export.add_argument("--output", type=Path, help="write to this file instead of stdout")
    export.set_defaults(handler=_export)


def _verify(args: argparse.Namespace) -> int:
    async def body(vault: Vault) -> int:
        report = await vault.audit.verify()
        if args.json:
            say(json.dumps(report.model_dump(mode="json") | {"ok": report.ok}, indent=2))
        elif report.ok:
            say(f"Audit chain intact: {report.checked} rows verified (head seq {report.head_seq}).")
        else:
            warn(f"Audit chain BROKEN ({report.checked} rows checked):")
        if not args.json:
            for problem in report.problems:
                (say if problem.kind == "unfinished" else warn)(
                    f"  {problem.kind}: {problem.message}"
                )
            for note in report.notes:
                say(f"  {note}")
        return 0 if report.ok else 1

    return int(run_on_vault(body))


def _export(args: argparse.Namespace) -> int:
    async def body(vault: Vault) -> int:
        from vault.audit_verify import to_jsonl, to_markdown

        records = await vault.audit.records(thread_id=args.thread)
        if not records:
            warn(f"No audit rows for thread {args.thread!r}.")
            return 1
        text = (
            to_jsonl(records)
            if args.format == "jsonl"
            else to_markdown(records, thread_id=args.thread)
        )
        if args.output is None:
            say(text.rstrip("\n"))
        else:
            args.output.write_text(text, encoding="utf-8")
            say(f"Wrote {len(records)} rows to {args.output}.")
        return 0

    return int(run_on_vault(body))
