"""Contract checks against Google's published API Discovery documents.

Google describes its REST APIs (Cloud Run Admin v2, Cloud Resource Manager v1) in
Discovery format, not OpenAPI: `schemas` are JSON-Schema-like (`type`, `properties`,
`items`, `additionalProperties`, `enum`, `$ref` by bare name) and each method names its
request and response schema and its query parameters. `to_json_schema` converts them to
Draft 7 so `jsonschema` can validate, with the same strict overlay as the other fakes
(`additionalProperties: false` on request objects), so a misspelt field fails here even
though Google would silently drop it.

Subsets kept in `specs/` (see its README) were cut from the Discovery documents that the
PyPI package google-api-python-client ships.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import jsonschema
from jsonschema.protocols import Validator

from tools.simulator._base import Exchange

__all__ = ["GOOGLE_ERROR", "DiscoveryContract", "load_discovery", "to_json_schema"]

_SPECS = Path(__file__).resolve().parent / "specs"

# Google's JSON error envelope (google.rpc.Status inside "error"), for every API here.
GOOGLE_ERROR: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "status"],
            "properties": {
                "code": {"type": "integer"},
                "message": {"type": "string"},
                "status": {"type": "string"},
                "details": {"type": "array"},
            },
        }
    },
}


@functools.cache
def load_discovery(filename: str) -> dict[str, Any]:
    """One Discovery subset from `specs/`, parsed once per process (do not mutate)."""
    return json.loads((_SPECS / filename).read_text())


def to_json_schema(schema: dict[str, Any], *, strict: bool) -> dict[str, Any]:
    """One Discovery schema as Draft 7 JSON Schema; `$ref`s point at `#/definitions`."""
    if "$ref" in schema:
        return {"$ref": f"#/definitions/{schema['$ref']}"}
    out: dict[str, Any] = {}
    kind = schema.get("type")
    if kind and kind != "any":
        out["type"] = kind
    if "enum" in schema:
        out["enum"] = schema["enum"]
    if isinstance(items := schema.get("items"), dict):
        out["items"] = to_json_schema(cast("dict[str, Any]", items), strict=strict)
    props = cast("dict[str, dict[str, Any]]", schema.get("properties", {}))
    if props:
        out["properties"] = {k: to_json_schema(v, strict=strict) for k, v in props.items()}
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        out["additionalProperties"] = to_json_schema(cast("dict[str, Any]", extra), strict=strict)
    elif strict and props:
        out["additionalProperties"] = False
    return out


def _methods(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for child in cast("dict[str, dict[str, Any]]", node.get("resources", {})).values():
        yield from _methods(child)
    yield from cast("dict[str, dict[str, Any]]", node.get("methods", {})).values()


@dataclass
class DiscoveryContract:
    """Checks a fake's routes against one Discovery document.

    Attributes:
        doc: The parsed Discovery (subset) document.
        routes: "METHOD /template" -> the Discovery method id it serves
            ("run.projects.locations.services.create").
    """

    doc: dict[str, Any]
    routes: dict[str, str]

    def __post_init__(self) -> None:
        self._by_id = {m["id"]: m for m in _methods(self.doc)}
        missing = set(self.routes.values()) - set(self._by_id)
        if missing:
            raise KeyError(f"not in the Discovery document: {sorted(missing)}")
        schemas = cast("dict[str, dict[str, Any]]", self.doc["schemas"])
        self._strict = {n: to_json_schema(s, strict=True) for n, s in schemas.items()}
        self._loose = {n: to_json_schema(s, strict=False) for n, s in schemas.items()}

    def _method(self, ex: Exchange) -> dict[str, Any] | None:
        method_id = self.routes.get(f"{ex.method} {ex.template}")
        return None if method_id is None else self._by_id[method_id]

    def check_request(self, ex: Exchange) -> list[str]:
        method = self._method(ex)
        if method is None:
            return [f"{ex.method} {ex.template} is not in the documented API"]
        problems = (
            [] if ex.headers.get("authorization", "").startswith("Bearer ") else ["no bearer token"]
        )
        params = cast("dict[str, dict[str, Any]]", method.get("parameters", {}))
        problems += [
            f"unknown query parameter {name!r}"
            for name, _ in ex.query
            if params.get(name, {}).get("location") != "query"
        ]
        if "request" in method:
            try:
                body = json.loads(ex.body or b"null")
            except ValueError as err:
                return [*problems, f"body is not JSON: {err}"]
            problems += _validate(method["request"]["$ref"], self._strict, body)
        elif ex.body:
            problems.append("this method takes no request body")
        return problems

    def check_response(
        self, ex: Exchange, status: int, headers: dict[str, str], body: bytes
    ) -> list[str]:
        method = self._method(ex)
        if method is None or not body:
            return []
        if status >= 400:
            return _errors(GOOGLE_ERROR, json.loads(body))
        if "response" not in method:
            return []
        return _validate(method["response"]["$ref"], self._loose, json.loads(body))


def _validate(name: str, definitions: dict[str, Any], instance: Any) -> list[str]:
    return _errors({"$ref": f"#/definitions/{name}", "definitions": definitions}, instance)


def _errors(schema: dict[str, Any], instance: Any) -> list[str]:
    found = sorted(_iter(jsonschema.Draft7Validator(schema), instance),
                   key=lambda e: str(list(e.absolute_path)))  # fmt: skip
    return [
        f"at {'/'.join(str(p) for p in e.absolute_path) or '(body)'}: {e.message}" for e in found
    ]


def _iter(validator: Validator, instance: Any) -> Iterator[jsonschema.ValidationError]:
    """Through the protocol, which types `iter_errors` (the concrete stubs do not)."""
    return validator.iter_errors(instance)
