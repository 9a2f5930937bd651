"""The publishers of a service's broker, one per channel it writes to: the STRIPE stream (the
gateway, `stripe.<event type>`), its domain events on the DOMAIN stream (one channel each),
and its dead letters (`dlq.<durable>.<subject>`). Everything a service publishes goes through
them, and they are what the AsyncAPI schema documents as its send operations."""

from __future__ import annotations

from faststream.nats import JStream, NatsBroker
from faststream.nats.publisher.usecase import LogicPublisher
from nats.js.api import PubAck

from tollgate_shared.contracts.base import DomainEvent
from tollgate_shared.contracts.stripe import StripeEvent
from tollgate_shared.messaging.publish import MSG_ID
from tollgate_shared.messaging.streams import DLQ, DOMAIN, STRIPE

Publisher = LogicPublisher


def stripe_events(broker: NatsBroker) -> Publisher:
    """Stripe's events, stored once each on `stripe.<event type>`."""
    return broker.publisher(
        "stripe.>",
        stream=JStream(STRIPE.name, declare=False),
        title="stripe.<event type>",
        description="A verified Stripe event, stored once per event id (Nats-Msg-Id).",
        schema=StripeEvent,
    )


def domain_events(broker: NatsBroker, emitted: type[DomainEvent]) -> dict[str, Publisher]:
    """A publisher per concrete event type derived from `emitted`, keyed by its subject."""
    return {
        subject: broker.publisher(
            subject,
            stream=JStream(DOMAIN.name, declare=False),
            title=subject,
            description=cls.__doc__.strip().partition("\n")[0] if cls.__doc__ else None,
            schema=cls,
        )
        for subject, cls in sorted(DomainEvent.registry.items())
        if issubclass(cls, emitted)
    }


def dead_letters(broker: NatsBroker, durable: str) -> Publisher:
    """Where durable `durable` parks what it gives up on."""
    return broker.publisher(
        f"dlq.{durable}.>",
        stream=JStream(DLQ.name, declare=False),
        title=f"dlq.{durable}.<subject>",
        description=(
            "A message the consumer gave up on: its payload as delivered, and why in the "
            "Tollgate-Error, Tollgate-Original-Subject and Tollgate-Original-Msg-Id headers."
        ),
    )


async def publish(
    publisher: Publisher,
    subject: str,
    payload: bytes,
    *,
    msg_id: str,
    headers: dict[str, str] | None = None,
    timeout: float = 5.0,
) -> PubAck:
    """Publish once per `msg_id` on `subject` of the publisher's stream; returns JetStream's
    ack (`duplicate=True` for a repeat). Raises when the stream did not store it."""
    assert publisher.stream is not None, "channels publish to JetStream streams only"
    return await publisher.publish(
        payload,
        subject,
        headers={**(headers or {}), MSG_ID: msg_id},
        correlation_id=msg_id,  # the event's id: no random one to make per message
        stream=publisher.stream.name,
        timeout=timeout,
    )
