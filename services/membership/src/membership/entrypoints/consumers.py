"""JetStream consumers: which Stripe events membership reacts to, and with which handler; and
the groups' settings checkout announces."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from membership.domain.errors import NotAMembership
from membership.service_layer import Deps, group_settings
from membership.service_layer.stripe_events import StripeEvents
from membership.service_layer.unit_of_work import MembershipUnitOfWork
from tollgate_shared.contracts.base import DomainEvent
from tollgate_shared.contracts.checkout import (
    CatalogEntryChanged,
    GroupSettingsChanged,
    TierSeatsHeld,
)
from tollgate_shared.contracts.stripe import StripeEvent
from tollgate_shared.infra.runtime import Runtime
from tollgate_shared.messaging.dispatch import Handler as EventHandler
from tollgate_shared.messaging.dispatch import domain_dispatcher, stripe_dispatcher
from tollgate_shared.messaging.message import PermanentError
from tollgate_shared.messaging.streams import DOMAIN, STRIPE, ConsumerSpec

Handler = Callable[[StripeEvents, MembershipUnitOfWork, StripeEvent], Awaitable[None]]

# Stripe's events are all one class (StripeEvent): its handlers are keyed by Stripe's type.
HANDLERS: dict[str, Handler] = {
    "customer.subscription.created": StripeEvents.on_subscription_changed,
    "customer.subscription.updated": StripeEvents.on_subscription_changed,
    "customer.subscription.deleted": StripeEvents.on_subscription_changed,
    "customer.subscription.paused": StripeEvents.on_subscription_changed,
    "customer.subscription.resumed": StripeEvents.on_subscription_changed,
    "customer.subscription.pending_update_applied": StripeEvents.on_subscription_changed,
    "customer.subscription.pending_update_expired": StripeEvents.on_subscription_changed,
    "checkout.session.completed": StripeEvents.on_checkout_settled,
    "checkout.session.async_payment_succeeded": StripeEvents.on_checkout_settled,
    "checkout.session.async_payment_failed": StripeEvents.on_checkout_settled,
    "invoice.paid": StripeEvents.on_invoice_paid,
    "invoice.payment_failed": StripeEvents.on_invoice_payment_failed,
    "charge.refunded": StripeEvents.on_charge_refunded,
    "charge.dispute.closed": StripeEvents.on_dispute_closed,
}


DOMAIN_HANDLERS: dict[type[DomainEvent], EventHandler] = {
    GroupSettingsChanged: group_settings.on_settings_changed,
    CatalogEntryChanged: group_settings.on_entry_changed,
    TierSeatsHeld: group_settings.on_seats_held,
}


def _bind(handler: Handler, stripe_events: StripeEvents) -> EventHandler:
    """The handler on `stripe_events`; membership metadata that names no user or group can
    never be applied: park it."""

    async def handle(uow: MembershipUnitOfWork, event: StripeEvent) -> None:
        try:
            await handler(stripe_events, uow, event)
        except NotAMembership as exc:
            raise PermanentError(str(exc)) from exc

    return handle


def stripe_consumer(durable: str) -> ConsumerSpec:
    """Membership's durable consumer `durable` on the STRIPE stream. Its fetches are applied
    without a savepoint per message: what the handlers do outside the database is reading
    Stripe and cancelling a superseded subscription under an idempotency key of the pair, so
    when a failure rolls a fetch back and its messages are applied again one by one, doing
    that again changes nothing."""
    return ConsumerSpec(durable=durable, stream=STRIPE, filter_subject="stripe.>", savepoints=False)


def domain_consumer(durable: str) -> ConsumerSpec:
    """Membership's durable consumer `durable` on the DOMAIN stream: groups' settings and
    the catalog's tiers (the server delivers the subjects of `DOMAIN_HANDLERS` only)."""
    return ConsumerSpec(
        durable=durable, stream=DOMAIN, filter_subject="checkout.>", savepoints=False
    )


def register(runtime: Runtime, deps: Deps, *, durable: str, domain_durable: str) -> None:
    """Subscribe membership's durable consumer `durable` on the STRIPE stream (before the
    handlers of each fetch applied together, its members are locked: `lock_ahead`), and
    `domain_durable` on DOMAIN for groups' settings."""
    stripe_events = deps.stripe_events
    handlers = {event_type: _bind(h, stripe_events) for event_type, h in HANDLERS.items()}
    dispatcher = stripe_dispatcher(handlers, prefetch=stripe_events.lock_ahead)
    runtime.consume(stripe_consumer(durable), dispatcher, units=deps.uow)
    runtime.consume(
        domain_consumer(domain_durable), domain_dispatcher(DOMAIN_HANDLERS), units=deps.uow
    )
