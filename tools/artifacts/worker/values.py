"""Every value that reaches a generated file, a shell command or a RunPod request, checked
or escaped for the place it goes.

Two strategies, chosen by destination:
- **Dockerfiles and resource names take only whitelisted characters.** A Dockerfile has
  its own quoting and `$VAR` expansion, and the build runs shell lines; escaping for both
  at once is fragile, so we refuse instead (`UnsafeValue`, with a sentence the agent or
  the user can act on). Repo ids, revisions, dtypes and image references never need more.
- **Free text is escaped for its target.** `py_literal` for Python source (a `repr` of a
  plain value), `json_text` for JSON files, `shell_word` for the shell commands we print.

Nothing here reaches GraphQL: KripTik speaks RunPod's REST API v2, whose JSON bodies are
encoded by httpx.
"""

from __future__ import annotations

import json
import re
import shlex
from typing import Final

from tools.artifacts._checks import HF_REPO_ID, checked

__all__ = [
    "UnsafeValue",
    "check_dockerfile_value",
    "check_env_key",
    "check_env_value",
    "check_image_ref",
    "check_repo_id",
    "check_revision",
    "check_secret_name",
    "json_text",
    "py_literal",
    "resource_name",
    "shell_word",
    "slug",
]

# Branches and tags may hold "/" (refs/pr/1); a pinned commit is 40 hex digits.
_REVISION: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_./-]{0,127}")
_DOCKERFILE_VALUE: Final = re.compile(r"[A-Za-z0-9_./:@+=,-]{1,300}")
_ENV_KEY: Final = re.compile(r"[A-Z_][A-Z0-9_]{0,127}")
_SECRET_NAME: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
# The distribution spec's grammar, reduced: host[:port]/path(/path)*:tag, lowercase path.
_COMPONENT: Final = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_IMAGE_REF: Final = re.compile(
    rf"(?:(?P<host>[A-Za-z0-9.-]+(?::[0-9]{{1,5}})?)/)?"
    rf"(?P<path>{_COMPONENT}(?:/{_COMPONENT})*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
)
_SLUG_CUT: Final = re.compile(r"[^a-z0-9]+")


class UnsafeValue(ValueError):
    """A value that cannot go where it was meant to; the message says what is allowed."""


def check_repo_id(value: str) -> str:
    """A Hugging Face repo id (`owner/name`), or `UnsafeValue`."""
    return checked(
        value,
        HF_REPO_ID,
        "is not a Hugging Face repo id: use owner/name with letters, digits, "
        "'-', '_' or '.', e.g. stabilityai/sdxl-turbo",
        refused=".." in value,
        error=UnsafeValue,
    )


def check_revision(value: str) -> str:
    """A branch, tag or commit of a repo, or `UnsafeValue`."""
    return checked(
        value,
        _REVISION,
        "is not a revision: use a commit sha, a branch or a tag made of "
        "letters, digits, '-', '_', '.' and '/'",
        refused=".." in value or value.endswith("/"),
        error=UnsafeValue,
    )


def check_dockerfile_value(value: object) -> str:
    """`value` as text if every character is safe in a Dockerfile and a shell, else
    `UnsafeValue`. No quote, `$`, backtick, backslash, space or line break gets through."""
    return checked(
        str(value),
        _DOCKERFILE_VALUE,
        "cannot go into a Dockerfile: only letters, digits and . _ / : @ + = , - "
        "are allowed there (1-300 characters)",
        error=UnsafeValue,
    )


def check_env_key(value: str) -> str:
    """An environment variable name (`MAX_MODEL_LEN`), or `UnsafeValue`."""
    return checked(
        value, _ENV_KEY, "is not an environment variable name (A-Z, 0-9, _)", error=UnsafeValue
    )


def check_secret_name(value: str) -> str:
    """The name of a RunPod secret (`hf_token`), or `UnsafeValue`."""
    return checked(
        value,
        _SECRET_NAME,
        "is not a RunPod secret name (letters, digits, '_', '-')",
        error=UnsafeValue,
    )


def check_env_value(value: str) -> str:
    """A template environment value: printable, one line, at most 4096 characters."""
    if len(value) > 4096 or not value.isprintable():
        raise UnsafeValue(
            "an environment value must be one line of printable text, at most 4096 characters"
        )
    return value


def check_image_ref(value: str) -> str:
    """A container image reference (`ghcr.io/me/worker:tag`), or `UnsafeValue`."""
    return checked(
        value,
        _IMAGE_REF,
        "is not an image reference: use registry/namespace/name:tag in "
        "lowercase letters, digits, '.', '_' and '-'",
        refused=len(value) > 255,
        error=UnsafeValue,
    )


def slug(text: str, *, limit: int = 40) -> str:
    """Lowercase letters, digits and single dashes: safe in image names and resource names."""
    cut = _SLUG_CUT.sub("-", text.lower()).strip("-")[:limit].strip("-")
    return cut or "model"


def resource_name(deployment_id: str, repo_id: str) -> str:
    """The RunPod name of a deployment's template and endpoint: it carries the deployment
    id, so a re-run finds what an earlier run created instead of creating it again."""
    return f"kriptik-{slug(repo_id, limit=60)}-{slug(deployment_id, limit=36)}"


def py_literal(value: str | int | float | bool | None) -> str:
    """Python source for a plain value. `repr` of these types is always a literal that
    evaluates back to the same value, whatever quotes, newlines or unicode it holds."""
    if not isinstance(value, str | int | float | bool) and value is not None:
        raise TypeError(f"py_literal takes plain values, not {type(value).__name__}")
    return repr(value)


def json_text(value: object) -> str:
    """JSON for a generated .json file (ASCII-only, so no encoding can change it)."""
    return json.dumps(value, ensure_ascii=True, indent=2, sort_keys=True)


def shell_word(value: str) -> str:
    """One POSIX shell word, for the commands we print for users to run themselves."""
    return shlex.quote(value)
