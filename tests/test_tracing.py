"""The process's traces (`tools.tracing`): off without an endpoint (no exporter, no-op
spans), every string through the redactor on its way out, and spans on the OTLP/HTTP wire
to a loopback collector as protobuf."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Final

import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NoOpTracerProvider, StatusCode
from pydantic import SecretStr

from agent.interaction import DeclineAll
from tests.conftest import new_master_key
from tools.tracing import Tracing, traces_url
from ui.root import Root
from vault import REDACTOR
from vault.logs import JsonFormatter
from vault.settings import isolated_settings

SECRET: Final = "rpa_PLANTEDSECRET0123456789abcdef"


def test_no_endpoint_no_exporter_and_no_op_spans(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("an exporter was created with tracing off")

    monkeypatch.setattr(OTLPSpanExporter, "__init__", refuse)
    before = trace.get_tracer_provider()
    tracing = Tracing.from_settings(isolated_settings())

    assert not tracing.exporting
    assert isinstance(tracing.provider, NoOpTracerProvider)
    with tracing.turn(user_id="u", thread_id="t") as span:
        assert not span.is_recording()
        assert not span.get_span_context().is_valid
    tracing.serve_dbos()  # DBOS is given nothing, and the global provider is left alone
    assert trace.get_tracer_provider() is before
    tracing.shutdown()


def test_a_blank_endpoint_is_off() -> None:
    assert isolated_settings(otlp_endpoint="  ").otlp_endpoint is None
    with pytest.raises(ValueError, match="otlp_endpoint"):
        isolated_settings(otlp_endpoint="collector:4318")
    assert traces_url("http://127.0.0.1:4318/") == "http://127.0.0.1:4318/v1/traces"


@pytest.fixture
def planted() -> Iterator[str]:
    REDACTOR.register(SECRET)
    yield SECRET
    REDACTOR.clear()


def test_every_string_of_a_span_is_redacted(planted: str) -> None:
    exported = InMemorySpanExporter()
    tracing = Tracing.exporting_to(exported, instance_id="i-1", batch=False)
    with tracing.tracer.start_as_current_span(f"call {planted}") as span:
        span.set_attribute("one", f"key={planted}")
        span.set_attribute("many", ["ok", planted])
        span.set_attribute("count", 3)
        span.add_event("failed", {"why": f"rejected {planted}"})
        span.set_status(StatusCode.ERROR, f"401 for {planted}")
    tracing.shutdown()

    [out] = exported.get_finished_spans()
    everything = f"{out.name} {out.attributes} {out.events[0].attributes} {out.status.description}"
    assert planted not in everything
    assert out.attributes is not None and out.attributes["count"] == 3
    assert out.events[0].name == "failed"
    assert out.status.status_code is StatusCode.ERROR


class _Collector(BaseHTTPRequestHandler):
    """A loopback OTLP/HTTP collector: keeps each POST's path, content type and body."""

    received: list[tuple[str, str, bytes]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.path, self.headers["Content-Type"], body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def collector(
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[str, list[tuple[str, str, bytes]]]]:
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)  # loopback, straight
    received: list[tuple[str, str, bytes]] = []
    handler = type("Collector", (_Collector,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_spans_arrive_at_the_collector_as_otlp_protobuf(
    collector: tuple[str, list[tuple[str, str, bytes]]],
) -> None:
    endpoint, received = collector
    tracing = Tracing.from_settings(isolated_settings(otlp_endpoint=endpoint, instance_id="i-7"))
    assert tracing.exporting
    with tracing.turn(user_id="u-1", thread_id="t-1"):
        with tracing.tracer.start_as_current_span("inner"):
            pass
    tracing.shutdown()  # flushes the batch: one POST, answered before it returns

    [(path, content_type, body)] = received
    assert path == "/v1/traces"
    assert content_type == "application/x-protobuf"
    request = ExportTraceServiceRequest.FromString(body)
    [resource_spans] = request.resource_spans
    resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
    assert resource["service.name"] == "kriptik"
    assert resource["service.instance.id"] == "i-7"
    names = {span.name for scope in resource_spans.scope_spans for span in scope.spans}
    assert names == {"chat turn", "inner"}


async def test_the_root_hands_its_provider_down_and_flushes_it_on_close(
    tmp_path: Path, collector: tuple[str, list[tuple[str, str, bytes]]]
) -> None:
    endpoint, received = collector
    settings = isolated_settings(
        home=tmp_path / "home", database_url=f"sqlite+aiosqlite:///{tmp_path / 'k.db'}",
        master_key=SecretStr(new_master_key()), otlp_endpoint=endpoint, instance_id="i-9",
    )  # fmt: skip
    root = await Root.open(settings)
    try:
        turn = root.turn(user_id="u-1", user_name="ann", thread_id="t-1", interaction=DeclineAll())
        assert turn.tracing is root.tracing and root.tracing.exporting
        with turn.tracing.turn(user_id="u-1", thread_id="t-1"):
            pass
        assert received == []  # batched: nothing sent yet
    finally:
        await root.close()

    [(_, _, body)] = received
    [resource_spans] = ExportTraceServiceRequest.FromString(body).resource_spans
    assert [s.name for scope in resource_spans.scope_spans for s in scope.spans] == ["chat turn"]


def test_a_log_line_inside_a_turn_names_its_trace() -> None:
    tracing = Tracing.exporting_to(InMemorySpanExporter(), instance_id="i-1", batch=False)
    record = logging.LogRecord("kriptik", logging.INFO, __file__, 1, "inside", None, None)
    with tracing.turn(user_id="u-1", thread_id="t-1") as span:
        line = json.loads(JsonFormatter().format(record))
    tracing.shutdown()
    assert line["trace_id"] == f"{span.get_span_context().trace_id:032x}"
