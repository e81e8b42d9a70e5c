"""Chainlit without Literal AI's client, and httpx without its command line, at start:
what the app never uses loads on first use instead.

Chainlit imports `literalai` for four generation classes and two step-type aliases, and
`literalai/__init__.py` imports Literal AI's API client, which imports Traceloop's SDK
(OpenTelemetry's SDK and exporters, grpc, jinja2, the prompt registry). KripTik uses none
of them (its data layer is its own, its traces are `tools.tracing`), and they were about
1 s of every start and 25 MiB of every process.

`defer_literal_client()` puts two half-loaded packages in `sys.modules` before Chainlit is
imported: `literalai` with the generation classes only, and `traceloop.sdk` with a
stand-in for its `Traceloop` class. Both keep their real `__path__`, so every submodule
imports as usual, and both complete themselves on first use: reading any other name of
either package (`literalai.LiteralClient`, say, as Chainlit's Literal AI data layer does),
or any attribute of the stand-in, runs the package's real `__init__` into the same module
object. Nothing changes for code that uses them; only what it costs moves to that code.

`defer_httpx_cli()` does the same for `httpx._main`, the `httpx` console command, which
`httpx/__init__.py` imports (with rich, pygments and click) whenever they are installed:
0.2 s and 3 MiB. Both run from `ui.web`'s package init and, earlier, from `kriptik serve`
(which imports httpx before the web app).
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType
from typing import Any

__all__ = ["defer_httpx_cli", "defer_literal_client", "defer_unused_imports"]

_GENERATIONS = ("BaseGeneration", "ChatGeneration", "CompletionGeneration", "GenerationMessage")


def defer_unused_imports() -> None:
    """Both deferrals; call before anything imports httpx or chainlit."""
    defer_httpx_cli()
    defer_literal_client()


def defer_httpx_cli() -> None:
    """A stand-in for `httpx._main` whose `main` loads the real one, unless httpx is
    loaded already."""
    if "httpx" in sys.modules or "httpx._main" in sys.modules:
        return
    stand_in = ModuleType("httpx._main")

    def main(*args: Any, **kwargs: Any) -> Any:
        del sys.modules["httpx._main"]
        return importlib.import_module("httpx._main").main(*args, **kwargs)

    stand_in.main = main  # type: ignore[attr-defined] - what httpx imports from it
    sys.modules["httpx._main"] = stand_in


def defer_literal_client() -> None:
    """Install the half-loaded packages, unless Chainlit or either package is loaded
    already (then there is nothing to save, and nothing is changed)."""
    if any(name in sys.modules for name in ("chainlit", "literalai", "traceloop.sdk")):
        return
    sdk = _half_loaded("traceloop.sdk")
    literal = _half_loaded("literalai")
    if sdk is None or literal is None:
        return  # not installed as expected: Chainlit imports them the usual way
    setattr(sdk, "Traceloop", _stand_in(sdk))  # noqa: B010 - a name the module lacks yet
    sys.modules["traceloop.sdk"] = sdk
    sys.modules["literalai"] = literal
    try:
        generation = importlib.import_module("literalai.observability.generation")
    except Exception:
        _undo()
        return
    for name in _GENERATIONS:
        setattr(literal, name, getattr(generation, name))


def _half_loaded(name: str) -> ModuleType | None:
    """The package's module object, its path set and its `__init__` not run; reading a
    name it lacks runs the `__init__` first."""
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None or spec.submodule_search_locations is None:
        return None
    module = importlib.util.module_from_spec(spec)

    def complete(attribute: str) -> Any:
        _complete(module)
        try:
            return module.__dict__[attribute]
        except KeyError:
            raise AttributeError(f"module {name!r} has no attribute {attribute!r}") from None

    module.__getattr__ = complete  # type: ignore[method-assign] - PEP 562's module hook
    return module


def _complete(module: ModuleType) -> None:
    """Run the package's real `__init__` into its module object, once."""
    if module.__dict__.pop("__getattr__", None) is None:
        return  # completed already (or being completed: the `__init__` reads its own names)
    spec = module.__spec__
    assert spec is not None and spec.loader is not None  # noqa: S101 - set by _half_loaded
    spec.loader.exec_module(module)


def _stand_in(sdk: ModuleType) -> type:
    """A class whose every attribute is the real `Traceloop`'s, loading the SDK first."""

    class _Deferred(type):
        def __getattr__(cls, attribute: str) -> Any:
            _complete(sdk)
            return getattr(sdk.__dict__["Traceloop"], attribute)

    return _Deferred("Traceloop", (), {"__module__": "traceloop.sdk"})


def _undo() -> None:
    for name in [n for n in sys.modules if n == "literalai" or n.startswith("literalai.")]:
        del sys.modules[name]
    sys.modules.pop("traceloop.sdk", None)
