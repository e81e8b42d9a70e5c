"""The rooms of the house and the arrows between them, checked on the source.

Every import counts: at the top of a module, inside a function, or under `TYPE_CHECKING`
(a type-only import is still an arrow a reader has to follow). A module may import its own
room and the rooms below it, never one above; and no two modules may reach each other
through any chain of imports (a package's `__init__` re-exporting its own modules aside).
"""

from __future__ import annotations

import ast
from functools import cached_property
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("vault", "tools", "agent", "ui")

# Lower numbers sit lower in the house. The first prefix that matches a module is its room.
ROOMS: tuple[tuple[str, int], ...] = (
    ("vault", 0),
    ("tools.simulator", 0),  # the loopback providers: imports nothing of ours
    ("tools.clients", 1),
    ("tools.sizing", 1),  # arithmetic over metadata: fetching lives in the clients
    ("tools.comfy", 1),  # ComfyUI workflows: parse, analyse, size (fetching: the clients)
    ("tools.artifacts", 2),
    ("tools.cards", 2),
    ("tools.targets", 2),  # deploy targets beside RunPod (their clients, lifecycle, prices)
    ("tools.connect", 2),  # connected accounts: token use and scope checks, under the
    # pipeline and the publishers (both take their tokens through it)
    ("tools.pipeline", 3),
    ("tools.publish", 3),
    ("tools.metrics", 1),  # the process's Prometheus metrics: counted from the pipeline up
    ("tools.tracing", 1),  # the process's OpenTelemetry traces: spans from the pipeline up
    ("tools", 4),  # the agent's tools and the services behind them
    ("agent", 5),
    ("ui.cli", 7),  # the console script: may start the web app (`kriptik serve`)
    ("ui.web", 6),
    ("ui", 6),  # `ui.root`: the composition root shared by both front ends
)

# Rooms that must not see each other, whatever their floors.
WALLS: tuple[tuple[str, str], ...] = (
    ("tools.pipeline", "tools.publish"),  # the GPU pipeline never imports the web publishers
    ("tools.sizing", "tools.clients"),  # sizing takes metadata; the Hub client fetches it
    ("tools.comfy", "tools.clients"),  # a workflow's analysis takes what the clients fetched
    ("ui.web", "ui.cli"),  # the chat app never reaches into the console script
)

# Third-party libraries that belong to some rooms only: pydantic-ai to the agent and the
# tools it calls (not the services below them), chainlit to the UI.
OWNED_LIBRARIES: dict[str, tuple[str, ...]] = {
    "pydantic_ai": ("agent", "tools"),
    "chainlit": ("ui.web",),
}


def within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def room(name: str) -> tuple[str, int]:
    return next((prefix, rank) for prefix, rank in ROOMS if within(name, prefix))


class Tree:
    """Modules by dotted name, and the arrows between them."""

    def __init__(self, root: Path, packages: tuple[str, ...]) -> None:
        self.paths = {
            self._name(root, p): p
            for pkg in packages
            for p in (root / pkg).rglob("*.py")
            if "migrations" not in p.parts
        }

    @staticmethod
    def _name(root: Path, path: Path) -> str:
        parts = path.relative_to(root).with_suffix("").parts
        return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)

    def is_package(self, module: str) -> bool:
        return self.paths[module].name == "__init__.py"

    def _absolute(self, module: str, node: ast.ImportFrom) -> str:
        if node.level == 0:
            return node.module or ""
        base = module.split(".") if self.is_package(module) else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        return ".".join([*base, node.module] if node.module else base)

    @cached_property
    def imported(self) -> dict[str, frozenset[str]]:
        """Every dotted name each module imports, `from x import submodule` included."""
        found: dict[str, frozenset[str]] = {}
        for module, path in self.paths.items():
            names: set[str] = set()
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    names |= {alias.name for alias in node.names}
                elif isinstance(node, ast.ImportFrom):
                    source = self._absolute(module, node)
                    names |= {source, *(f"{source}.{alias.name}" for alias in node.names)}
            found[module] = frozenset(names)
        return found

    def _ours(self, name: str) -> str | None:
        while name and name not in self.paths:
            name = name.rpartition(".")[0]
        return name or None

    @cached_property
    def edges(self) -> dict[str, frozenset[str]]:
        return {
            module: frozenset(t for n in names if (t := self._ours(n)) is not None and t != module)
            for module, names in self.imported.items()
        }

    def _hops(self, here: str) -> set[str]:
        # A package's `__init__` naming its own modules is a re-export, not a dependency.
        return {t for t in self.edges[here] if not (self.is_package(here) and within(t, here))}

    def reaches(self, start: str) -> set[str]:
        seen: set[str] = set()
        todo = [start]
        while todo:
            for there in self._hops(todo.pop()) - seen:
                seen.add(there)
                todo.append(there)
        return seen

    def loops_through(self, module: str) -> list[str]:
        """The modules `module` imports that lead back to it by some chain."""
        return sorted(
            other
            for other in self._hops(module)
            if not self.is_package(other) and module in self.reaches(other)
        )


TREE = Tree(ROOT, PACKAGES)


@pytest.mark.parametrize("module", sorted(TREE.paths))
def test_no_arrow_runs_up_or_through_a_wall(module: str) -> None:
    _, rank = room(module)
    for target in sorted(TREE.edges[module]):
        assert room(target)[1] <= rank, f"{module} imports {target}, a room above its own"
        for left, right in WALLS:
            assert not (within(module, left) and within(target, right)), (
                f"{module} imports {target}: {left} must not import {right}"
            )


@pytest.mark.parametrize("module", sorted(TREE.paths))
def test_libraries_stay_in_their_rooms(module: str) -> None:
    tops = {name.split(".")[0] for name in TREE.imported[module]}
    for library, rooms in OWNED_LIBRARIES.items():
        if library in tops:
            assert room(module)[0] in rooms, f"{module} imports {library}"


@pytest.mark.parametrize("module", sorted(m for m in TREE.paths if not TREE.is_package(m)))
def test_no_import_loops(module: str) -> None:
    assert not TREE.loops_through(module), (
        f"{module} and {TREE.loops_through(module)} import each other (through a chain)"
    )


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("agent.run", "agent.turn"),
        ("tools.pipeline.images", "tools.pipeline.services"),
        ("tools.publish.models", "tools.publish.summary"),
        ("vault.audit", "vault.audit_verify"),
    ],
)
def test_the_loops_named_in_issue_16_stay_gone(a: str, b: str) -> None:
    assert not (b in TREE.edges.get(a, ()) and a in TREE.edges.get(b, ())), (a, b)


def test_no_product_module_imports_tests() -> None:
    offenders = [
        m for m, names in TREE.imported.items() if any(n.split(".")[0] == "tests" for n in names)
    ]
    assert not offenders, offenders


def test_the_checker_finds_a_planted_loop_and_an_upward_arrow(tmp_path: Path) -> None:
    (tmp_path / "tools").mkdir()
    (tmp_path / "tools" / "__init__.py").write_text("from tools import a\n")
    (tmp_path / "tools" / "a.py").write_text("from tools.b import x\n")
    (tmp_path / "tools" / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import a\n"
    )
    (tmp_path / "tools" / "c.py").write_text("def f():\n    import agent.turn\n")
    tree = Tree(tmp_path, ("tools",))
    assert tree.loops_through("tools.a") == ["tools.b"]
    assert tree.loops_through("tools.c") == []
    assert "agent.turn" in tree.imported["tools.c"]
    assert room("agent.turn")[1] > room("tools.c")[1]
