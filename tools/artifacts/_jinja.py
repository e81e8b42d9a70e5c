"""The jinja2 environment every generated artifact renders with: a missing variable is an
error, and each template's final newline is kept.

jinja2 is imported when an environment is first built, not with the artifact modules: the
web app imports them (through the deployment pipeline) at start, and renders only on a
deployment."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jinja2 import Environment

__all__ = ["template_environment"]


def template_environment(
    templates: Path,
    *,
    autoescape: bool | Callable[[str | None], bool],
    trim: bool = False,
) -> Environment:
    """An environment over the folder `templates`.

    Args:
        templates: The folder the templates are read from.
        autoescape: HTML escaping (False for source code: each language encodes values its
            own way), or jinja2's `select_autoescape` choice per template name.
        trim: Drop the newline after a block tag and the blanks before it (Dockerfiles).
    """
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    return Environment(
        loader=FileSystemLoader(templates),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=trim,
        lstrip_blocks=trim,
        autoescape=autoescape,  # noqa: S701 - each caller chooses, source code escapes per language
    )
