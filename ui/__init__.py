"""The front ends: the Chainlit chat app (`ui.web`) and the `kriptik` console script
(`ui.cli`), over one composition root (`ui.runtime` holds the process's settings and
stand-ins). The only package that imports chainlit (in `ui.web`). Nothing imports `ui`."""

__all__: list[str] = []
