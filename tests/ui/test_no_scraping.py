"""The UI renders typed events: checked on the source, no `ui/` module matches a tool by
its name or reads a tool's text summary as data (DESIGN.md, "Events")."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODULES = sorted((ROOT / "ui").rglob("*.py"))
_PARSERS = {"loads", "model_validate_json", "validate_json"}


def _string_constants(tree: ast.Module) -> set[str]:
    """Module-level names bound to a string literal (`_DEPLOY: Final = "..."`)."""
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign):
            targets, value = [node.target], node.value
        else:
            continue
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return names


def _is_text(node: ast.expr, constants: set[str]) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.Name):
        return node.id in constants
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return any(_is_text(e, constants) for e in node.elts)
    return False


def _tool_name_matches(tree: ast.Module) -> list[str]:
    """Every comparison of a `.tool` attribute with a string (a literal or a constant)."""
    constants = _string_constants(tree)
    found: list[str] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare):
            continue
        operands = [node.left, *node.comparators]
        tools = [o for o in operands if isinstance(o, ast.Attribute) and o.attr == "tool"]
        if tools and any(_is_text(o, constants) for o in operands):
            found += [ast.unparse(t) for t in tools]
    return found


def _called(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return node.func.id if isinstance(node.func, ast.Name) else None


def _reads(call: ast.Call) -> set[str]:
    """The names and attributes the call's arguments read."""
    found: set[str] = set()
    for node in (n for arg in call.args for n in ast.walk(arg)):
        if isinstance(node, ast.Name):
            found.add(node.id)
        elif isinstance(node, ast.Attribute):
            found.add("." + node.attr)
    return found


def _parsers(trees: list[ast.Module]) -> set[str]:
    """The JSON parsers, and every function that JSON-parses one of its own arguments."""
    found = set(_PARSERS)
    for node in (n for tree in trees for n in ast.walk(tree)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            params = {a.arg for a in node.args.args + node.args.kwonlyargs}
            calls = [c for c in ast.walk(node) if isinstance(c, ast.Call)]
            if any(_called(c) in _PARSERS and _reads(c) & params for c in calls):
                found.add(node.name)
    return found


def _summary_parses(tree: ast.Module, parsers: set[str]) -> list[str]:
    """Every call that parses a `.summary` (a tool's text) as data."""
    return [
        ast.unparse(node)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and _called(node) in parsers and ".summary" in _reads(node)
    ]


TREES = {path: ast.parse(path.read_text()) for path in MODULES}
PARSERS = _parsers(list(TREES.values()))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_ui_module_matches_a_tool_by_name(path: Path) -> None:
    where = str(path.relative_to(ROOT))
    matches = _tool_name_matches(ast.parse(path.read_text()))
    assert not matches, f"{where} decides by tool name ({matches}): render a typed event instead"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_ui_module_parses_a_tool_summary(path: Path) -> None:
    where = str(path.relative_to(ROOT))
    parses = _summary_parses(TREES[path], PARSERS)
    assert not parses, f"{where} parses a tool's text ({parses}): carry the typed result"


def test_the_checks_find_the_old_scraping() -> None:
    """What `ui.web.turns` and `ui.web.charts` did before the typed events: each check sees it."""
    old = ast.parse(
        '_DEPLOY = "create_runpod_endpoint"\n'
        "def parse_summary(text):\n"
        '    start, end = text.find("{"), text.rfind("}")\n'
        "    return VramSummary.model_validate(json.loads(text[start : end + 1]))\n"
        "def after(event):\n"
        '    if event.tool == "estimate_vram":\n'
        "        return charts.parse_summary(event.summary)\n"
        "    if event.tool in (_DEPLOY,) or event.tool != _DEPLOY:\n"
        "        return VramSummary.model_validate_json(event.summary)\n"
    )
    assert _tool_name_matches(old) == ["event.tool", "event.tool", "event.tool"]
    assert _summary_parses(old, _parsers([old])) == [
        "charts.parse_summary(event.summary)",
        "VramSummary.model_validate_json(event.summary)",
    ]
