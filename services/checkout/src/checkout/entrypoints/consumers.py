"""JetStream consumers: Stripe's events about checkouts (sessions, and the card form's
subscriptions and payment intents), and membership occupancy."""

from __future__ import annotations

from collections.abc import Callable

from checkout.service_layer import handlers
from checkout.service_layer.unit_of_work import CheckoutUnitOfWork
from tollgate_shared.contracts.base import DomainEvent
from tollgate_shared.contracts.membership import (
    MembershipActivated,
    MembershipCanceled,
    MembershipExpired,
    MembershipPastDue,
    MembershipRenewed,
    MembershipRevoked,
    MembershipTierChanged,
)
from tollgate_shared.infra.runtime import Runtime
from tollgate_shared.messaging.dispatch import Handler, domain_dispatcher, stripe_dispatcher
from tollgate_shared.messaging.streams import BACKGROUND_GATHER, DOMAIN, STRIPE, ConsumerSpec

# Asks the server for the subjects of STRIPE_HANDLERS only. Its handlers only write checkout's
# own tables (no Stripe call): no savepoint per message (see ConsumerSpec).
STRIPE_CONSUMER = ConsumerSpec(
    durable="checkout",
    stream=STRIPE,
    filter_subject="stripe.>",
    savepoints=False,
    gather_seconds=BACKGROUND_GATHER,
)
# Occupancy only writes checkout's own tables too, and a fetch's reports are written together
# (`occupancy.OCCUPANCY`). Admission reads what it writes: it does not gather.
DOMAIN_CONSUMER = ConsumerSpec(
    durable="checkout", stream=DOMAIN, filter_subject="membership.>", savepoints=False
)

# Stripe's events are all one class (StripeEvent): its handlers are keyed by Stripe's type.
STRIPE_HANDLERS: dict[str, Handler] = {
    "checkout.session.completed": handlers.on_session_completed,
    "checkout.session.async_payment_succeeded": handlers.on_async_payment_succeeded,
    "checkout.session.async_payment_failed": handlers.on_async_payment_failed,
    "checkout.session.expired": handlers.on_session_expired,
    "payment_intent.succeeded": handlers.on_payment_intent_succeeded,
    "payment_intent.payment_failed": handlers.on_payment_intent_failed,
    "payment_intent.canceled": handlers.on_payment_intent_canceled,
    "customer.subscription.updated": handlers.on_subscription_changed,
    "customer.subscription.deleted": handlers.on_subscription_changed,
}
DOMAIN_HANDLERS: dict[type[DomainEvent], Handler] = {
    MembershipActivated: handlers.on_membership_event,
    MembershipRenewed: handlers.on_membership_event,
    MembershipTierChanged: handlers.on_membership_event,
    MembershipPastDue: handlers.on_membership_event,
    MembershipCanceled: handlers.on_membership_event,
    MembershipExpired: handlers.on_membership_event,
    MembershipRevoked: handlers.on_membership_event,
}


def register(runtime: Runtime, units: Callable[[], CheckoutUnitOfWork]) -> None:
    """Subscribe checkout's durable consumers on the STRIPE and DOMAIN streams."""
    stripe = stripe_dispatcher(STRIPE_HANDLERS, prefetch=handlers.lock_checkouts)
    runtime.consume(STRIPE_CONSUMER, stripe, units=units)
    runtime.consume(DOMAIN_CONSUMER, domain_dispatcher(DOMAIN_HANDLERS), units=units)
