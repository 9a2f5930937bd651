"""JetStream consumers: domain events and the Stripe events notifications mails about."""

from __future__ import annotations

from notifications.adapters.deferred import deferred
from notifications.service_layer.handlers import Handlers
from tollgate_shared.messaging.dispatch import domain_dispatcher, stripe_dispatcher
from tollgate_shared.messaging.streams import DOMAIN, STRIPE, ConsumerSpec
from tollgate_shared.runtime import Runtime


def register(runtime: Runtime, handlers: Handlers, *, durable: str, ack_wait: float) -> None:
    """One durable consumer per stream, asking for the handled subjects only. The handlers
    only record in the database (the sender mails later), so a fetch needs no savepoint per
    message: after a failure its messages are simply applied again one by one. Addresses and
    notifications are written once per transaction (`deferred`)."""
    domain = domain_dispatcher(handlers.domain())
    spec = ConsumerSpec(durable, DOMAIN, ">", ack_wait=ack_wait, savepoints=False)
    runtime.consume(spec, domain, scope=deferred)
    stripe = stripe_dispatcher(handlers.stripe())
    spec = ConsumerSpec(durable, STRIPE, "stripe.>", ack_wait=ack_wait, savepoints=False)
    runtime.consume(spec, stripe, scope=deferred)
