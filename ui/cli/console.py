"""Terminal output for the CLI. Everything printed passes through the redactor."""

from __future__ import annotations

import asyncio
import getpass
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from pydantic import SecretStr

from vault import VaultError, redact

T = TypeVar("T")


def say(text: str = "") -> None:
    sys.stdout.write(redact(text) + "\n")
    sys.stdout.flush()


def warn(text: str) -> None:
    sys.stderr.write(redact(text) + "\n")
    sys.stderr.flush()


def read_secret(prompt: str) -> SecretStr:
    """A secret from stdin when piped, else from a hidden prompt: never from argv, where
    it would show in `ps` and shell history."""
    if sys.stdin.isatty():
        return SecretStr(getpass.getpass(prompt))
    text = sys.stdin.read()
    # Drop the one line ending that `echo` or a heredoc adds; anything else is kept so the
    # vault's checks can refuse it with a reason.
    if text.endswith("\r\n"):
        text = text[:-2]
    elif text.endswith("\n"):
        text = text[:-1]
    return SecretStr(text)


def run_command(body: Callable[[], Coroutine[Any, Any, T]]) -> T | int:
    """Run an async command body; a VaultError becomes a clean message and exit code 2."""
    try:
        return asyncio.run(body())
    except VaultError as error:
        warn(f"error: {error}")
        return 2
