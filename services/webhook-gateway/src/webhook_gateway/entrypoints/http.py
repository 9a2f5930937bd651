"""`POST /webhooks/stripe`: verify, validate, store on JetStream, and only then answer 200."""

from __future__ import annotations

import time

import structlog
from fastapi import APIRouter, Request
from opentelemetry.trace import SpanKind
from pydantic import BaseModel, ValidationError

from tollgate_shared.events.stripe import StripeEvent
from tollgate_shared.observability.tracing import continued
from webhook_gateway import metrics
from webhook_gateway.adapters.event_store import EventStore
from webhook_gateway.config import Settings
from webhook_gateway.domain.errors import InvalidEvent, InvalidSignature, PayloadTooLarge
from webhook_gateway.domain.signature import SignatureError, verify

log = structlog.get_logger(__name__)
router = APIRouter(tags=["webhooks"])


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refusing with 413 as soon as it is known to exceed `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"body exceeds {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge(f"body exceeds {limit} bytes")
    return bytes(body)


def reject(reason: str, error: Exception) -> Exception:
    metrics.REJECTED.labels(reason).inc()
    log.warning("webhook.rejected", reason=reason, error=str(error))
    return error


class Stored(BaseModel):
    received: bool = True
    id: str
    duplicate: bool


_SIGNATURE_HEADER = {
    "parameters": [
        {
            "name": "Stripe-Signature",
            "in": "header",
            "required": True,
            "schema": {"type": "string"},
            "description": "`t=<unix time>,v1=<hex HMAC-SHA256>` as Stripe sends it",
        }
    ],
    "requestBody": {"required": True, "content": {"application/json": {"schema": {}}}},
}


# The route reads the raw request itself (no dependencies to solve, no body model): it is
# the platform's hottest path and must see the exact bytes Stripe signed.
@router.post("/webhooks/stripe", openapi_extra=_SIGNATURE_HEADER)
async def receive_stripe_event(request: Request) -> Stored:
    """Receive a Stripe webhook; 200 only after JetStream confirmed it stored the event."""
    settings: Settings = request.app.state.settings
    store: EventStore = request.app.state.event_store
    metrics.RECEIVED.inc()
    try:
        payload = await read_body(request, settings.webhook_max_body_bytes)
    except PayloadTooLarge as exc:
        raise reject("payload_too_large", exc) from None
    try:
        verify(
            payload,
            request.headers.get("stripe-signature"),
            settings.webhook_secrets,
            tolerance=settings.webhook_tolerance_seconds,
        )
    except SignatureError as exc:
        raise reject(exc.reason, InvalidSignature(exc.message, code=exc.reason)) from None
    try:
        event = StripeEvent.model_validate_json(payload)
    except ValidationError as exc:
        details = [{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()]
        error = InvalidEvent("not a valid Stripe event", details=details)
        raise reject("invalid_event", error) from None
    if settings.stripe_livemode is not None and event.livemode != settings.stripe_livemode:
        error = InvalidEvent(
            f"livemode={event.livemode} does not match this endpoint", code="livemode_mismatch"
        )
        raise reject("livemode_mismatch", error)

    started = time.perf_counter()
    try:
        with continued(
            "webhook stripe", None, kind=SpanKind.INTERNAL, event_id=event.id, event_type=event.type
        ):
            ack = await store.store(event.subject, payload, event.id)
    except Exception as exc:
        raise reject("broker_unavailable", exc) from None
    metrics.PUBLISH_SECONDS.observe(time.perf_counter() - started)
    duplicate = bool(ack.duplicate)
    metrics.STORED.labels(event.type, str(duplicate).lower()).inc()
    log.info("webhook.stored", event_id=event.id, type=event.type, seq=ack.seq, duplicate=duplicate)
    return Stored(id=event.id, duplicate=duplicate)
