"""Generated artifacts, from jinja2 templates: the RunPod worker (`tools.artifacts.worker`),
the client code (`tools.artifacts.client`) and the web app (`tools.artifacts.webapp`).

Import the subpackage you need; this package imports nothing itself, so using one kind of
artifact never loads the others' templates.
"""

__all__: list[str] = []
