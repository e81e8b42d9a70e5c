"""The audit chain's seal: each row's MAC, keyed from the master key and chained to the
row before it.

    key   = HKDF-SHA256(master key, info "kriptik audit chain v1")     never stored
    mac_n = HMAC-SHA256(key, mac_{n-1} "\\n" canonical JSON of row n)   scheme "hmac-sha256-v1"

The master key is not in the database, so someone who can only write to the database can
change, drop or reorder rows but cannot seal the result. Rows written before the chain
was keyed (scheme NULL) carry SHA-256 of the same input: they still verify, but anyone
who can write to the database could have recomputed them, and the report says so.

The canonical JSON covers every column except `seq`, the hashes and the scheme: the
order of rows is protected by the links, and the scheme picks the function.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from vault.audit_anchor import AnchorBook

if TYPE_CHECKING:
    from pathlib import Path

    from vault.audit_tables import AuditEvent
    from vault.keyring import MasterKey

__all__ = ["GENESIS", "KEYED", "AuditSeal", "ChainKey", "expected_hash", "open_seal"]

GENESIS = "0" * 64
KEYED = "hmac-sha256-v1"
_INFO = b"kriptik audit chain v1"


def stamp(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="microseconds")


def canonical(row: AuditEvent) -> str:
    """The row's content as the chain hashes it (unchanged since the unkeyed chain)."""
    content = {
        "id": row.id, "kind": row.kind, "thread_id": row.thread_id, "user_id": row.user_id,
        "run_id": row.run_id, "tool": row.tool, "tool_call_id": row.tool_call_id,
        "args": row.args, "outcome": row.outcome, "approved_by": row.approved_by,
        "started_at": stamp(row.started_at), "finished_at": stamp(row.finished_at),
        "duration_ms": row.duration_ms, "summary": row.summary, "model": row.model,
        "input_tokens": row.input_tokens, "output_tokens": row.output_tokens,
        "cost_microusd": row.cost_microusd,
    }  # fmt: skip
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def legacy_hash(row: AuditEvent, prev_hash: str) -> str:
    """The unkeyed hash of rows written before the chain was keyed."""
    return hashlib.sha256(f"{prev_hash}\n{canonical(row)}".encode()).hexdigest()


@dataclass(frozen=True)
class ChainKey:
    """The chain's MAC key. Derived, so the master key itself never touches a row."""

    material: bytes = field(repr=False)

    @classmethod
    def from_master(cls, master: MasterKey) -> ChainKey:
        return cls(master.derive(_INFO))

    def mac(self, row: AuditEvent, prev_hash: str) -> str:
        message = f"{prev_hash}\n{canonical(row)}".encode()
        return hmac.new(self.material, message, hashlib.sha256).hexdigest()


def expected_hash(row: AuditEvent, key: ChainKey) -> str | None:
    """What the row's hash must be under the scheme it names; None for an unknown scheme."""
    prev = row.prev_hash or ""
    if row.scheme is None:
        return legacy_hash(row, prev)
    if row.scheme == KEYED:
        return key.mac(row, prev)
    return None


@dataclass(frozen=True)
class AuditSeal:
    """What appending and checking need beyond the database: the key and the anchors."""

    key: ChainKey
    anchors: AnchorBook | None = None

    def seal(self, row: AuditEvent, seq: int, prev_hash: str) -> None:
        row.seq, row.prev_hash, row.scheme = seq, prev_hash, KEYED
        row.hash = self.key.mac(row, prev_hash)


def open_seal(
    master: MasterKey,
    *,
    home: Path,
    database: str,
    instance: str,
    sink: Path | None,
) -> AuditSeal:
    """The seal of a vault as it opens: its chain key and its anchors. `database` names the
    database those anchors belong to: its URL, without the password."""
    anchors = AnchorBook(home, database=database, instance=instance, sink=sink)
    return AuditSeal(ChainKey.from_master(master), anchors)
