"""The front ends: the Chainlit chat app (`ui.web`) and the `kriptik` console script
(`ui.cli`), over one composition root (`ui.root`), which builds the live services and hands
them down. The only package that imports chainlit (in `ui.web`). Nothing imports `ui`."""

__all__: list[str] = []
