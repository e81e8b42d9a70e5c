"""The Hugging Face Hub's repo-id rule, in one place: the Hub client checks ids before they
become URL paths, and sizing checks what a user typed before it asks the Hub anything.

Kept free of `huggingface_hub` so that sizing and the CLI import it for nothing.
"""

from __future__ import annotations

import re
from typing import Final

# The Hub's own rule (huggingface_hub's `validate_repo_id`): an optional owner, then a name;
# each of ASCII letters, digits, "_", "." and "-", 1 to 96 long, starting and ending with a
# letter, digit or "_" (so never "." or ".."); no "--" or ".." anywhere, no ".git" suffix.
_SEGMENT: Final = r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,94}[A-Za-z0-9_])?"
_OPTIONAL_OWNER: Final = re.compile(rf"(?:{_SEGMENT}/)?{_SEGMENT}")
_WITH_OWNER: Final = re.compile(rf"{_SEGMENT}/{_SEGMENT}")


def is_hub_repo_id(repo_id: str, *, owner_required: bool = False) -> bool:
    """Whether `repo_id` is one the Hub would accept (`fullmatch`: no trailing newline)."""
    pattern = _WITH_OWNER if owner_required else _OPTIONAL_OWNER
    return (
        pattern.fullmatch(repo_id) is not None
        and ".." not in repo_id
        and "--" not in repo_id
        and not repo_id.endswith(".git")
    )
