"""The process's OpenTelemetry traces: one `Tracing` per composition root, owning one
`TracerProvider`, handed down to the chat turn and the pipeline.

```
chat turn                         agent.turn: one span per turn (user, thread, outcome)
└─ invoke_agent kriptik           pydantic-ai's instrumentation (agent.run._capabilities):
   ├─ chat <model>                  one span per model request
   └─ execute_tool <tool>           one span per tool call
      └─ DeploymentPipeline.deploy  DBOS's tracing: the workflow, and a span per step
         └─ ...step...
```

Exported over OTLP (http/protobuf) to `Settings.otlp_endpoint` (a collector's base URL;
spans go to `{endpoint}/v1/traces`). Unset: a no-op provider, no exporter, and the SDK is
never imported. Prompts, completions, tool arguments and results are never recorded
(pydantic-ai's `include_content=False`), and every string a span carries (its name,
attributes, events and status) passes through the redactor on its way out, as log lines
do: no key that was decrypted in this process can leave in a span.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Generator
from typing import TYPE_CHECKING, Final

from opentelemetry import trace
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.trace import NoOpTracerProvider, Span, Tracer, TracerProvider
from opentelemetry.util.types import Attributes

if TYPE_CHECKING:  # the SDK is imported only where spans are exported
    from opentelemetry.sdk.trace.export import SpanExporter

    from vault.settings import Settings

__all__ = ["SERVICE_NAME", "Tracing", "traces_url"]

SERVICE_NAME: Final = "kriptik"
_log = logging.getLogger(__name__)


def traces_url(endpoint: str) -> str:
    """The OTLP/HTTP traces URL of a collector's base URL (`http://collector:4318`)."""
    return endpoint.rstrip("/") + "/v1/traces"


class Tracing:
    """The traces of one process. Build it with `from_settings` (or `off`, `exporting_to`).

    Args:
        provider: Where spans go: an SDK provider that exports them, or a no-op one.
        exporting: Whether spans are recorded at all (False: the no-op provider).
    """

    def __init__(self, provider: TracerProvider, *, exporting: bool) -> None:
        self.provider = provider
        self.exporting = exporting
        self.tracer: Tracer = provider.get_tracer(SERVICE_NAME)

    @classmethod
    def off(cls) -> Tracing:
        """No traces: every span is a no-op, and nothing is exported."""
        return cls(NoOpTracerProvider(), exporting=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> Tracing:
        """Spans exported in batches to the OTLP collector at `settings.otlp_endpoint`,
        naming `settings.instance_id`; none where no endpoint is set."""
        endpoint = settings.otlp_endpoint
        if endpoint is None:
            return cls.off()
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        # The exporter's own metrics go nowhere (the process's are Prometheus's); it reads
        # OTEL_EXPORTER_OTLP_* for what we do not pass (headers, certificates).
        exporter = OTLPSpanExporter(
            endpoint=traces_url(endpoint), timeout=10, meter_provider=NoOpMeterProvider()
        )
        return cls.exporting_to(exporter, instance_id=settings.instance_id, batch=True)

    @classmethod
    def exporting_to(cls, exporter: SpanExporter, *, instance_id: str, batch: bool) -> Tracing:
        """Spans exported to `exporter`, through the redactor (`tools.tracing.export`)."""
        from tools.tracing.export import exporting_provider

        provider = exporting_provider(
            exporter, service_name=SERVICE_NAME, instance_id=instance_id, batch=batch
        )
        return cls(provider, exporting=True)

    @contextlib.contextmanager
    def turn(self, *, user_id: str, thread_id: str) -> Generator[Span]:
        """The span of one chat turn, current inside (its model requests, tool calls and
        the workflows they start are its children). Ids only: never the user's text. An
        error is the caller's to record (`Span.set_status`); its message is not kept."""
        attributes = {"kriptik.user.id": user_id, "kriptik.thread.id": thread_id}
        with self.tracer.start_as_current_span(
            "chat turn", attributes=attributes, record_exception=False,
            set_status_on_exception=False,
        ) as span:  # fmt: skip
            yield span

    def serve_dbos(self) -> None:
        """Give DBOS this provider. DBOS reads only the global provider
        (`opentelemetry.trace.get_tracer`, per span): the global is set once per process to
        a switch that hands DBOS the provider of the pipeline launched last."""
        if not self.exporting:
            return
        if trace.get_tracer_provider() is not _DBOS_SWITCH:
            trace.set_tracer_provider(_DBOS_SWITCH)  # once per process; a second is ignored
        if trace.get_tracer_provider() is not _DBOS_SWITCH:
            _log.warning("another global tracer provider is set: DBOS's spans go there")
        _DBOS_SWITCH.current = self.provider

    def release_dbos(self) -> None:
        """DBOS's spans stop coming here (the pipeline stopped)."""
        if _DBOS_SWITCH.current is self.provider:
            _DBOS_SWITCH.current = NoOpTracerProvider()

    def shutdown(self) -> None:
        """Export the spans not yet exported, then stop (blocking: up to the exporter's
        timeout). Safe to call again; a no-op when off."""
        self.release_dbos()
        stop = getattr(self.provider, "shutdown", None)
        if self.exporting and callable(stop):
            stop()


class _SwitchedProvider(TracerProvider):
    """The global provider, for DBOS alone: each tracer comes from `current`."""

    def __init__(self) -> None:
        self.current: TracerProvider = NoOpTracerProvider()

    def get_tracer(
        self, instrumenting_module_name: str, instrumenting_library_version: str | None = None,
        schema_url: str | None = None, attributes: Attributes = None,
    ) -> Tracer:  # fmt: skip
        return self.current.get_tracer(
            instrumenting_module_name, instrumenting_library_version, schema_url, attributes
        )


_DBOS_SWITCH: Final = _SwitchedProvider()
