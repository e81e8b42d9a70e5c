"""Hand-written contract of the Hugging Face Inference Endpoints API (`/v2`), for the fake.

Hugging Face documents this API only as a live Swagger page on api.endpoints.huggingface.cloud;
no copy of that description is published in a package or repository that we can keep. So
these JSON Schemas are written from the payloads that `huggingface_hub` 2.4 builds and reads
(`HfApi.create_inference_endpoint` / `update_inference_endpoint` bodies,
`InferenceEndpoint._populate_from_raw` and `InferenceEndpointHardware.from_raw` fields). The
request bodies are closed (`additionalProperties: false`), so a misspelt field fails here.
"""

from __future__ import annotations

from typing import Any

from tools.simulator._contract import RouteSchema, SchemaContract

__all__ = ["ENDPOINT_NAME_PATTERN", "IMAGE_VARIANTS", "contract"]

# Lowercase letters, digits and hyphens, at most 32, starting and ending alphanumeric: the
# names the Inference Endpoints UI and API accept (they become a DNS label of the URL).
ENDPOINT_NAME_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$"
# `model.image` is a union keyed by variant (huggingface_hub `_build_endpoint_image_payload`).
IMAGE_VARIANTS = (
    "huggingface", "huggingfaceNeuron", "custom", "tgi", "tgiNeuron", "tei", "vLLM", "sGLang",
    "llamacpp", "hfServe",
)  # fmt: skip

_STR: dict[str, Any] = {"type": "string"}
_STR_MAP: dict[str, Any] = {"type": "object", "additionalProperties": {"type": "string"}}
_CONTAINER: dict[str, Any] = {
    "type": "object",
    "required": ["url"],
    "properties": {"url": {"type": "string", "minLength": 1}, "port": {"type": "integer"}},
}
_IMAGE: dict[str, Any] = {
    "type": "object",
    "minProperties": 1,
    "maxProperties": 1,
    "additionalProperties": False,
    "properties": {v: ({"type": "object"} if v.startswith("huggingface") else _CONTAINER)
                   for v in IMAGE_VARIANTS},
}  # fmt: skip


def _scaling(*, create: bool) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["maxReplica", "minReplica"] if create else [],
        "additionalProperties": False,
        "properties": {
            "maxReplica": {"type": "integer", "minimum": 1},
            "minReplica": {"type": "integer", "minimum": 0},
            "scaleToZeroTimeout": {"type": ["integer", "null"], "minimum": 1},
            "measure": {"type": "object"},
        },
    }


def _body(*, create: bool) -> dict[str, Any]:
    """The create (POST) or update (PUT) body; an update sends only what changes."""
    compute = {
        "type": "object",
        "required": ["accelerator", "instanceSize", "instanceType", "scaling"] if create else [],
        "additionalProperties": False,
        "properties": {"accelerator": _STR, "instanceSize": _STR, "instanceType": _STR,
                       "scaling": _scaling(create=create)},
    }  # fmt: skip
    model = {
        "type": "object",
        "required": ["framework", "repository", "image"] if create else [],
        "additionalProperties": False,
        "properties": {
            "framework": _STR, "repository": _STR, "revision": {"type": ["string", "null"]},
            "task": _STR, "image": _IMAGE, "command": {"type": "array", "items": _STR},
            "args": {"type": "array", "items": _STR}, "env": _STR_MAP, "secrets": _STR_MAP,
        },
    }  # fmt: skip
    props: dict[str, Any] = {
        "compute": compute, "model": model, "route": {"type": "object"},
        "cacheHttpResponses": {"type": "boolean"}, "tags": {"type": "array", "items": _STR},
    }  # fmt: skip
    if not create:
        return {"type": "object", "additionalProperties": False, "properties": props}
    props |= {
        "name": {"type": "string", "pattern": ENDPOINT_NAME_PATTERN},
        "provider": {"type": "object", "required": ["region", "vendor"],
                     "additionalProperties": False,
                     "properties": {"region": _STR, "vendor": _STR}},
        "type": {"enum": ["public", "authenticated", "private"]},
        "privateService": {"type": "object"},
    }  # fmt: skip
    required = ["compute", "model", "name", "provider", "type"]
    return {"type": "object", "required": required, "additionalProperties": False,
            "properties": props}  # fmt: skip


_STATES = ["pending", "initializing", "updating", "updateFailed", "running", "paused", "failed",
           "scaledToZero"]  # fmt: skip
_ENDPOINT: dict[str, Any] = {
    "type": "object",
    "required": ["name", "model", "status", "healthRoute", "type", "compute", "provider"],
    "properties": {
        "name": _STR, "healthRoute": _STR, "type": _STR,
        "model": {"type": "object", "required": ["repository", "framework", "revision", "task"],
                  "properties": {"repository": _STR, "framework": _STR,
                                 "revision": {"type": ["string", "null"]},
                                 "task": {"type": ["string", "null"]}, "image": _IMAGE}},
        "status": {"type": "object", "required": ["state", "createdAt", "updatedAt"],
                   "properties": {"state": {"enum": _STATES}, "url": {"type": ["string", "null"]},
                                  "createdAt": _STR, "updatedAt": _STR}},
        "compute": {"type": "object", "required": ["accelerator", "instanceSize", "instanceType"]},
        "provider": {"type": "object", "required": ["region", "vendor"]},
    },
}  # fmt: skip
_COMPUTE_FIELDS = ["id", "accelerator", "instanceType", "instanceSize", "architecture",
                   "numAccelerators", "memoryGb", "pricePerHour", "status", "quota"]  # fmt: skip
_PROVIDERS: dict[str, Any] = {
    "type": "object",
    "required": ["vendors"],
    "properties": {"vendors": {"type": "array", "items": {
        "type": "object", "required": ["name", "regions"],
        "properties": {"regions": {"type": "array", "items": {
            "type": "object", "required": ["name", "computes"],
            "properties": {"computes": {"type": "array", "items": {
                "type": "object", "required": _COMPUTE_FIELDS,
                "properties": {"pricePerHour": {"type": "number", "minimum": 0},
                               "quota": {"type": "object",
                                         "required": ["maxAccelerators", "usedAccelerators"]}},
            }}},
        }}},
    }}},
}  # fmt: skip


def contract() -> SchemaContract:
    """The routes the fake serves, each with its request and response schemas."""
    one = {200: _ENDPOINT}
    base, item = "/v2/endpoint/{namespace}", "/v2/endpoint/{namespace}/{name}"
    return SchemaContract(
        routes={
            "GET /v2/provider/{namespace}": RouteSchema(responses={200: _PROVIDERS}),
            f"GET {base}": RouteSchema(responses={200: {
                "type": "object", "required": ["items"],
                "properties": {"items": {"type": "array", "items": _ENDPOINT}}}}),
            f"POST {base}": RouteSchema(request=_body(create=True), responses=one),
            f"GET {item}": RouteSchema(responses=one),
            f"PUT {item}": RouteSchema(request=_body(create=False), responses=one),
            f"DELETE {item}": RouteSchema(),
            f"POST {item}/pause": RouteSchema(responses=one),
            f"POST {item}/resume": RouteSchema(responses=one),
            f"POST {item}/scale-to-zero": RouteSchema(responses=one),
        }
    )  # fmt: skip
