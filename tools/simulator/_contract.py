"""Contract checks against the providers' own published API descriptions.

- OpenAPI 3.0/3.1 (RunPod v2, GitHub, OpenRouter): openapi-core, with the request's host
  rewritten to the spec's server and path parameters percent-encoded.
- Swagger 2.0 (Netlify): openapi-core cannot read it, so the `in: body` schema and the
  response schema are checked with jsonschema Draft 4.
- Hand-written JSON Schemas (Vercel, RunPod's job API, which publish no description small
  enough to keep): `SchemaContract`.

The strict overlay sets `additionalProperties: false` on plain request-body objects (after
merging `allOf`s of plain objects), so a misspelt field fails here even though the
published schema would let it through. Specs are parsed once per process (`functools.cache`).
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeGuard

import jsonschema
from jsonschema.protocols import Validator
from openapi_core import Config, OpenAPI
from openapi_core.exceptions import OpenAPIError
from openapi_core.testing import MockRequest, MockResponse

from tools.simulator._base import Exchange

_REPO = Path(__file__).resolve().parents[2]
# A copy travels with the repo (tools/simulator/specs), so a clean clone checks contracts on
# its own; a `shared/specs` beside or inside the checkout wins when present.
_SPEC_DIRS = (
    _REPO.parent / "shared" / "specs",
    _REPO / "shared" / "specs",
    Path(__file__).resolve().parent / "specs",
)
_COMBINATORS = ("allOf", "oneOf", "anyOf")
# Operations the provider documents as taking no key although its spec inherits the global
# `security`: OpenRouter's PKCE exchange (the authorization code is the proof).
_KEYLESS_OPERATIONS = frozenset({"exchangeAuthCodeForAPIKey"})


def specs_dir() -> Path:
    """Where the providers' specs live: `../shared/specs` beside the repo, else the copy."""
    for candidate in _SPEC_DIRS:
        if (candidate / "runpod-rest-v2.openapi.json").is_file():
            return candidate
    raise FileNotFoundError(f"provider specs not found in any of {[str(p) for p in _SPEC_DIRS]}")


@functools.cache
def load_spec(filename: str) -> dict[str, Any]:
    """One spec file, parsed once per process. Callers must not mutate it."""
    return json.loads((specs_dir() / filename).read_text())


def _is_object(value: object) -> TypeGuard[dict[str, Any]]:
    """A JSON object. Specs are parsed JSON, so an object's keys are always strings."""
    return isinstance(value, dict)


def _close(schema: Any) -> None:
    """Strict overlay for one request schema, in place (never through a `$ref`)."""
    if not _is_object(schema) or "$ref" in schema:
        return
    parts = schema.get("allOf")
    if parts and all(
        _is_object(p) and "$ref" not in p and not any(c in p for c in _COMBINATORS) for p in parts
    ):
        # Merge an allOf of plain objects, so the union of their fields can be closed.
        del schema["allOf"]
        for part in parts:
            schema.setdefault("properties", {}).update(part.get("properties", {}))
            schema["required"] = sorted({*schema.get("required", []), *part.get("required", [])})
        schema.setdefault("type", "object")
        if not schema["required"]:
            del schema["required"]
    if (
        "properties" in schema
        and "additionalProperties" not in schema
        and not any(c in schema for c in _COMBINATORS)
    ):
        schema["additionalProperties"] = False
    for sub in schema.get("properties", {}).values():
        _close(sub)
    if _is_object(schema.get("items")):
        _close(schema["items"])


def _single_typed_params(spec: dict[str, Any]) -> None:
    """Work around openapi-core 0.23, whose parameter deserialiser crashes on 3.1 type
    lists: `type: ["integer", "null"]` becomes `type: "integer"` (a query value is never
    JSON null anyway)."""
    params: list[Any] = [p for item in spec["paths"].values() for op in item.values()
                         if _is_object(op) for p in op.get("parameters", [])]  # fmt: skip
    params += list(spec.get("components", {}).get("parameters", {}).values())
    for param in params:
        schema = param.get("schema", {})
        if isinstance(schema.get("type"), list):
            schema["type"] = next(t for t in schema["type"] if t != "null")


@functools.cache
def _openapi(filename: str, strict: bool) -> OpenAPI:
    spec = copy.deepcopy(load_spec(filename))
    _single_typed_params(spec)
    for ops in spec["paths"].values():
        for op in ops.values():
            if _is_object(op) and op.get("operationId") in _KEYLESS_OPERATIONS:
                op["security"] = []
    if strict:
        for ops in spec["paths"].values():
            for op in ops.values():
                if _is_object(op) and "requestBody" in op:
                    for media in op["requestBody"].get("content", {}).values():
                        _close(media.get("schema"))
    # The specs are the providers' published files, validated once when they were chosen.
    # RFC 9457 problem documents are JSON; openapi-core only knows `application/json`.
    config = Config(
        spec_validator_cls=None,  # pyright: ignore[reportArgumentType] (None skips it at runtime)
        extra_media_type_deserializers={"application/problem+json": json.loads},
    )
    return OpenAPI.from_dict(spec, config=config)


def _short(text: str, limit: int = 400) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def explain(err: BaseException) -> str:
    """The validator's message, with each schema error's location (values shortened)."""
    lines = [_short(f"{type(err).__name__}: {err}")]
    cause: BaseException | None = err
    while cause is not None:
        # openapi-core fills `schema_errors` from a jsonschema validator's `iter_errors`.
        errors: Iterable[jsonschema.ValidationError] = getattr(cause, "schema_errors", None) or []
        for sub in errors:
            where = "/".join(str(p) for p in sub.absolute_path) or "(body)"
            lines.append(f"  at {where}: {_short(sub.message)}")
        cause = cause.__cause__ or cause.__context__
        if cause is err:
            break
    return "\n".join(lines)


class OpenApiContract:
    """Requests and responses checked by openapi-core against an OpenAPI 3.x file."""

    def __init__(self, filename: str, *, host_url: str, strict: bool = False) -> None:
        self.api = _openapi(filename, strict)
        self.host_url = host_url

    def _request(self, ex: Exchange) -> MockRequest:
        content_type = ex.content_type.split(";")[0].strip() or "application/json"
        return MockRequest(
            self.host_url, ex.method, ex.spec_path(), args=ex.query,  # type: ignore[arg-type]
            headers=ex.headers, data=ex.body, content_type=content_type,
        )  # fmt: skip

    def check_request(self, ex: Exchange) -> list[str]:
        try:
            self.api.validate_request(self._request(ex))
        except OpenAPIError as err:
            return [explain(err)]
        return []

    def check_response(
        self, ex: Exchange, status: int, headers: dict[str, str], body: bytes
    ) -> list[str]:
        content_type = headers.get("content-type", "application/json").split(";")[0]
        response = MockResponse(
            body, status_code=status, headers=headers, content_type=content_type
        )
        try:
            self.api.validate_response(self._request(ex), response)
        except OpenAPIError as err:
            text = explain(err)
            if "ResponseNotFound" in text:
                return [f"undocumented status {status}: {text}"]
            return [text]
        return []


@functools.cache
def _swagger_ops(filename: str, strict: bool) -> tuple[str, dict[tuple[str, str], dict[str, Any]]]:
    spec = load_spec(filename)
    ops: dict[tuple[str, str], dict[str, Any]] = {}
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in {"get", "post", "put", "patch", "delete", "head"}:
                op = copy.deepcopy(op)
                op["parameters"] = [*item.get("parameters", []), *op.get("parameters", [])]
                for param in op["parameters"]:
                    if param.get("in") == "body" and strict:
                        _close(param.get("schema"))
                ops[(method.upper(), path)] = op
    return spec.get("basePath", ""), ops


def _errors(validator: Validator, instance: Any) -> Iterator[jsonschema.ValidationError]:
    """`validator.iter_errors(instance)`, called through the protocol, which types it (the
    concrete classes' stubs leave a deprecated overload's `instance` untyped)."""
    return validator.iter_errors(instance)


def _draft4(schema: dict[str, Any], instance: Any) -> list[str]:
    errors = _errors(jsonschema.Draft4Validator(schema), instance)
    return [
        f"at {'/'.join(str(p) for p in e.absolute_path) or '(body)'}: {e.message}"
        for e in sorted(errors, key=lambda e: list(map(str, e.path)))
    ]


class SwaggerContract:
    """Swagger 2.0 checks: operation known, key sent, body and responses per Draft 4."""

    def __init__(self, filename: str, *, strict: bool = True) -> None:
        self.base_path, self.ops = _swagger_ops(filename, strict)

    def _op(self, ex: Exchange) -> dict[str, Any] | None:
        template = ex.template.removeprefix(self.base_path) or "/"
        return self.ops.get((ex.method, template))

    def check_request(self, ex: Exchange) -> list[str]:
        op = self._op(ex)
        if op is None:
            return [f"{ex.method} {ex.template} is not in the published API"]
        problems = (
            [] if ex.headers.get("authorization", "").startswith("Bearer ") else ["no bearer token"]
        )
        query = dict(ex.query)
        for param in op["parameters"]:
            if param.get("in") == "query" and param.get("required") and param["name"] not in query:
                problems.append(f"missing required query parameter {param['name']!r}")
            if param.get("in") != "body":
                continue
            schema = param.get("schema", {})
            if schema.get("format") == "binary":
                if not ex.content_type.startswith("application/octet-stream"):
                    problems.append(
                        f"body must be application/octet-stream, not {ex.content_type!r}"
                    )
                continue
            try:
                instance = json.loads(ex.body) if ex.body else None
            except ValueError as err:
                problems.append(f"body is not JSON: {err}")
                continue
            if instance is None and param.get("required"):
                problems.append("missing required body")
            elif instance is not None:
                problems += _draft4(schema, instance)
        return problems

    def check_response(
        self, ex: Exchange, status: int, headers: dict[str, str], body: bytes
    ) -> list[str]:
        op = self._op(ex)
        if op is None:
            return []
        response = op["responses"].get(str(status)) or op["responses"].get("default")
        if response is None:
            return [f"undocumented status {status}"]
        if "schema" not in response or not body:
            return []
        return _draft4(response["schema"], json.loads(body))


@dataclass
class RouteSchema:
    """Hand-written contract for one route: body schema, required headers, responses."""

    request: dict[str, Any] | None = None
    headers: tuple[str, ...] = ()
    responses: dict[int, dict[str, Any]] = field(default_factory=dict[int, dict[str, Any]])
    content_type: str = "application/json"


@dataclass
class SchemaContract:
    """Checks against hand-written JSON Schemas (for providers without a usable spec)."""

    routes: dict[str, RouteSchema]
    auth_prefix: str = "Bearer "

    def check_request(self, ex: Exchange) -> list[str]:
        spec = self.routes.get(f"{ex.method} {ex.template}")
        if spec is None:
            return [f"{ex.method} {ex.template} is not in the documented API"]
        problems = (
            []
            if ex.headers.get("authorization", "").startswith(self.auth_prefix)
            else ["no bearer token"]
        )
        problems += [f"missing header {h!r}" for h in spec.headers if h not in ex.headers]
        if spec.request is not None:
            if not ex.content_type.startswith(spec.content_type):
                problems.append(
                    f"content-type must be {spec.content_type}, not {ex.content_type!r}"
                )
            try:
                problems += _draft7(spec.request, json.loads(ex.body or b"null"))
            except ValueError as err:
                problems.append(f"body is not JSON: {err}")
        return problems

    def check_response(
        self, ex: Exchange, status: int, headers: dict[str, str], body: bytes
    ) -> list[str]:
        spec = self.routes.get(f"{ex.method} {ex.template}")
        schema = spec.responses.get(status) if spec else None
        if schema is None or not body:
            return []
        return _draft7(schema, json.loads(body))


def _draft7(schema: dict[str, Any], instance: Any) -> list[str]:
    return [
        f"at {'/'.join(str(p) for p in e.absolute_path) or '(body)'}: {e.message}"
        for e in _errors(jsonschema.Draft7Validator(schema), instance)
    ]
