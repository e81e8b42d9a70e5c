"""One composition root (`ui.root`) builds the live services and hands them down: no module
offers a global `current()` lookup, and no front-end module wires the services by hand.
Checked on the source."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The live services only the composition root builds (the entry module may name them too).
WIRED: frozenset[str] = frozenset(
    {"LiveServices", "LivePublishing", "PipelineServices", "WebAppTeardown"}
)
MAY_WIRE: frozenset[str] = frozenset({"ui/root.py", "ui/web/app.py"})


def _modules(*packages: str, skip: tuple[str, ...] = ()) -> Iterator[tuple[str, ast.Module]]:
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            name = path.relative_to(ROOT).as_posix()
            if "migrations" in path.parts or name.startswith(skip):
                continue
            yield name, ast.parse(path.read_text(encoding="utf-8"), filename=name)


def _called_name(call: ast.Call) -> str | None:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def test_no_module_offers_a_global_current_lookup() -> None:
    offenders = [
        f"{name}:{node.lineno}"
        for name, tree in _modules("agent", "tools", "ui", skip=("tools/simulator/",))
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == "current"
    ]
    assert offenders == [], f"services are handed down, never looked up: {offenders}"


def test_only_the_composition_root_wires_the_live_services() -> None:
    offenders = [
        f"{name}:{node.lineno} builds {called}"
        for name, tree in _modules("ui")
        if name not in MAY_WIRE
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and (called := _called_name(node)) in WIRED
    ]
    assert offenders == [], f"build them in ui/root.py and hand them down: {offenders}"


def test_the_check_sees_a_hand_wired_service() -> None:
    """The AST check above finds both spellings of a constructor call."""
    tree = ast.parse("LiveServices(v, s, h)\nservices.PipelineServices(settings=s)\n")
    calls = [_called_name(n) for n in ast.walk(tree) if isinstance(n, ast.Call)]
    assert {"LiveServices", "PipelineServices"} <= {c for c in calls if c in WIRED}
