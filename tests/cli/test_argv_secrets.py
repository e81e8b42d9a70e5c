"""A key typed on the command line, where it does not belong, is never printed back:
argparse's own errors hide it (`ui.cli.parser`), and so do our messages (the key is
registered with the redactor); the errors still say what went wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.services.kriptik import cli_env, kriptik

KEY = "rpa_" + "Zx9Qw3Er5Ty7Ui1Op2As4Df6Gh8Jk0Lz" * 2
MASTER = "kM3nB7vC1xZ9lK5jH2gF8dS4aQ6wE0rT-yU_iO3pA1s="


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["keys", "add", "runpod", KEY], "unrecognized arguments: <hidden>"),
        (["keys", "add", "runpod", f"--key={KEY}"], "unrecognized arguments: <hidden>"),
        (["keys", "add", KEY], "unknown provider '[REDACTED]'"),
        (["keys", KEY], "invalid choice: '<hidden>' (choose from 'add', 'list', 'remove'"),
        (["serve", "--port", MASTER], "argument --port: invalid int value: '<hidden>'"),
        (["vault", "new-key", MASTER], "unrecognized arguments: <hidden>"),
    ],
)
def test_no_error_echoes_an_argument_that_could_be_a_key(
    tmp_path: Path, argv: list[str], says: str
) -> None:
    result = kriptik(*argv, env=cli_env(tmp_path / "home"), stdin="")
    assert result.returncode == 2
    assert says in result.stderr, result.stderr
    for secret in (KEY, MASTER):
        assert secret not in result.stdout + result.stderr
        assert secret[4:20] not in result.stdout + result.stderr


def test_command_names_still_show_in_errors(tmp_path: Path) -> None:
    result = kriptik("sevre", env=cli_env(tmp_path / "home"))
    assert result.returncode == 2
    assert "invalid choice: 'sevre' (choose from 'serve'" in result.stderr
