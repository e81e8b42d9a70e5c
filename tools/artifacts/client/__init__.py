"""Client code for a deployed RunPod endpoint: an async Python client (httpx), a TypeScript
client (fetch) with the same code as plain JavaScript, and for vLLM endpoints an example of
the OpenAI-compatible route with the `openai` SDK.

    files = render_clients(EndpointInfo(endpoint_id="abc123", model_id="org/model"))
    # {"clients/python/runpod_client.py": b"...", "clients/typescript/runpod-client.ts": ...}

Rendering is deterministic: the same endpoint gives byte-identical files, so a re-push of
a generated project makes no new commit. Values reach the templates only as validated ids
(`EndpointInfo`) or through `repr`/JSON encoding (`pyrepr()`, `tojson`).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from jinja2 import Environment
from pydantic import JsonValue

from tools.artifacts._jinja import template_environment
from tools.artifacts.client.spec import (
    DEFAULT_JOBS_BASE_URL,
    EndpointInfo,
    check_endpoint_id,
    check_model_id,
)

__all__ = [
    "DEFAULT_JOBS_BASE_URL",
    "EndpointInfo",
    "check_endpoint_id",
    "check_model_id",
    "render_clients",
]

_TEMPLATES = Path(__file__).parent / "templates"
_FALLBACK_EXAMPLE = "{'prompt': 'Hello'}"


@cache
def _environment() -> Environment:
    """Jinja for source code: no HTML autoescape (values go in through `pyrepr()`/`tojson`)."""
    return template_environment(_TEMPLATES, autoescape=False)


def _example_literal(example: dict[str, JsonValue]) -> str:
    """`example` as a Python literal safe inside a docstring, or a neutral one."""
    text = repr(example) if example else _FALLBACK_EXAMPLE
    # A backslash or triple quote would change the docstring itself; keep the example short.
    if len(text) > 160 or "\\" in text or '"""' in text or not text.isprintable():
        return _FALLBACK_EXAMPLE
    return text


def render_clients(
    endpoint: EndpointInfo, *, example_input: dict[str, JsonValue] | None = None
) -> dict[str, bytes]:
    """The client files for `endpoint`, by path inside the generated project.

    Args:
        endpoint: The deployed endpoint.
        example_input: A valid job input, shown in the Python client's usage example.
    """
    env = _environment()
    context = {
        "endpoint": endpoint,
        "example_input_py": _example_literal(example_input or {}),
        "pyrepr": repr,
    }
    files = {
        "clients/python/runpod_client.py": env.get_template("runpod_client.py.j2").render(context),
        "clients/typescript/runpod-client.ts": env.get_template("runpod-client.ts.j2").render(
            context, ts=True
        ),
        "clients/typescript/runpod-client.mjs": env.get_template("runpod-client.ts.j2").render(
            context, ts=False
        ),
    }
    if endpoint.openai_compatible:
        template = env.get_template("openai_example.py.j2")
        files["clients/python/openai_example.py"] = template.render(context)
    return {path: text.encode() for path, text in files.items()}
