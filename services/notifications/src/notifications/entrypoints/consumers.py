"""JetStream consumers: domain events and the Stripe events notifications mails about."""

from __future__ import annotations

from notifications.service_layer.handlers import Handlers
from tollgate_shared.messaging.dispatch import domain_dispatcher, stripe_dispatcher
from tollgate_shared.messaging.streams import DOMAIN, STRIPE, ConsumerSpec
from tollgate_shared.runtime import Runtime


def register(runtime: Runtime, handlers: Handlers, *, durable: str, ack_wait: float) -> None:
    """One durable consumer per stream; unhandled subjects (our own `notification.*`
    included: a consumer has one filter) are acked untouched."""
    domain = domain_dispatcher(handlers.domain())
    runtime.consume(ConsumerSpec(durable, DOMAIN, ">", ack_wait=ack_wait), domain)
    stripe = stripe_dispatcher(handlers.stripe())
    runtime.consume(ConsumerSpec(durable, STRIPE, "stripe.>", ack_wait=ack_wait), stripe)
