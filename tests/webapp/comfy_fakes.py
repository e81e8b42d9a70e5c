"""A ComfyUI worker behind the RunPod job fake, for the workflow page and clients.

`ComfyWorkerFake` is a `RunPodState.handler`: it checks a job input the way the generated
ComfyUI worker does (unknown fields and values of the wrong type or range are refused
with `{"error"}` naming what is allowed; a missing field takes the workflow's default) and
answers with the worker's output contract: `{"images": [{"filename", "node_id", "mime",
"type": "base64" | "url", "data"}], "prompt_id"}`. `FileHost` serves files over loopback
HTTP for the "url" entries, as the worker's bucket upload would, and records who asked.
"""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

from tests.webapp.conftest import ENDPOINT_ID
from tests.webapp.media import png
from tools.artifacts.client import EndpointInfo, InputField, field_defaults
from tools.artifacts.webapp import AppSpec
from tools.comfy import UserInput

WORKFLOW_MODEL_ID = "comfyui/sdxl-text-to-image"


def sdxl_inputs(*, prompt_label: str = "Positive prompt") -> tuple[UserInput, ...]:
    """The inputs an SDXL text-to-image workflow exposes (node ids of ComfyUI's default graph)."""
    rows: list[dict[str, Any]] = [
        {"name": "prompt", "label": prompt_label, "kind": "text", "node_id": "6", "input_name": "text",
         "default": "a bottle of wine on a wooden table, studio light"},
        {"name": "negative_prompt", "label": "Negative prompt", "kind": "text", "node_id": "7",
         "input_name": "text", "default": "blurry, watermark"},
        {"name": "seed", "label": "Seed", "kind": "integer", "node_id": "3", "input_name": "seed",
         "default": 156680208700286, "minimum": 0, "maximum": 18446744073709551615},
        {"name": "steps", "label": "Steps", "kind": "integer", "node_id": "3", "input_name": "steps",
         "default": 20, "minimum": 1, "maximum": 150},
        {"name": "cfg", "label": "CFG scale", "kind": "number", "node_id": "3", "input_name": "cfg",
         "default": 7.5, "minimum": 0, "maximum": 30},
        {"name": "width", "label": "Width", "kind": "integer", "node_id": "5", "input_name": "width",
         "default": 1024, "minimum": 64, "maximum": 4096},
        {"name": "image", "label": "Reference image", "kind": "image", "node_id": "10",
         "input_name": "image", "default": "example.png"},
    ]  # fmt: skip
    return tuple(UserInput.model_validate(row) for row in rows)


def workflow_spec(
    inputs: tuple[UserInput, ...] | None = None, *, title: str = "SDXL Studio", **extra: Any
) -> AppSpec:
    """The workflow page's spec for the fake endpoint, as `spec_from_deployment` builds it."""
    fields = tuple(InputField.from_user_input(i) for i in inputs or sdxl_inputs())
    endpoint = EndpointInfo(endpoint_id=ENDPOINT_ID, model_id=WORKFLOW_MODEL_ID)
    values: dict[str, Any] = {"kind": "workflow", "project": "demo-workflow", "title": title,
                              "endpoint": endpoint, "fields": fields,
                              "example_input": field_defaults(fields)}  # fmt: skip
    return AppSpec.model_validate(values | extra)


Delivery = Literal["base64", "url"]
# What an `image` field takes: a data URI, an https URL, or plain base64.
_IMAGE_VALUE = r"data:image/[a-z.+-]+;base64,[A-Za-z0-9+/=]+|https://\S+|[A-Za-z0-9+/]+={0,2}"


@dataclass
class ComfyWorkerFake:
    """The generated ComfyUI worker's input check and output, as a job handler."""

    inputs: tuple[UserInput, ...]
    outputs: list[tuple[str, bytes]] = field(default_factory=lambda: [("image/png", png(3))])
    delivery: Delivery = "base64"
    url_base: str = ""
    received: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])

    def __call__(self, job_input: Any) -> dict[str, Any]:
        self.received.append(job_input)
        if problem := self._refusal(job_input):
            return {"error": problem}
        images = [self._entry(i, mime, data) for i, (mime, data) in enumerate(self.outputs)]
        return {"images": images, "prompt_id": f"prompt-{len(self.received)}"}

    def applied(self) -> dict[str, Any]:
        """The values the last job ran with: the workflow's defaults, then the job's."""
        defaults = {i.name: i.default for i in self.inputs}
        return defaults | self.received[-1]

    def _refusal(self, job_input: Any) -> str | None:
        if not isinstance(job_input, dict):
            return "The job input must be an object of fields."
        known = {i.name: i for i in self.inputs}
        for name, value in job_input.items():
            spec = known.get(name)
            if spec is None:
                return f"Unknown input {name!r}; this workflow takes: {', '.join(known)}."
            if problem := _wrong_value(spec, value):
                return problem
        return None

    def _entry(self, index: int, mime: str, data: bytes) -> dict[str, Any]:
        extension = mime.split("/")[1]
        name = f"ComfyUI_{index + 1:05d}_.{extension}"
        entry = {"filename": name, "node_id": "9", "mime": mime, "type": self.delivery}
        if self.delivery == "url":
            return entry | {"data": f"{self.url_base}/{name}"}
        return entry | {"data": base64.b64encode(data).decode()}


def _wrong_value(spec: UserInput, value: Any) -> str | None:
    if spec.kind == "text":
        return None if isinstance(value, str) else f"{spec.name} takes text."
    if spec.kind == "image":
        ok = isinstance(value, str) and bool(re.fullmatch(_IMAGE_VALUE, value))
        return None if ok else f"{spec.name} takes a data URI, base64 or an https URL."
    whole = spec.kind == "integer"
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or (whole and not float(value).is_integer())
    ):
        return f"{spec.name} takes {'a whole number' if whole else 'a number'}."
    low, high = spec.minimum, spec.maximum
    if (low is not None and value < low) or (high is not None and value > high):
        return f"{spec.name} must be between {low} and {high}."
    return None


@dataclass
class FileHost:
    """Files served over loopback HTTP, by path; `headers` holds each request's headers."""

    url: str
    files: dict[str, tuple[str, bytes]]
    headers: list[dict[str, str]]


@contextmanager
def file_host(files: dict[str, tuple[str, bytes]]) -> Iterator[FileHost]:
    """Serve `files` (path -> (mime, bytes)) on 127.0.0.1 until the block ends."""
    seen: list[dict[str, str]] = []

    class _Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append({k.lower(): v for k, v in self.headers.items()})
            found = files.get(self.path.split("?")[0])
            self.send_response(200 if found else 404)
            self.send_header("content-type", found[0] if found else "text/plain")
            body = found[1] if found else b"gone"
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield FileHost(f"http://127.0.0.1:{server.server_address[1]}", files, seen)
    finally:
        server.shutdown()
        server.server_close()
