"""Load the provider simulator (`tests/fakes`) from this source checkout, for
`kriptik fakes serve` and `kriptik chat --fake-llm`.

A dependency (literalai) installs a top-level `tests` package of its own, which a
console script finds first; ours is the one next to the `ui` package.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

_ROOT = Path(__file__).resolve().parents[1]


def import_fakes(module: str) -> ModuleType:
    """Import `tests.fakes.<module>` from the checkout; ImportError when it is absent."""
    if not (_ROOT / "tests" / "fakes" / f"{module}.py").is_file():
        raise ImportError(f"no tests/fakes/{module}.py next to the ui package")
    loaded = sys.modules.get("tests")
    if loaded is not None and Path(getattr(loaded, "__file__", None) or "").parent.parent != _ROOT:
        for name in [n for n in sys.modules if n == "tests" or n.startswith("tests.")]:
            del sys.modules[name]
    if str(_ROOT) not in sys.path[:1]:
        sys.path.insert(0, str(_ROOT))
    return importlib.import_module(f"tests.fakes.{module}")
