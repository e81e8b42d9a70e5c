"""Private data files whatever the umask: a fresh home (under umask 022, which would make
SQLite's files 0644) holds only 0600 files and 0700 directories, after `kriptik db
upgrade` and after `kriptik serve` has started the workflow engine; and the app refuses
to start on a data file or a home that others can read, naming the `chmod` that fixes it.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.services.kriptik import PROJECT_ROOT, cli_env, kriptik, serve
from vault.errors import ExposedDataFile
from vault.files import check_private, create_private_file, dbos_sqlite


@contextmanager
def umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def modes(home: Path) -> dict[str, int]:
    found = {".": stat.S_IMODE(home.stat().st_mode)}
    for path in home.rglob("*"):
        found[str(path.relative_to(home))] = stat.S_IMODE(path.stat().st_mode)
    return found


def assert_private(home: Path) -> None:
    for name, mode in modes(home).items():
        expected = 0o700 if (home / name).is_dir() else 0o600
        assert mode == expected, f"{name} is {mode:o}, not {expected:o}: {modes(home)}"


def test_db_upgrade_makes_a_private_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = subprocess.run(
        [sys.executable, "-m", "ui.cli", "db", "upgrade"], env=cli_env(home), cwd=PROJECT_ROOT,
        capture_output=True, text=True, timeout=60, check=False, umask=0o022,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (home / "kriptik.db").exists()
    assert_private(home)


def test_serve_and_the_workflow_engine_keep_the_home_private(tmp_path: Path) -> None:
    home = tmp_path / "home"
    engine_file = dbos_sqlite(home / "kriptik.db")
    with umask(0o022), serve(home):
        deadline = time.monotonic() + 60
        while not engine_file.exists() or engine_file.stat().st_size == 0:
            assert time.monotonic() < deadline, "the workflow engine never started"
            time.sleep(0.1)  # polling the server's own state: DBOS writes its tables
        assert_private(home)
    assert {"kriptik.db", "kriptik-dbos.sqlite", "master.key", "auth.secret"} <= set(modes(home))
    assert_private(home)


@pytest.mark.parametrize("name", ["kriptik.db", "kriptik.db-wal", "kriptik-dbos.sqlite", "."])
def test_the_app_refuses_data_that_others_can_read(tmp_path: Path, name: str) -> None:
    home = tmp_path / "home"
    env = cli_env(home)
    assert kriptik("db", "upgrade", env=env).returncode == 0
    exposed = home if name == "." else home / name
    if not exposed.exists():
        create_private_file(exposed)
    exposed.chmod(0o755 if exposed.is_dir() else 0o644)
    refused = kriptik("vault", "rotate", env=env)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    fix = f"chmod {700 if exposed.is_dir() else 600} {exposed}"
    assert "can be read by other users" in refused.stderr and fix in refused.stderr
    subprocess.run(["sh", "-c", refused.stderr.split("run `")[1].split("`")[0]], check=True)
    assert kriptik("vault", "rotate", env=env).returncode == 0  # the printed command fixed it


def test_postgres_urls_have_no_files_to_check(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    check_private(home, "postgresql+asyncpg://kriptik@db.internal/kriptik")
    (home / "master.key").write_text("x")
    (home / "master.key").chmod(0o640)
    with pytest.raises(ExposedDataFile, match=r"chmod 600 .*master\.key"):
        check_private(home, "postgresql+asyncpg://kriptik@db.internal/kriptik")
