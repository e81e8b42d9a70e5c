"""The AWS fake's wire: botocore's own service models (shipped in the installed package)
say what each operation takes and returns; this module reads requests in the three
protocols boto3 speaks for our services, checks them against those models, and writes
answers and errors the way AWS does.

```
query      STS, IAM                       form POST (Action=...), XML answers
json 1.1   SageMaker, ECR, Service Quotas, POST / with X-Amz-Target, JSON answers
           Pricing, Application Auto Scaling
json 1.0   CloudWatch                     the same (boto3 prefers JSON to CloudWatch's
                                          CBOR and query protocols, which it also lists)
rest-json  SageMaker Runtime              POST /endpoints/{EndpointName}/invocations
```

`check(shape, value)` lists every way a value breaks its shape: unknown members, missing
required ones, types, enums, lengths, ranges and patterns (AWS matches a pattern against
the whole value; the few Java-only patterns Python cannot compile are skipped).
"""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime
from functools import cache
from typing import Any, Literal, cast
from xml.sax.saxutils import escape

from starlette.responses import Response

__all__ = [
    "AwsError", "Protocol", "check", "check_error_fields", "error_response", "operation",
    "parse_query", "service_model", "success_response",
]  # fmt: skip

Protocol = Literal["query", "json", "rest-json"]


class AwsError(Exception):
    """An AWS error answer: its code, message and HTTP status (and extra body fields)."""

    def __init__(self, code: str, message: str, status: int = 400, **extra: object) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.status, self.extra = code, message, status, extra


@cache
def service_model(name: str) -> Any:
    """botocore's model of `name` ("sagemaker", "sts", ...), loaded once."""
    import botocore.session  # pyright: ignore[reportMissingTypeStubs]

    session: Any = botocore.session.get_session()  # pyright: ignore[reportUnknownMemberType]
    return session.get_service_model(name)


def operation(service: str, name: str) -> Any | None:
    model = service_model(service)
    return model.operation_model(name) if name in model.operation_names else None


def check_error_fields(service: str, op: str, code: str, fields: dict[str, object]) -> list[str]:
    """Every way `fields` (an injected error's extra body members, such as SageMaker
    Runtime's ModelError `OriginalStatusCode`) break the error shape `code` of the
    operation in botocore's model; an error the operation does not list is one problem."""
    found = operation(service, op)
    if found is None:
        return [f"{service}:{op} is not an operation of botocore's model"]
    shape = next((e for e in found.error_shapes if e.name == code), None)
    if shape is None:
        named = sorted(e.name for e in found.error_shapes)
        return [f"{service}:{op} lists no error {code} to carry fields (it lists {named})"]
    return check(shape, fields, code)


@cache
def _pattern(text: str) -> re.Pattern[str] | None:
    try:
        return re.compile(text, re.DOTALL)
    except re.error:
        return None  # a Java-only construct (\p{...}); AWS's own check is not reproduced


def check(shape: Any, value: object, path: str = "") -> list[str]:
    """Every way `value` breaks `shape` (a botocore Shape), with the member's path."""
    kind = shape.type_name
    where = path or shape.name
    if kind == "structure":
        return _check_structure(shape, value, where)
    if kind == "list":
        if not isinstance(value, list):
            return [f"{where}: expected a list"]
        items = cast("list[object]", value)
        problems = _check_size(shape, len(items), where)
        for i, item in enumerate(items):
            problems += check(shape.member, item, f"{where}[{i}]")
        return problems
    if kind == "map":
        if not isinstance(value, dict):
            return [f"{where}: expected a map"]
        entries = cast("dict[str, object]", value)
        problems = _check_size(shape, len(entries), where)
        for k, v in entries.items():
            problems += check(shape.key, k, f"{where}.key") + check(shape.value, v, f"{where}.{k}")
        return problems
    return _check_scalar(shape, kind, value, where)


def _check_structure(shape: Any, value: object, where: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{where}: expected a structure"]
    fields = cast("dict[str, object]", value)
    members: dict[str, Any] = shape.members
    problems = [f"{where}: unknown member {k!r}" for k in fields if k not in members]
    problems += [
        f"{where}: missing required member {k!r}"
        for k in shape.required_members
        if fields.get(k) is None
    ]
    for name, member in members.items():
        if fields.get(name) is not None:
            problems += check(member, fields[name], f"{where}.{name}")
    return problems


def _check_size(shape: Any, size: int, where: str) -> list[str]:
    lo, hi = shape.metadata.get("min"), shape.metadata.get("max")
    if lo is not None and size < lo:
        return [f"{where}: length {size} is below the minimum {lo}"]
    if hi is not None and size > hi:
        return [f"{where}: length {size} is above the maximum {hi}"]
    return []


def _check_scalar(shape: Any, kind: str, value: object, where: str) -> list[str]:
    meta = shape.metadata
    if kind == "string":
        if not isinstance(value, str):
            return [f"{where}: expected a string"]
        problems = _check_size(shape, len(value), where)
        if (enum := meta.get("enum")) and value not in enum:
            problems.append(f"{where}: {value!r} is not one of {enum}")
        pattern = _pattern(meta["pattern"]) if "pattern" in meta else None
        if pattern is not None and not pattern.fullmatch(value):
            problems.append(f"{where}: {value!r} does not match the pattern {meta['pattern']}")
        return problems
    if kind in {"integer", "long"}:
        if not isinstance(value, int) or isinstance(value, bool):
            return [f"{where}: expected an integer"]
        lo, hi = meta.get("min"), meta.get("max")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            return [f"{where}: {value} is outside {lo}..{hi}"]
        return []
    if kind in {"float", "double"}:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return [] if ok else [f"{where}: expected a number"]
    if kind == "boolean":
        return [] if isinstance(value, bool) else [f"{where}: expected a boolean"]
    if kind == "timestamp":
        return [] if isinstance(value, int | float | str | datetime) else [f"{where}: bad time"]
    if kind == "blob":
        return [] if isinstance(value, bytes | str) else [f"{where}: expected a blob"]
    return []


def parse_query(
    shape: Any, form: dict[str, str], prefix: str = ""
) -> tuple[dict[str, Any], set[str]]:
    """The parameters of a query-protocol form (`A.member.1.B=...`), and the keys used."""
    out: dict[str, Any] = {}
    used: set[str] = set()
    for name, member in shape.members.items():
        key = prefix + member.serialization.get("name", name)
        value, keys = _query_value(member, form, key)
        used |= keys
        if value is not None:
            out[name] = value
    return out, used


def _query_value(shape: Any, form: dict[str, str], key: str) -> tuple[Any, set[str]]:
    kind = shape.type_name
    if kind == "structure":
        if not any(k.startswith(key + ".") for k in form):
            return None, set()
        return parse_query(shape, form, key + ".")
    if kind == "list":
        indices = sorted({int(m.group(1)) for k in form
                          if (m := re.match(re.escape(key) + r"\.member\.(\d+)(\.|$)", k))})  # fmt: skip
        if not indices:
            return ([], {key}) if key in form else (None, set())
        items: list[object] = []
        used: set[str] = set()
        for i in indices:
            item, keys = _query_value(shape.member, form, f"{key}.member.{i}")
            items.append(item)
            used |= keys
        return items, used
    if key not in form:
        return None, set()
    raw = form[key]
    if kind in {"integer", "long"}:
        return (int(raw) if re.fullmatch(r"-?\d+", raw) else raw), {key}
    if kind == "boolean":
        return {"true": True, "false": False}.get(raw, raw), {key}
    return raw, {key}


def _json_default(value: object) -> object:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(type(value).__name__)


def _xml(shape: Any, value: object, name: str) -> str:
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        fields = cast("dict[str, object]", value)
        inner = "".join(_xml(m, fields[k], m.serialization.get("name", k))
                        for k, m in shape.members.items() if fields.get(k) is not None)  # fmt: skip
    elif kind == "list" and isinstance(value, list):
        inner = "".join(_xml(shape.member, item, "member") for item in cast("list[object]", value))
    elif isinstance(value, datetime):
        inner = value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    elif isinstance(value, bool):
        inner = "true" if value else "false"
    else:
        inner = escape(str(value))
    return f"<{name}>{inner}</{name}>"


def success_response(
    protocol: Protocol, service: str, op: Any, out: dict[str, Any], request_id: str
) -> Response:
    """The answer of `op` carrying `out` (checked against the output shape by the caller)."""
    if protocol == "json":
        body = json.dumps(out, default=_json_default, separators=(",", ":"))
        version = service_model(service).metadata.get("jsonVersion", "1.1")
        return Response(body, 200, media_type=f"application/x-amz-json-{version}",
                        headers={"x-amzn-RequestId": request_id})  # fmt: skip
    if protocol == "rest-json":
        headers = {"x-amzn-RequestId": request_id}
        for name, member in op.output_shape.members.items():
            if member.serialization.get("location") == "header" and out.get(name) is not None:
                headers[member.serialization["name"]] = str(out[name])
        return Response(out.get("Body", b""), 200, headers=headers)
    wrapper = op.output_shape.serialization.get("resultWrapper", f"{op.name}Result")
    ns = service_model(service).metadata.get("xmlNamespace", "")
    result = _xml(op.output_shape, out, wrapper)
    xml = (f'<{op.name}Response xmlns="{ns}">{result}<ResponseMetadata><RequestId>'
           f"{request_id}</RequestId></ResponseMetadata></{op.name}Response>")  # fmt: skip
    return Response(xml, 200, media_type="text/xml")


def error_response(protocol: Protocol, err: AwsError, request_id: str) -> Response:
    """AWS's error body for the protocol (botocore reads the code from it)."""
    if protocol == "query":
        kind = "Sender" if err.status < 500 else "Receiver"
        extra = "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in err.extra.items())
        xml = (f"<ErrorResponse><Error><Type>{kind}</Type><Code>{escape(err.code)}</Code>"
               f"<Message>{escape(err.message)}</Message>{extra}</Error>"
               f"<RequestId>{request_id}</RequestId></ErrorResponse>")  # fmt: skip
        return Response(xml, err.status, media_type="text/xml")
    body = {"__type": err.code, "message": err.message, **err.extra}
    return Response(json.dumps(body), err.status, media_type="application/x-amz-json-1.1",
                    headers={"x-amzn-RequestId": request_id, "x-amzn-ErrorType": err.code})  # fmt: skip
