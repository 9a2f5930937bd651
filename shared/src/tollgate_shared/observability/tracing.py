"""OpenTelemetry traces that follow one Stripe event through every service.

The gateway starts a trace per webhook request and writes its W3C `traceparent` into the
message headers; each consumer continues it while it applies the message, and events it
queues in its outbox carry it on, so one trace shows the event's whole journey. Spans are
exported over OTLP/HTTP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from opentelemetry import context, propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, SpanKind

_configured = False


def configure_tracing(service: str) -> None:
    """Install a tracer provider for `service` once per process (OTLP export if configured)."""
    global _configured
    if _configured:
        return
    provider = TracerProvider(resource=Resource.create({"service.name": f"tollgate-{service}"}))
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    _configured = True


def tracer() -> trace.Tracer:
    """Tollgate's tracer."""
    return trace.get_tracer("tollgate")


def inject(headers: dict[str, str]) -> dict[str, str]:
    """Add the current trace context (`traceparent`) to message headers; returns them."""
    propagate.inject(headers)
    return headers


@contextmanager
def continued(
    name: str, headers: Mapping[str, str] | None, *, kind: SpanKind, **attributes: str
) -> Iterator[Span]:
    """A span continuing the trace carried by `headers` (a new trace if they carry none), or
    the current trace when `headers` is None (e.g. inside an already traced HTTP request)."""
    token = context.attach(propagate.extract(dict(headers))) if headers is not None else None
    try:
        with tracer().start_as_current_span(name, kind=kind, attributes=attributes) as span:
            yield span
    finally:
        if token is not None:
            context.detach(token)


def current_trace_id() -> str | None:
    """The current trace id in hex, for logs; None outside a trace."""
    span_context = trace.get_current_span().get_span_context()
    return format(span_context.trace_id, "032x") if span_context.is_valid else None
