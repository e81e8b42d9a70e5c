"""Regenerate `tools/comfy/core_nodes.json`: every node class that core ComfyUI defines.

Reads a ComfyUI checkout with `ast` only (nothing of it is imported or run) and collects
class names, nothing else:

- `nodes.py`: the keys of its `NODE_CLASS_MAPPINGS` dict;
- the modules `nodes.py` loads at start-up, from its `extras_files` list (`comfy_extras/`)
  and its `api_nodes_files` list (`comfy_api_nodes/`, the partner API nodes, which ship
  with every install): in each, the keys of a `NODE_CLASS_MAPPINGS` dict, every string
  `node_id=` given to a `Schema(...)` (the V3 node API), and every class attribute
  `NodeId` / `NODE_ID` set to a string (classes that build their mapping in a loop).

Usage:
    python scripts/comfy-core-nodes.py PATH/TO/ComfyUI --release v0.3.64 \
        [--commit SHA --date YYYY-MM-DD] > tools/comfy/core_nodes.json

The commit and date default to the checkout's own `git log -1` when it is a git work tree.
"""

from __future__ import annotations

import argparse
import ast
import json
import subprocess
import sys
from pathlib import Path

_ID_ATTRIBUTES = frozenset({"NodeId", "NODE_ID"})


def _literal_strings(node: ast.expr | None) -> list[str]:
    if isinstance(node, ast.List | ast.Tuple):
        return [
            e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)
        ]
    return []


def _assigned(tree: ast.Module, name: str) -> ast.expr | None:
    """The value of the first `name = ...` anywhere in the module (functions included)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            return node.value
    return None


def _mapping_keys(tree: ast.Module) -> set[str]:
    value = _assigned(tree, "NODE_CLASS_MAPPINGS")
    if not isinstance(value, ast.Dict):
        return set()
    return {k.value for k in value.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}


def _schema_ids(tree: ast.Module) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called != "Schema":
                continue
            for kw in node.keywords:
                if kw.arg == "node_id" and isinstance(kw.value, ast.Constant):
                    found.add(str(kw.value.value))
        elif isinstance(node, ast.ClassDef):
            for stmt in node.body:
                if (
                    isinstance(stmt, ast.Assign)
                    and any(
                        isinstance(t, ast.Name) and t.id in _ID_ATTRIBUTES for t in stmt.targets
                    )
                    and isinstance(stmt.value, ast.Constant)
                    and isinstance(stmt.value.value, str)
                ):
                    found.add(stmt.value.value)
    return found


def _module_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return _mapping_keys(tree) | _schema_ids(tree)


def _git(root: Path, fmt: str) -> str:
    out = subprocess.run(  # noqa: S603 - fixed argv, no shell
        ["git", "-C", str(root), "log", "-1", f"--format={fmt}"],  # noqa: S607
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return out.stdout.strip()


def collect(root: Path) -> dict[str, list[str]]:
    """Class names per source: `nodes.py`, `comfy_extras`, `comfy_api_nodes`."""
    nodes_py = ast.parse((root / "nodes.py").read_text(encoding="utf-8"))
    groups: dict[str, list[str]] = {"nodes.py": sorted(_mapping_keys(nodes_py))}
    for group, list_name in (
        ("comfy_extras", "extras_files"),
        ("comfy_api_nodes", "api_nodes_files"),
    ):
        names: set[str] = set()
        for filename in _literal_strings(_assigned(nodes_py, list_name)):
            path = root / group / filename
            if path.is_file():
                names |= _module_names(path)
            elif (path.with_suffix("") / "__init__.py").is_file():  # a package entry
                names |= _module_names(path.with_suffix("") / "__init__.py")
        groups[group] = sorted(names)
    return groups


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkout", type=Path, help="a ComfyUI source tree")
    parser.add_argument("--release", required=True, help="the release it is, e.g. v0.3.64")
    parser.add_argument("--commit", help="its commit (default: git log -1 of the checkout)")
    parser.add_argument("--date", help="its commit date, YYYY-MM-DD (default: from git)")
    args = parser.parse_args()
    root: Path = args.checkout
    groups = collect(root)
    source = {
        "repository": "https://github.com/comfyanonymous/ComfyUI",
        "release": args.release,
        "commit": args.commit or _git(root, "%H"),
        "date": args.date or _git(root, "%cs"),
        "included": {name: len(items) for name, items in groups.items()},
        "how": "class names read with scripts/comfy-core-nodes.py (ast only, nothing run)",
    }
    every = sorted({name for items in groups.values() for name in items})
    json.dump({"_source": source, "class_types": every}, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
