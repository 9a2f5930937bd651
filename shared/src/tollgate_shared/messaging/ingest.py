"""Storing a Stripe event on the STRIPE stream: what the webhook gateway does with a verified
delivery, and what `tollgate catch-up`, `backfill` and `resync` do with events they read from
Stripe's API. One copy per event id, whoever stores it and however often."""

from __future__ import annotations

from nats.js.api import PubAck

from tollgate_shared.messaging.channels import Publisher, publish
from tollgate_shared.observability.tracing import inject


async def store_stripe_event(
    stripe_events: Publisher,
    subject: str,
    payload: bytes,
    *,
    event_id: str,
    timeout: float = 5.0,
) -> PubAck:
    """Publish the raw event on `subject` (`StripeEvent.subject`, i.e. `stripe.<type>`) through
    the STRIPE publisher (`channels.stripe_events`), with Msg-Id = the event id and the
    current trace context; returns JetStream's ack (`duplicate=True` if it was already
    stored)."""
    return await publish(
        stripe_events, subject, payload, msg_id=event_id, headers=inject({}), timeout=timeout
    )
