"""Structured logging with structlog: key=value for people, JSON lines for machines."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from types import TracebackType

import structlog

from tollgate_shared.observability.redaction import mask_values, redact_secrets
from tollgate_shared.observability.tracing import current_trace_id


def _add_trace_id(
    _: object, __: str, event_dict: structlog.types.EventDict
) -> structlog.types.EventDict:
    trace_id = current_trace_id()
    if trace_id:
        event_dict["trace_id"] = trace_id
    return event_dict


def configure_logging(
    level: str = "INFO",
    *,
    json: bool = False,
    service: str = "",
    secrets: Iterable[str] = (),
) -> None:
    """Route structlog and stdlib logging through one renderer on stderr.

    Tracebacks are rendered as plain text without local variables, before redaction, so that
    both renderers print them (JSON lines too) and neither shows a secret: `secrets` (the
    configured ones) are masked wherever they appear, with the patterns of `redaction`."""
    mask_values(secrets)
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_trace_id,
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
        redact_secrets,
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
    )
    structlog.configure(
        # Drop records below the level before any processor runs (hot paths log per event).
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("faststream", "uvicorn.access", "nats"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    logging.captureWarnings(True)
    sys.excepthook = _log_uncaught
    if service:
        structlog.contextvars.bind_contextvars(service=service)


def _log_uncaught(
    kind: type[BaseException], error: BaseException, traceback: TracebackType | None
) -> None:
    # An exception that ends the process is rendered like any other: redacted, no locals.
    structlog.get_logger(__name__).critical("process.crashed", exc_info=(kind, error, traceback))
