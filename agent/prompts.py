"""Prompts live in `prompts/<name>.md` and are rendered by name. A missing variable is an
error, never an empty string, so a prompt cannot silently lose its context."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template

PROMPTS_DIR = Path(__file__).resolve().parent.parent / "prompts"


@lru_cache(maxsize=1)
def _environment() -> Environment:
    # Prompts are Markdown for an LLM, not HTML: autoescape would mangle them.
    return Environment(
        loader=FileSystemLoader(PROMPTS_DIR),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # noqa: S701
    )


def _template(name: str) -> Template:
    return _environment().get_template(f"{name}.md")


def render_prompt(name: str, /, **variables: object) -> str:
    """Render `prompts/<name>.md`; raises `jinja2.UndefinedError` on a missing variable."""
    return _template(name).render(**variables)
