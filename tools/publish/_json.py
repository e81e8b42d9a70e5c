"""Reading untrusted JSON from providers without letting `Any` spread."""

from __future__ import annotations

from typing import Any, cast

__all__ = ["as_dict", "as_list"]


def as_dict(obj: object) -> dict[str, Any]:
    """`obj` if it is a JSON object, else an empty dict."""
    return cast("dict[str, Any]", obj) if isinstance(obj, dict) else {}


def as_list(obj: object) -> list[Any]:
    """`obj` if it is a JSON array, else an empty list."""
    return cast("list[Any]", obj) if isinstance(obj, list) else []
