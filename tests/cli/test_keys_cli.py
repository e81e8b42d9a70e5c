"""The `kriptik` CLI end to end, as a user runs it: keys come from stdin, never argv."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import SecretStr

from tests.conftest import new_master_key
from tests.services.kriptik import cli_env, kriptik
from vault import Settings, Vault
from vault.migrations import HEAD

KEY = "rpa_CLIKEY_0123456789abcdefXy9Z"


@pytest.fixture
async def env(tmp_path: Path, database_url: str) -> dict[str, str]:
    master = new_master_key()
    # Set up in-process (faster); everything under test then runs through the real CLI.
    vault = await Vault.open(
        Settings(home=tmp_path / "home", database_url=database_url, master_key=SecretStr(master))
    )
    await vault.users.create("admin", SecretStr("a long enough password"), role="admin")
    await vault.close()
    return cli_env(tmp_path / "home", KRIPTIK_DATABASE_URL=database_url, KRIPTIK_MASTER_KEY=master)


def test_add_list_remove_with_the_key_on_stdin(env: dict[str, str]) -> None:
    added = kriptik("keys", "add", "runpod", "--no-validate", env=env, stdin=KEY + "\n")
    assert added.returncode == 0, added.stderr
    assert "RunPod key saved, ends in Xy9Z, not validated" in added.stdout
    listed = kriptik("keys", "list", "--json", env=env)
    [row] = json.loads(listed.stdout)
    assert row["provider"] == "runpod" and row["masked"] == "••••Xy9Z"
    table = kriptik("keys", "list", env=env).stdout
    assert "runpod" in table and "unchecked" in table
    for output in (added.stdout, added.stderr, listed.stdout, table):
        assert KEY not in output
    removed = kriptik("keys", "remove", "runpod", env=env)
    assert (
        removed.returncode == 0
        and json.loads(kriptik("keys", "list", "--json", env=env).stdout) == []
    )


def test_the_key_is_never_accepted_from_argv(env: dict[str, str]) -> None:
    result = kriptik("keys", "add", "runpod", KEY, "--no-validate", env=env, stdin="")
    assert result.returncode == 2
    assert "unrecognized arguments" in result.stderr
    assert KEY not in result.stderr.replace(f"unrecognized arguments: {KEY}", "")


@pytest.mark.parametrize(
    ("provider", "stdin", "message"),
    [
        ("runpod", "", "the key is empty"),
        ("runpod", "has space inside\n", "spaces or line breaks"),
        ("runpod", "x" * 1_000_000, "did you paste a file"),
        ("dropbox", KEY, "unknown provider 'dropbox'; choose one of: openrouter"),
    ],
)
def test_bad_input_is_refused_with_a_reason(
    env: dict[str, str], provider: str, stdin: str, message: str
) -> None:
    result = kriptik("keys", "add", provider, "--no-validate", env=env, stdin=stdin)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert json.loads(kriptik("keys", "list", "--json", env=env).stdout) == []


def test_unknown_user_gets_a_next_step(env: dict[str, str]) -> None:
    result = kriptik("keys", "list", "--user", "nobody", env=env)
    assert result.returncode == 2
    assert "kriptik users add nobody" in result.stderr


def test_rotate_and_db_upgrade(env: dict[str, str]) -> None:
    assert kriptik("keys", "add", "github", "--no-validate", env=env, stdin=KEY).returncode == 0
    rotated = kriptik("vault", "rotate", env=env)
    assert "Re-wrapped 1 key(s) under KEK version 2" in rotated.stdout, rotated.stderr
    upgraded = kriptik("db", "upgrade", env=env)
    assert f"Database is at revision {HEAD}" in upgraded.stdout, upgraded.stderr
    assert json.loads(kriptik("keys", "list", "--json", env=env).stdout)[0]["provider"] == "github"


def test_key_changes_from_the_cli_are_audit_rows_without_the_key(env: dict[str, str]) -> None:
    assert kriptik("keys", "add", "runpod", "--no-validate", env=env, stdin=KEY).returncode == 0
    assert kriptik("vault", "rotate", env=env).returncode == 0
    assert kriptik("keys", "remove", "runpod", env=env).returncode == 0
    exported = kriptik("audit", "export", "--thread", "credentials", env=env)
    assert exported.returncode == 0, exported.stderr
    rows = [json.loads(line) for line in exported.stdout.splitlines()]
    facts = [json.loads(row["args"]) for row in rows]
    assert [(row["tool"], fact["actor"], fact["tail"]) for row, fact in zip(rows, facts, strict=True)] == [
        ("credential_added", "cli", "Xy9Z"),
        ("credential_rotated", "cli", "Xy9Z"),
        ("credential_removed", "cli", "Xy9Z"),
    ]  # fmt: skip
    assert KEY not in exported.stdout
    verified = kriptik("audit", "verify", env=env)
    assert verified.returncode == 0, verified.stderr
    assert "Audit chain intact: 3 rows verified (head seq 3)." in verified.stdout


def test_a_wrong_master_key_is_a_clear_error_and_changes_nothing(env: dict[str, str]) -> None:
    assert kriptik("keys", "add", "github", "--no-validate", env=env, stdin=KEY).returncode == 0
    wrong = env | {"KRIPTIK_MASTER_KEY": new_master_key()}
    result = kriptik("vault", "rotate", env=wrong)
    assert result.returncode == 2
    assert "cannot decrypt: the master key or the record changed" in result.stderr
    assert "Traceback" not in result.stderr
    assert kriptik("vault", "rotate", env=env).returncode == 0


def test_weak_master_key_refuses_to_start(env: dict[str, str]) -> None:
    result = kriptik("keys", "list", env=env | {"KRIPTIK_MASTER_KEY": "changeme"})
    assert result.returncode == 2
    assert "kriptik vault new-key" in result.stderr


def test_users_add_hashes_the_password(env: dict[str, str], database_url: str) -> None:
    result = kriptik("users", "add", "bob", env=env, stdin="bobs secret password\n")
    assert result.returncode == 0 and "Created user bob (user)" in result.stdout
    short = kriptik("users", "add", "carol", env=env, stdin="short\n")
    assert short.returncode == 2 and "at least 10 characters" in short.stderr
    if database_url.startswith("sqlite"):
        database = Path(database_url.split("///", 1)[1])
        assert b"bobs secret password" not in database.read_bytes()
        assert b"$argon2id$" in database.read_bytes()
