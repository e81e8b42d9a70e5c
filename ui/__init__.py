"""The Chainlit chat app and the `kriptik` console script: the only package that
imports chainlit. Nothing imports `ui`."""

__all__: list[str] = []
