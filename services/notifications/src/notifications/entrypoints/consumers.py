"""JetStream consumers: domain events and the Stripe events notifications mails about."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import partial
from typing import Any, TypeVar

from notifications.adapters import directory
from notifications.domain import intents
from notifications.service_layer import Deps
from notifications.service_layer.handlers import Handlers
from notifications.service_layer.notifier import catalog_keys
from notifications.service_layer.unit_of_work import NotificationsUnitOfWork
from tollgate_shared.contracts.base import DomainEvent
from tollgate_shared.contracts.checkout import (
    CatalogEntryChanged,
    GroupSettingsChanged,
    PurchaseClaimed,
    PurchasePaid,
)
from tollgate_shared.contracts.ledger import (
    DisputeClosed,
    DisputeOpened,
    PaymentRecorded,
    PayoutFailed,
    PayoutRecorded,
    PayoutRejected,
    RefundRecorded,
)
from tollgate_shared.contracts.membership import (
    MembershipActivated,
    MembershipCanceled,
    MembershipEnded,
    MembershipExpired,
    MembershipPastDue,
    MembershipRenewed,
    MembershipRevoked,
    MembershipTierChanged,
)
from tollgate_shared.contracts.stripe import StripeEvent
from tollgate_shared.infra.runtime import Runtime
from tollgate_shared.messaging.dispatch import Handler, domain_dispatcher, stripe_dispatcher
from tollgate_shared.messaging.streams import BACKGROUND_GATHER, DOMAIN, STRIPE, ConsumerSpec

Key = TypeVar("Key")
MethodHandler = Callable[[Handlers, NotificationsUnitOfWork, Any], Awaitable[None]]

DOMAIN_HANDLERS: dict[type[DomainEvent], MethodHandler] = {
    MembershipActivated: Handlers.on_membership_activated,
    MembershipRenewed: Handlers.on_membership_renewed,
    MembershipTierChanged: Handlers.on_membership_tier_changed,
    MembershipPastDue: Handlers.on_membership_past_due,
    MembershipCanceled: Handlers.on_membership_ended,
    MembershipExpired: Handlers.on_membership_ended,
    MembershipRevoked: Handlers.on_membership_ended,
    PaymentRecorded: Handlers.on_payment_recorded,
    RefundRecorded: Handlers.on_refund_recorded,
    DisputeOpened: Handlers.on_dispute_opened,
    DisputeClosed: Handlers.on_dispute_closed,
    PayoutRecorded: Handlers.on_payout_outcome,
    PayoutRejected: Handlers.on_payout_outcome,
    PayoutFailed: Handlers.on_payout_outcome,
    PurchasePaid: Handlers.on_purchase_paid,
    PurchaseClaimed: Handlers.on_purchase_event,
    GroupSettingsChanged: Handlers.on_group_settings_changed,
    CatalogEntryChanged: Handlers.on_catalog_entry_changed,
}
# Stripe's events are all one class (StripeEvent): its handlers are keyed by Stripe's type.
STRIPE_HANDLERS: dict[str, MethodHandler] = {
    "invoice.payment_failed": Handlers.on_invoice_payment_failed,
    "invoice.paid": Handlers.on_invoice_paid,
    "charge.succeeded": Handlers.on_charge_succeeded,
    "customer.subscription.deleted": Handlers.on_subscription_deleted,
    "customer.subscription.trial_will_end": Handlers.on_trial_will_end,
    "payment_intent.payment_failed": Handlers.on_payment_intent_failed,
}
INVOICE_EVENTS = ("invoice.payment_failed", "invoice.paid")
"""Events whose handlers write their invoice's attempts (`StripeDetails.attempted`)."""


def _bound(handlers: Mapping[Key, MethodHandler], to: Handlers) -> dict[Key, Handler]:
    return {key: partial(handler, to) for key, handler in handlers.items()}


async def _read_ahead(uow: NotificationsUnitOfWork, events: Sequence[DomainEvent]) -> None:
    """Before the handlers of a fetch of domain events: lock the one-time terms they track
    (a handler writes a term as it goes, so two fetches about the same members in opposite
    orders deadlocked on `expiries`), then read the groups, tiers and items they name, the
    stored addresses of the members named by those that carry none, and the Stripe details
    that complete their notifications, one statement each."""
    terms: set[str] = set()
    group_ids: set[str] = set()
    user_ids: set[str] = set()
    details: set[str] = set()
    entries: set[str] = set()
    for event in events:
        if isinstance(event, PaymentRecorded):
            details.update(intents.receipt_keys(event))
        elif isinstance(event, MembershipEnded):
            details.update(intents.ending_keys(event))
        elif isinstance(event, MembershipActivated | MembershipRenewed):
            details.update(intents.sale_keys(event))
        group_id = getattr(event, "group_id", None)
        user_id = getattr(event, "user_id", None)
        entries.update(catalog_keys(vars(event)))
        if group_id is not None:
            group_ids.add(group_id)
        if user_id is not None and not getattr(event, "email", None):
            user_ids.add(user_id)
        if getattr(event, "source", None) == "one_time":
            terms.add(directory.term_key(group_id, user_id))
    await uow.lock(*terms)
    if group_ids:
        await uow.directory.read_groups(group_ids)
    if user_ids:
        await uow.directory.read_member_emails(user_ids)
    if details:
        await uow.details.read(details)
    if entries:
        await uow.directory.entries(entries)


async def _lock_invoices(uow: NotificationsUnitOfWork, events: Sequence[StripeEvent]) -> None:
    """Before the handlers of a fetch of Stripe events: lock the invoices whose attempts they
    write, in one order, so that fetches about the same invoices wait for each other instead
    of deadlocking (and an attempt's mail is superseded by a later one applied meanwhile);
    then read what is known of their attempts, in one statement."""
    invoices = {str(e.data.object.get("id")) for e in events if e.type in INVOICE_EVENTS}
    await uow.lock(*(f"invoice:{invoice}" for invoice in invoices))
    if invoices:
        await uow.details.read_attempts(invoices)


def register(runtime: Runtime, deps: Deps, *, durable: str, ack_wait: float) -> None:
    """One durable consumer per stream, asking for the handled subjects only. The handlers
    only record in the database (the sender mails later), so a fetch needs no savepoint per
    message: after a failure its messages are simply applied again one by one. Addresses and
    notifications are written once per transaction (`deferred.PENDING`), each in key order;
    before the handlers of a fetch of domain events, the one-time terms it tracks are locked,
    and the groups it names and the addresses of its members that the events do not carry are
    read, one statement each."""
    domain = domain_dispatcher(_bound(DOMAIN_HANDLERS, deps.handlers), prefetch=_read_ahead)
    spec = ConsumerSpec(
        durable, DOMAIN, ">", ack_wait=ack_wait, savepoints=False, gather_seconds=BACKGROUND_GATHER
    )
    runtime.consume(spec, domain, units=deps.uow)
    stripe = stripe_dispatcher(_bound(STRIPE_HANDLERS, deps.handlers), prefetch=_lock_invoices)
    spec = ConsumerSpec(
        durable,
        STRIPE,
        "stripe.>",
        ack_wait=ack_wait,
        savepoints=False,
        gather_seconds=BACKGROUND_GATHER,
    )
    runtime.consume(spec, stripe, units=deps.uow)
