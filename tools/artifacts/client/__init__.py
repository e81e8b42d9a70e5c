"""Client code for a deployed endpoint, by its target:

- RunPod: an async Python client (httpx), a TypeScript client (fetch) with the same code as
  plain JavaScript, and for vLLM endpoints an example of the OpenAI-compatible route with
  the `openai` SDK.
- Hugging Face Inference Endpoint: an async Python client (httpx) that waits out the
  scale-from-zero 503s (and the OpenAI example for text-generation-inference).
- Cloud Run: an async Python client (httpx + cryptography) that mints the service's Google
  ID token from a service-account key. (The web app's `api/infer.js` is the Node client.)
- SageMaker: an async Python client (httpx + botocore) that signs InvokeEndpoint with SigV4
  from AWS credentials on the server, assuming a role first when one is named; it sends
  TGI's `{"inputs", "parameters"}`, or on an endpoint running our worker image the job
  input itself. (The web app's `api/infer.js` is the Node client, with its own small
  SigV4 signer.)
- A ComfyUI workflow on RunPod, besides: `comfy_client.py` and `comfy-client.ts`, one call
  that takes the workflow's input fields and returns its images decoded (`comfy.py`).

    files = render_clients(EndpointInfo(endpoint_id="abc123", model_id="org/model"))
    # {"clients/python/runpod_client.py": b"...", "clients/typescript/runpod-client.ts": ...}

Rendering is deterministic: the same endpoint gives byte-identical files, so a re-push of
a generated project makes no new commit. Values reach the templates only as validated ids
(`EndpointInfo`) or through `repr`/JSON encoding (`pyrepr()`, `tojson`).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import JsonValue

from tools.artifacts._jinja import template_environment
from tools.artifacts.client.comfy import render_workflow_clients
from tools.artifacts.client.fields import InputField, field_defaults
from tools.artifacts.client.spec import (
    DEFAULT_JOBS_BASE_URL,
    EndpointInfo,
    SageMakerServing,
    ServingTarget,
    check_endpoint_id,
    check_model_id,
    check_region,
    check_service_url,
)

if TYPE_CHECKING:  # jinja2 is imported when the first environment is built
    from jinja2 import Environment

__all__ = [
    "DEFAULT_JOBS_BASE_URL",
    "EndpointInfo",
    "InputField",
    "SageMakerServing",
    "ServingTarget",
    "check_endpoint_id",
    "check_model_id",
    "check_region",
    "check_service_url",
    "field_defaults",
    "render_clients",
]

_TEMPLATES = Path(__file__).parent / "templates"
# Generated path -> template, for each target.
_TEMPLATES_BY_TARGET: dict[ServingTarget, dict[str, str]] = {
    "runpod": {
        "clients/python/runpod_client.py": "runpod_client.py.j2",
        "clients/typescript/runpod-client.ts": "runpod-client.ts.j2",
        "clients/typescript/runpod-client.mjs": "runpod-client.ts.j2",
    },
    "huggingface": {"clients/python/hf_endpoint_client.py": "hf_endpoint_client.py.j2"},
    "cloudrun": {"clients/python/cloudrun_client.py": "cloudrun_client.py.j2"},
    "sagemaker": {"clients/python/sagemaker_client.py": "sagemaker_client.py.j2"},
}
_FALLBACK_EXAMPLE = "{'prompt': 'Hello'}"


@cache
def _environment() -> Environment:
    """Jinja for source code: no HTML autoescape (values go in through `pyrepr()`/`tojson`)."""
    return template_environment(_TEMPLATES, autoescape=False)


def _example_literal(example: JsonValue, fallback: str = _FALLBACK_EXAMPLE) -> str:
    """`example` as a Python literal safe inside a docstring, or a neutral one."""
    text = repr(example) if example else fallback
    # A backslash or triple quote would change the docstring itself; keep the example short.
    if len(text) > 160 or "\\" in text or '"""' in text or not text.isprintable():
        return fallback
    return text


def render_clients(
    endpoint: EndpointInfo,
    *,
    example_input: dict[str, JsonValue] | None = None,
    workflow_fields: Sequence[InputField] | None = None,
) -> dict[str, bytes]:
    """The client files for `endpoint`, by path inside the generated project.

    Args:
        endpoint: The deployed endpoint.
        example_input: A valid job input, shown in the Python client's usage example.
        workflow_fields: For a ComfyUI workflow's endpoint, its input fields: the
            workflow clients are added (None: not a workflow).
    """
    env = _environment()
    example = example_input or {}
    context = {
        "endpoint": endpoint,
        "example_input_py": _example_literal(example),
        "example_inputs_py": _example_literal(_hf_inputs(example), "'Hello'"),
        "pyrepr": repr,
    }
    files = {path: env.get_template(name).render(context, ts=path.endswith(".ts"))
             for path, name in _TEMPLATES_BY_TARGET[endpoint.target].items()}  # fmt: skip
    if endpoint.openai_compatible:
        template = env.get_template("openai_example.py.j2")
        files["clients/python/openai_example.py"] = template.render(context)
    encoded = {path: text.encode() for path, text in files.items()}
    if workflow_fields is not None:
        encoded |= render_workflow_clients(env, endpoint, workflow_fields)
    return encoded


def _hf_inputs(example: dict[str, JsonValue]) -> JsonValue:
    """What an example job input sends as a Hugging Face endpoint's `inputs`."""
    if "inputs" in example:
        return example["inputs"]
    texts = [v for v in example.values() if isinstance(v, str)]
    return texts[0] if texts else example
