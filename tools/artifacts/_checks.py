"""The one way a value is checked before it reaches a generated artifact: a whole-string
pattern, any extra refusal the caller computed, and an error that quotes the value."""

from __future__ import annotations

import re
from typing import Final

__all__ = ["HF_REPO_ID", "checked"]

# Hugging Face repo ids: "owner/name" from letters, digits, "-", "_" and "." (callers also
# refuse ".."): the worker's Dockerfile and the generated clients accept the same ids.
HF_REPO_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}")


def checked(
    value: str,
    pattern: re.Pattern[str],
    problem: str,
    *,
    refused: bool = False,
    error: type[ValueError] = ValueError,
) -> str:
    """`value` if `pattern` matches all of it and the caller has not `refused` it; else
    `error` with the sentence "'<value>' <problem>".

    `refused` is decided by the caller before the pattern runs (a length cap, "..") so a
    cheap refusal spares a long value the regex.
    """
    if refused or not pattern.fullmatch(value):
        raise error(f"{value!r} {problem}")
    return value
