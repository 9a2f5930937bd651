"""JetStream consumers: which Stripe events membership reacts to, and with which handler."""

from __future__ import annotations

from tollgate_shared.messaging.dispatch import EventHandler, stripe_dispatcher
from tollgate_shared.messaging.streams import STRIPE, ConsumerSpec
from tollgate_shared.runtime import Runtime

STRIPE_CONSUMER = ConsumerSpec(durable="membership", stream=STRIPE, filter_subject="stripe.>")

STRIPE_HANDLERS: dict[str, EventHandler] = {}


def register(runtime: Runtime) -> None:
    """Subscribe membership's durable consumer on the STRIPE stream."""
    runtime.consume(STRIPE_CONSUMER, stripe_dispatcher(STRIPE_HANDLERS))
