"""JetStream consumers: Stripe's Checkout Session events, and membership occupancy."""

from __future__ import annotations

from collections.abc import Callable

from checkout.service_layer import handlers
from checkout.service_layer.unit_of_work import CheckoutUnitOfWork
from tollgate_shared.infra.runtime import Runtime
from tollgate_shared.messaging.dispatch import Handler, domain_dispatcher, stripe_dispatcher
from tollgate_shared.messaging.streams import DOMAIN, STRIPE, ConsumerSpec

STRIPE_CONSUMER = ConsumerSpec(
    durable="checkout", stream=STRIPE, filter_subject="stripe.checkout.session.>"
)
# Occupancy only writes checkout's own tables: no savepoint per message (see ConsumerSpec),
# and a fetch's reports are written together (`occupancy.OCCUPANCY`).
DOMAIN_CONSUMER = ConsumerSpec(
    durable="checkout", stream=DOMAIN, filter_subject="membership.>", savepoints=False
)

STRIPE_HANDLERS: dict[str, Handler] = {
    "checkout.session.completed": handlers.on_session_completed,
    "checkout.session.async_payment_succeeded": handlers.on_async_payment_succeeded,
    "checkout.session.async_payment_failed": handlers.on_async_payment_failed,
    "checkout.session.expired": handlers.on_session_expired,
}
DOMAIN_HANDLERS: dict[str, Handler] = {
    subject: handlers.on_membership_event
    for subject in (
        "membership.activated",
        "membership.renewed",
        "membership.tier_changed",
        "membership.past_due",
        "membership.canceled",
        "membership.expired",
        "membership.revoked",
    )
}


def register(runtime: Runtime, units: Callable[[], CheckoutUnitOfWork]) -> None:
    """Subscribe checkout's durable consumers on the STRIPE and DOMAIN streams."""
    runtime.consume(STRIPE_CONSUMER, stripe_dispatcher(STRIPE_HANDLERS), units=units)
    runtime.consume(DOMAIN_CONSUMER, domain_dispatcher(DOMAIN_HANDLERS), units=units)
