"""The user's local `.env` for a generated project: written only when asked, mode 0600.

The generated project always carries `.env.example` (names, no values) and a
`.gitignore` that lists `.env`. Writing real values is a separate, explicit step: the
caller passes `confirm=True` after the user asked for it, and the file is created with
mode 0600 from the start (never world-readable, not even for an instant).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from pydantic import SecretStr

__all__ = ["EnvFileError", "write_local_env"]

_NAME = re.compile(r"[A-Z][A-Z0-9_]{0,63}")
# What dev-server.mjs (and dotenv) read back unchanged without quoting.
_PLAIN = re.compile(r"[A-Za-z0-9_./:@+=,-]*")


class EnvFileError(ValueError):
    """The `.env` file was not written; the message says why and what to do."""


def _line(name: str, value: SecretStr) -> str:
    if not _NAME.fullmatch(name):
        raise EnvFileError(f"{name!r} is not an environment variable name (A-Z, 0-9, _)")
    raw = value.get_secret_value()
    if not _PLAIN.fullmatch(raw):
        # Never echo the value: it is a secret.
        raise EnvFileError(f"the value of {name} has characters a .env file cannot hold plainly")
    return f"{name}={raw}\n"


def write_local_env(
    project_dir: Path,
    values: Mapping[str, SecretStr],
    *,
    confirm: bool,
    overwrite: bool = False,
) -> Path:
    """Write `project_dir/.env` with `values`, mode 0600.

    Args:
        project_dir: A generated project (it must have a `.gitignore` listing `.env`).
        values: Variable name -> value (e.g. RUNPOD_API_KEY, RUNPOD_ENDPOINT_ID).
        confirm: Must be True: the user explicitly asked for a local `.env` with values.
        overwrite: Replace an existing `.env` (otherwise that is an error).

    Returns:
        The path written.

    Raises:
        EnvFileError: Not confirmed, `.env` not git-ignored, a bad name or value, or the
            file exists and `overwrite` is False.
    """
    if not confirm:
        raise EnvFileError("a .env with secret values is written only when the user asks for it")
    ignore = project_dir / ".gitignore"
    lines = ignore.read_text().splitlines() if ignore.exists() else []
    if ".env" not in (line.strip() for line in lines):
        raise EnvFileError(f"{ignore} does not list .env, so the key could be committed")
    text = "".join(_line(name, value) for name, value in values.items())
    path = project_dir / ".env"
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        raise EnvFileError(f"{path} exists; pass overwrite=True to replace it") from None
    with os.fdopen(fd, "w") as handle:
        # os.open's mode applies only on creation: tighten a replaced file too.
        os.fchmod(handle.fileno(), 0o600)
        handle.write(text)
    return path
