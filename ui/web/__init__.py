"""The Chainlit chat app: the only package that imports chainlit. `ui/web/app.py` is its
entry module (what `chainlit run` loads)."""

__all__: list[str] = []
