"""Storing a Stripe event on the STRIPE stream: what the webhook gateway does with a verified
delivery, and what `tollgate catch-up`, `backfill` and `resync` do with events they read from
Stripe's API. One copy per event id, whoever stores it and however often."""

from __future__ import annotations

from nats.js import JetStreamContext
from nats.js.api import PubAck

from tollgate_shared.messaging.publish import publish_with_ack
from tollgate_shared.messaging.streams import STRIPE
from tollgate_shared.observability.tracing import inject


async def store_stripe_event(
    js: JetStreamContext, subject: str, payload: bytes, *, event_id: str, timeout: float = 5.0
) -> PubAck:
    """Publish the raw event on `subject` (`StripeEvent.subject`, i.e. `stripe.<type>`) with
    Msg-Id = the event id and the current trace context; returns JetStream's ack
    (`duplicate=True` if the event was already stored)."""
    return await publish_with_ack(
        js,
        subject,
        payload,
        msg_id=event_id,
        stream=STRIPE.name,
        headers=inject({}),
        timeout=timeout,
    )
