"""Private data files: created 0600 (the home directory 0700) whatever the umask, and
refused at start-up when others can read them.

SQLite creates a database file as 0644 minus the umask, so a file it creates under the
usual umask (022) is readable by every local user. We create each database file
ourselves, 0600, before SQLite opens it; SQLite then gives its `-wal`, `-shm` and
`-journal` files the database file's own mode, and `tighten` makes sure of that after
each connection. The same holds for the workflow engine's (DBOS) SQLite file.
"""

from __future__ import annotations

import os
import shlex
import stat
from pathlib import Path

from sqlalchemy.engine import make_url

from vault.errors import ExposedDataFile

__all__ = [
    "check_private",
    "create_private_file",
    "data_files",
    "dbos_sqlite",
    "private_dir",
    "sqlite_file",
    "tighten",
]

# SQLite's companions of a database file, which hold its pages too.
_COMPANIONS = ("-wal", "-shm", "-journal")
# The other secrets KripTik keeps in its home (written 0600 by vault.keyring and ui.cli.serve).
_HOME_SECRETS = ("master.key", "auth.secret")


def private_dir(path: Path) -> None:
    """Make `path` (and missing parents) a directory only its owner can open."""
    if path.is_dir():
        return
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    # mkdir's mode is masked by the umask, which can only remove bits; set it exactly.
    path.chmod(0o700)


def create_private_file(path: Path) -> None:
    """Create `path` empty and 0600 if it does not exist; an existing file is left as it
    is (`check_private` refuses it if others can read it)."""
    private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(fd)


def tighten(database: Path) -> None:
    """Take group and other bits off `database`'s SQLite companions that exist now (the
    database file itself is left to `check_private`, which names the fix)."""
    for path in _family(database):
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
            if mode & 0o077:
                path.chmod(mode & 0o700)
        except FileNotFoundError:
            continue


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite database URL; None for another backend or an in-memory one."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def dbos_sqlite(database: Path) -> Path:
    """The workflow engine's SQLite file, beside the app's: `kriptik-dbos.sqlite` for
    `kriptik.db`."""
    return database.with_name(database.stem + "-dbos.sqlite")


def _family(database: Path) -> list[Path]:
    return [database.with_name(database.name + suffix) for suffix in _COMPANIONS]


def data_files(home: Path, database_url: str) -> list[Path]:
    """Every file KripTik keeps secret that exists now: the home's key files, and the
    app's and the workflow engine's SQLite files with their companions."""
    candidates = [home / name for name in _HOME_SECRETS]
    if (database := sqlite_file(database_url)) is not None:
        for db in (database, dbos_sqlite(database)):
            candidates += [db, *_family(db)]
    return [path for path in candidates if path.exists()]


def _exposed(path: Path) -> bool:
    return bool(stat.S_IMODE(path.stat().st_mode) & 0o077)


def check_private(home: Path, database_url: str) -> None:
    """Refuse (ExposedDataFile) when the home directory or a data file is open to group or
    others, naming the command that fixes it."""
    files = [path for path in data_files(home, database_url) if _exposed(path)]
    home_open = home.is_dir() and _exposed(home)
    if not files and not home_open:
        return
    commands = [f"chmod 700 {shlex.quote(str(home))}"] if home_open else []
    if files:
        commands.append("chmod 600 " + " ".join(shlex.quote(str(p)) for p in files))
    named = ", ".join(str(p) for p in ([home] if home_open else []) + files)
    raise ExposedDataFile(
        f"{named} can be read by other users of this machine; run `{' && '.join(commands)}`"
        " and start again"
    )
