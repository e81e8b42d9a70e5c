"""Clients for a ComfyUI workflow's RunPod endpoint: one call that takes the workflow's
input fields and returns the images and videos it made, decoded.

```
clients/python/comfy_client.py       WorkflowClient().generate(prompt=..., seed=...)
                                     -> [GeneratedImage] (on runpod_client.py beside it;
                                     also a command line)
clients/typescript/comfy-client.ts   new WorkflowClient({apiKey}).generate({prompt})
                                     -> GeneratedImage[]
clients/typescript/comfy-client.mjs  the same code without the types, for plain Node
```

The job contract is the ComfyUI worker's: a flat input, one key per field (a missing one
keeps the workflow's value); the output `{"images": [{"filename", "node_id", "mime",
"type": "base64" | "url", "data"}], "prompt_id"}`, or `{"error"}`. Field names reach the
code as identifiers (already slugs; a Python keyword gets a trailing "_"); labels and
defaults only through `repr` or JSON.
"""

from __future__ import annotations

import keyword
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tools.artifacts.client.fields import InputField
from tools.artifacts.client.spec import EndpointInfo

if TYPE_CHECKING:  # jinja2 is imported when the first environment is built
    from jinja2 import Environment

__all__ = ["WORKFLOW_CLIENT_FILES", "render_workflow_clients"]

#: Generated path -> template.
WORKFLOW_CLIENT_FILES: dict[str, str] = {
    "clients/python/comfy_client.py": "comfy_client.py.j2",
    "clients/typescript/comfy-client.ts": "comfy-client.ts.j2",
    "clients/typescript/comfy-client.mjs": "comfy-client.ts.j2",
}
_PY_TYPES = {"text": "str", "integer": "int", "number": "float", "image": "str | bytes | Path"}
_TS_TYPES = {"text": "string", "integer": "number", "number": "number",
             "image": "string | Uint8Array"}  # fmt: skip
# Parameters `generate()` has besides the fields.
_TAKEN = frozenset({"self", "timeout_s"})


def _py_name(name: str) -> str:
    """The keyword argument for a field: its name, or with a "_" where Python reserves it."""
    reserved = keyword.iskeyword(name) or keyword.issoftkeyword(name) or name in _TAKEN
    return f"{name}_" if reserved else name


def _template_fields(fields: Sequence[InputField]) -> list[dict[str, Any]]:
    return [
        {"name": f.name, "py_name": _py_name(f.name), "py_type": _PY_TYPES[f.kind],
         "ts_type": _TS_TYPES[f.kind], "kind": f.kind, "label": f.label, "default": f.default,
         "minimum": f.minimum, "maximum": f.maximum}
        for f in fields
    ]  # fmt: skip


def render_workflow_clients(
    env: Environment, endpoint: EndpointInfo, fields: Sequence[InputField]
) -> dict[str, bytes]:
    """The workflow clients for `endpoint`, by path inside the generated project.

    Args:
        env: The client templates' environment (no HTML autoescape).
        endpoint: The deployed RunPod endpoint.
        fields: The workflow's input fields, in the order the page shows them.
    """
    if endpoint.target != "runpod":
        raise ValueError("a ComfyUI workflow client calls a RunPod endpoint's job API")
    listed = _template_fields(fields)
    text_fields = [f for f in listed if f["kind"] == "text"]
    context = {
        "endpoint": endpoint,
        "fields": listed,
        "json_fields": [f.model_dump() for f in fields],
        # The usage examples set the first text field (a prompt, usually).
        "example": text_fields[0] if text_fields else None,
        "pyrepr": repr,
    }
    return {
        path: env.get_template(name).render(context, ts=path.endswith(".ts")).encode()
        for path, name in WORKFLOW_CLIENT_FILES.items()
    }
