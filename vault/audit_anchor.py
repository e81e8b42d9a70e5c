"""The audit chain's anchor: how far the chain had got, kept outside the database.

A database writer cannot forge a row's MAC, but can cut rows off the end of the chain
and move the head back, or delete every row: what is left still verifies. The anchor is
the chain's last sequence number and MAC, written where the database cannot reach:

    home/audit-anchor.json    mode 0600, replaced atomically (temp file, fsync, rename)
    {"format": 1, "anchors": {"<database>": {"seq": 42, "mac": "…", "instance": "a", …}}}

It is written after each append commits, never before (an anchor ahead of the database
would be a false alarm). It only moves forward, and never along a chain that no longer
holds the anchored row (a restored backup that grew again). `<database>` is the database URL
without its password: one home may serve several databases, and an anchor is compared
only with the database it was written for, never with what a configuration change now
points at. With `KRIPTIK_AUDIT_ANCHOR_FILE` set, each anchor is also appended, as one
JSON line, to that file: a sink on other storage (another mount, an append-only volume)
that `verify` reads too.
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Generator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from vault.errors import VaultError
from vault.models import utcnow

__all__ = ["ANCHOR_FILE_NAME", "Anchor", "AnchorBook", "AnchorError", "AnchorReading"]

ANCHOR_FILE_NAME = "audit-anchor.json"
_FORMAT = 1
_log = logging.getLogger(__name__)


class AnchorError(VaultError):
    """An anchor could not be written."""


class Anchor(BaseModel):
    """The chain reached `seq`, and row `seq` carried `mac`."""

    database: str
    instance: str
    seq: int
    mac: str
    written_at: datetime
    source: str = Field(default="", exclude=True)  # where it was read from, for messages


class _AnchorFile(BaseModel):
    format: int = _FORMAT
    anchors: dict[str, Anchor] = {}


class AnchorReading(BaseModel):
    """Every anchor found for one database, and the places that could not be read."""

    anchors: list[Anchor]
    places: list[str]
    unreadable: list[str]


class AnchorBook:
    """The anchors of one database, in `home` (and the optional sink file)."""

    def __init__(
        self, home: Path, *, database: str, instance: str, sink: Path | None = None
    ) -> None:
        self.home = home
        self.path = home / ANCHOR_FILE_NAME
        self.database = database
        self.instance = instance
        self.sink = sink

    def __repr__(self) -> str:
        return f"AnchorBook(path={str(self.path)!r}, database={self.database!r})"

    def held(self) -> Anchor | None:
        """This database's anchor in the home file, if it can be read."""
        try:
            return _load(self.path).anchors.get(self.database)
        except (OSError, ValueError):
            return None

    def record(self, seq: int, mac: str, *, witness: tuple[int, str | None] | None) -> None:
        """Anchor the chain at `seq`. Call only once the row `seq` has committed.
        `witness` is (seq, MAC) of the row the held anchor names, as the chain that was
        just extended has it (`Appending.witness`)."""
        entry = Anchor(
            database=self.database, instance=self.instance, seq=seq, mac=mac, written_at=utcnow()
        )
        try:
            self._advance(entry, witness)
            if self.sink is not None:
                _append_line(self.sink, entry)
        except OSError as error:
            raise AnchorError(
                f"audit row seq {seq} was written, but its anchor could not be saved "
                f"({error.strerror or error}: {error.filename or self.path}); make the "
                "KripTik home (and KRIPTIK_AUDIT_ANCHOR_FILE) writable by this user"
            ) from None

    def read(self) -> AnchorReading:
        """The anchors of this database from the home file and the sink."""
        anchors: list[Anchor] = []
        unreadable: list[str] = []
        places = [str(self.path)] + ([str(self.sink)] if self.sink else [])
        try:
            held = _load(self.path).anchors.get(self.database)
            anchors += [held.model_copy(update={"source": str(self.path)})] if held else []
        except (OSError, ValueError) as error:
            unreadable.append(f"{self.path}: {error}")
        if self.sink is not None:
            try:
                anchors += self._read_sink(self.sink)
            except (OSError, ValueError) as error:
                unreadable.append(f"{self.sink}: {error}")
        return AnchorReading(anchors=anchors, places=places, unreadable=unreadable)

    def _advance(self, entry: Anchor, witness: tuple[int, str | None] | None) -> None:
        self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        with _locked(self.home / f".{ANCHOR_FILE_NAME}.lock"):
            try:
                book = _load(self.path)
            except ValueError as error:
                # Only a hand edit gets here (writes are atomic). Start again rather than
                # stop every audited call; the damaged copy is kept for a person to read.
                _log.warning("the audit anchor %s is unreadable (%s); starting it again",
                             self.path, error)  # fmt: skip
                self.path.replace(self.path.with_name(f"{ANCHOR_FILE_NAME}.unreadable"))
                book = _AnchorFile()
            held = book.anchors.get(self.database)
            if held is not None and held.seq >= entry.seq:
                return  # another process of this home anchored further already
            if held is not None and not _continues(held, witness):
                # Moving on would bless a chain that lost the anchored row; staying keeps
                # `kriptik audit verify` failing on it until a person looks.
                _log.warning("audit row seq %d is not the row anchored in %s; the anchor "
                             "stays there", held.seq, self.path)  # fmt: skip
                return
            book.anchors[self.database] = entry
            _write_atomically(self.path, book.model_dump_json(indent=1).encode())

    def _read_sink(self, sink: Path) -> list[Anchor]:
        if not sink.exists():
            return []
        found: list[Anchor] = []
        for number, line in enumerate(sink.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            try:
                entry = Anchor.model_validate_json(line)
            except ValidationError:
                raise ValueError(f"line {number} is not an anchor") from None
            if entry.database == self.database:
                found.append(entry.model_copy(update={"source": f"{sink} line {number}"}))
        return found


def _continues(held: Anchor, witness: tuple[int, str | None] | None) -> bool:
    """False when the chain just extended holds another row where `held` was anchored."""
    return witness is None or witness[0] != held.seq or witness[1] == held.mac


def _append_line(sink: Path, entry: Anchor) -> None:
    sink.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    line = (entry.model_dump_json() + "\n").encode()
    # One write() on an O_APPEND descriptor: lines from several processes never mix.
    fd = os.open(sink, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


def _load(path: Path) -> _AnchorFile:
    if not path.exists():
        return _AnchorFile()
    try:
        book = _AnchorFile.model_validate_json(path.read_bytes())
    except ValidationError:
        raise ValueError("not an audit anchor file") from None
    if book.format != _FORMAT:
        raise ValueError(f"anchor format {book.format} is not {_FORMAT}")
    return book


@contextmanager
def _locked(path: Path) -> Generator[None]:
    """Serialise read-modify-write of the anchor between processes of one home (the app and
    a CLI command), so an anchor never moves back."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _write_atomically(path: Path, data: bytes) -> None:
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with os.fdopen(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())  # the rename must never expose an empty file after a crash
    os.replace(temp, path)
