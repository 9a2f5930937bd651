"""OpenTelemetry traces that follow one Stripe event through every service.

The gateway starts a trace per webhook request and writes its W3C `traceparent` into the
message headers; each consumer continues it while it applies the message, and events it
queues in its outbox carry it on, so one trace shows the event's whole journey. HTTP requests
(FastAPI's spans), database statements (psycopg's instrumentation) and Stripe calls
(`client_span`) are spans of it. Spans are exported over OTLP/HTTP when
`OTEL_EXPORTER_OTLP_ENDPOINT` is set.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

from opentelemetry import context, propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from opentelemetry.trace import Link, Span, SpanKind, TraceState
from opentelemetry.util.types import Attributes

_configured = False
_exporting = False


class _RecordWhileExporting(Sampler):
    """Record spans only while something exports them. Otherwise spans are dropped — but
    they keep valid ids, so `traceparent` still propagates and logs still carry trace ids —
    and the hot paths do not pay for recording that nobody reads."""

    def should_sample(
        self,
        parent_context: context.Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        state = trace.get_current_span(parent_context).get_span_context().trace_state
        if _exporting:
            return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes, state)
        return SamplingResult(Decision.DROP, None, state)

    def get_description(self) -> str:
        return "RecordWhileExporting"


def configure_tracing(service: str) -> None:
    """Install a tracer provider for `service` once per process (OTLP export if configured)."""
    global _configured
    if _configured:
        return
    resource = Resource.create({"service.name": f"tollgate-{service}"})
    trace.set_tracer_provider(TracerProvider(resource=resource, sampler=_RecordWhileExporting()))
    _configured = True
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        export_to(BatchSpanProcessor(OTLPSpanExporter()))


def export_to(processor: SpanProcessor) -> None:
    """Record spans from now on and hand them to `processor` (an exporter's, or a test's);
    database statements get spans of their own from then on (connections opened later)."""
    global _exporting
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        raise RuntimeError("configure_tracing() first")
    provider.add_span_processor(processor)
    _exporting = True
    _instrument_database()


@functools.cache
def _instrument_database() -> None:
    """A span per statement on psycopg connections (SQLAlchemy's and the raw pools' alike),
    only once something exports spans: the hot paths pay nothing otherwise."""
    try:
        from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    except ImportError:  # a service without the persistence extra has no database
        return
    PsycopgInstrumentor().instrument(enable_commenter=False, skip_dep_check=True)


@contextmanager
def client_span(name: str, **attributes: str) -> Iterator[None]:
    """A client span around a call to another system (Stripe), while spans are exported."""
    if not _exporting:
        yield
        return
    with tracer().start_as_current_span(name, kind=SpanKind.CLIENT, attributes=attributes):
        yield


@contextmanager
def exported_to(processor: SpanProcessor) -> Iterator[None]:
    """Spans recorded and handed to `processor` within the block only (for tests)."""
    global _exporting
    before = _exporting
    export_to(processor)
    try:
        yield
    finally:
        _exporting = before  # the provider keeps the processor, but nothing reaches it


def exporting() -> bool:
    """Whether spans are recorded (something exports them)."""
    return _exporting


@functools.cache
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
    the current trace when `headers` is None (e.g. inside an already traced HTTP request);
    while nothing exports spans, the carried trace itself (no new span)."""
    carried = propagate.extract(dict(headers)) if headers is not None else None
    token = context.attach(carried) if carried is not None else None
    try:
        if not _exporting and trace.get_current_span(carried).get_span_context().is_valid:
            # Nothing records spans: the carried trace (its id in the logs) is all a span would
            # give, at a quarter of a span's cost per message.
            yield trace.get_current_span()
            return
        with tracer().start_as_current_span(name, kind=kind, attributes=attributes) as span:
            yield span
    finally:
        if token is not None:
            context.detach(token)


def current_trace_id() -> str | None:
    """The current trace id in hex, for logs; None outside a trace."""
    span_context = trace.get_current_span().get_span_context()
    return format(span_context.trace_id, "032x") if span_context.is_valid else None
