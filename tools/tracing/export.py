"""Spans on their way out: the SDK's provider (service "kriptik", the instance id) and the
redactor in front of its exporter. Imported only where traces are on (the SDK takes ~50 ms
to import)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.sampling import ALWAYS_ON
from opentelemetry.trace import Status
from opentelemetry.util.types import AttributeValue

from vault.redact import redact

__all__ = ["RedactingExporter", "exporting_provider"]


def exporting_provider(
    exporter: SpanExporter, *, service_name: str, instance_id: str, batch: bool
) -> SdkTracerProvider:
    """A provider whose spans go through the redactor to `exporter`: in batches from a
    thread of its own (`batch`), else each as it ends (tests read them at once)."""
    # Passed in full, so the SDK reads no OTEL_RESOURCE_ATTRIBUTES or sampler from the
    # environment: the settings are the one configuration.
    resource = Resource({"service.name": service_name, "service.instance.id": instance_id})
    provider = SdkTracerProvider(resource=resource, sampler=ALWAYS_ON)
    redacting = RedactingExporter(exporter)
    processor = BatchSpanProcessor(redacting) if batch else SimpleSpanProcessor(redacting)
    provider.add_span_processor(processor)
    return provider


def _clean_value(value: AttributeValue) -> AttributeValue:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Sequence) and any(isinstance(v, str) for v in value):
        return [redact(str(v)) for v in value]
    return value


def _clean(attributes: Mapping[str, AttributeValue] | None) -> dict[str, AttributeValue]:
    return {key: _clean_value(value) for key, value in (attributes or {}).items()}


def _redacted(span: ReadableSpan) -> ReadableSpan:
    """A copy of `span` with every string (name, attributes, events, status) redacted."""
    status = span.status
    if status.description:
        status = Status(status.status_code, redact(status.description))
    events = [Event(redact(e.name), _clean(e.attributes), e.timestamp) for e in span.events]
    return ReadableSpan(
        name=redact(span.name), context=span.context, parent=span.parent,
        resource=span.resource, attributes=_clean(span.attributes), events=events,
        links=span.links, kind=span.kind, status=status, start_time=span.start_time,
        end_time=span.end_time, instrumentation_scope=span.instrumentation_scope,
    )  # fmt: skip


class RedactingExporter(SpanExporter):
    """Every span through the redactor, then to `inner`: a key decrypted in this process
    never leaves in a span, whatever a library put in it (an error's message, say)."""

    def __init__(self, inner: SpanExporter) -> None:
        self.inner = inner

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self.inner.export([_redacted(span) for span in spans])

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)
