"""The layering in DESIGN.md, checked on the source: `ui → agent → tools → vault`, and
ARCHITECTURE.md names every module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = {"vault": 0, "tools": 1, "agent": 2, "ui": 3}
MODULES = sorted(
    p for pkg in LAYERS for p in (ROOT / pkg).rglob("*.py") if "migrations" not in p.parts
)


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_flow_downward_only(path: Path) -> None:
    own = LAYERS[path.relative_to(ROOT).parts[0]]
    for name in _imports(path):
        top = name.split(".")[0]
        if top in LAYERS:
            assert LAYERS[top] <= own, f"{path.relative_to(ROOT)} imports {name} (a higher layer)"
    if path.relative_to(ROOT).parts[:2] == ("tools", "clients"):
        assert not any(n.split(".")[0] == "pydantic_ai" for n in _imports(path))
    if path.relative_to(ROOT).parts[0] != "ui":
        assert not any(n.split(".")[0] == "chainlit" for n in _imports(path))


def test_architecture_names_every_module() -> None:
    text = (ROOT / "ARCHITECTURE.md").read_text()
    missing = [
        str(p.relative_to(ROOT))
        for p in MODULES
        if p.name != "__init__.py" and f"`{p.relative_to(ROOT)}`" not in text
    ]
    assert not missing, f"add these to ARCHITECTURE.md: {missing}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_only_settings_reads_the_environment(path: Path) -> None:
    if path.relative_to(ROOT) == Path("vault/settings.py"):
        return
    # Static files shipped into worker images run there, configured by the image's env
    # (COMFY_HOST, BUCKET_ENDPOINT_URL...), never inside KripTik with its Settings.
    if path.relative_to(ROOT).is_relative_to("tools/artifacts/worker/templates"):
        return
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            target = ast.unparse(node.func)
            assert target not in {"os.getenv", "os.environ.get", "os.environ.copy"}, target
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
            assert ast.unparse(node.value) != "os.environ", ast.unparse(node)
