"""Accepting one Stripe delivery: verify, validate, store on JetStream, and only then succeed."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import structlog
from opentelemetry.trace import SpanKind
from pydantic import BaseModel, ValidationError

from tollgate_shared.contracts.stripe import StripeEnvelope
from tollgate_shared.observability.tracing import continued
from webhook_gateway import metrics
from webhook_gateway.adapters.event_store import EventStore
from webhook_gateway.config import Settings
from webhook_gateway.domain.errors import InvalidEvent, InvalidSignature, PayloadTooLarge
from webhook_gateway.domain.signature import SignatureError, verify

log = structlog.get_logger(__name__)


class Stored(BaseModel):
    """The answer Stripe gets once the event is stored."""

    received: bool = True
    id: str
    duplicate: bool


async def read_limited(chunks: AsyncIterator[bytes], declared: str | None, limit: int) -> bytes:
    """Count the delivery, then read its raw body; PayloadTooLarge as soon as it is known to
    exceed `limit` bytes."""
    metrics.RECEIVED.inc()
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise reject("payload_too_large", PayloadTooLarge(f"body exceeds {limit} bytes"))
    body = bytearray()
    async for chunk in chunks:
        body += chunk
        if len(body) > limit:
            raise reject("payload_too_large", PayloadTooLarge(f"body exceeds {limit} bytes"))
    return bytes(body)


def reject(reason: str, error: Exception) -> Exception:
    """Count and log a refused delivery; returns the error to raise."""
    metrics.REJECTED.labels(reason).inc()
    log.warning("webhook.rejected", reason=reason, error=str(error))
    return error


async def accept(
    payload: bytes, signature: str | None, settings: Settings, store: EventStore
) -> Stored:
    """Store a verified, well-formed event once; raise a domain error otherwise."""
    try:
        verify(
            payload,
            signature,
            settings.webhook_secrets,
            tolerance=settings.webhook_tolerance_seconds,
        )
    except SignatureError as exc:
        raise reject(exc.reason, InvalidSignature(exc.message, code=exc.reason)) from None
    try:
        event = StripeEnvelope.model_validate_json(payload)
    except ValidationError as exc:
        details = [{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()]
        error = InvalidEvent("not a valid Stripe event", details=details)
        raise reject("invalid_event", error) from None
    expected_livemode = settings.expected_livemode
    if expected_livemode is not None and event.livemode != expected_livemode:
        error = InvalidEvent(
            f"livemode={event.livemode} does not match this endpoint", code="livemode_mismatch"
        )
        raise reject("livemode_mismatch", error)
    account = settings.stripe_account_id
    if account is not None and event.account not in (None, account):
        error = InvalidEvent(
            f"account {event.account} is not this endpoint's", code="account_mismatch"
        )
        raise reject("account_mismatch", error)
    started = time.perf_counter()
    try:
        with continued(
            "webhook stripe", None, kind=SpanKind.SERVER, event_id=event.id, event_type=event.type
        ):
            ack = await store.store(event.subject, payload, event.id)
    except Exception as exc:
        raise reject("broker_unavailable", exc) from None
    metrics.PUBLISH_SECONDS.observe(time.perf_counter() - started)
    duplicate = bool(ack.duplicate)
    metrics.STORED.labels(event.type, str(duplicate).lower()).inc()
    log.info("webhook.stored", event_id=event.id, type=event.type, seq=ack.seq, duplicate=duplicate)
    return Stored(id=event.id, duplicate=duplicate)
