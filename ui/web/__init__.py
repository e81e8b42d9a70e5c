"""The Chainlit chat app: the only package that imports chainlit. `ui/web/app.py` is its
entry module (what `chainlit run` loads)."""

from ui.web.lean_imports import defer_unused_imports

# Before any module of this package imports chainlit (see ui/web/lean_imports.py).
defer_unused_imports()

__all__: list[str] = []
