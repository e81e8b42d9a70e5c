"""Lazy package exports (PEP 562): a package's public names, imported on first use."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping

__all__ = ["lazy_exports"]


def lazy_exports(package: str, home: Mapping[str, str]) -> Callable[[str], object]:
    """The module `__getattr__` for `package`: `home` maps each lazily exported name to the
    submodule (relative to `package`) that defines it. A name is imported on first use and
    then kept on the package, so later reads skip this."""

    def __getattr__(name: str) -> object:
        if (module := home.get(name)) is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
