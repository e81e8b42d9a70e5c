"""Terminal output for the CLI. Everything printed passes through the redactor."""

from __future__ import annotations

import asyncio
import getpass
import json
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import SecretStr

from vault import VaultError, redact

if TYPE_CHECKING:
    from vault import Vault

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


def run_on_vault(body: Callable[[Vault], Coroutine[Any, Any, T]]) -> T | int:
    """Run an async command body on the vault, opened for it (the process's settings) and
    closed after it; a VaultError becomes a clean message and exit code 2."""

    async def on_vault() -> T:
        from ui.root import opened_vault

        async with opened_vault() as vault:
            return await body(vault)

    return run_command(on_vault)


def show_listing(
    items: Sequence[T], *, as_json: bool, row: Callable[[T], dict[str, Any]],
    line: Callable[[T], str], empty: str, header: str | None = None,
) -> int:  # fmt: skip
    """What a `list` command prints: the rows as JSON when asked; else `empty` when there
    is nothing, or a line per item under `header`."""
    if as_json:
        say(json.dumps([row(item) for item in items], indent=2))
    elif not items:
        say(empty)
    else:
        if header is not None:
            say(header)
        for item in items:
            say(line(item))
    return 0
