"""JetStream consumers: which Stripe events the ledger books, and with which handler; and the
groups' settings checkout announces."""

from __future__ import annotations

from prometheus_client import Counter

from ledger.domain.errors import UnbalancedTransaction
from ledger.service_layer import (
    Deps,
    Handler,
    disbursements,
    disputes,
    failures,
    fetches,
    groups,
    joins,
    refunds,
    risk,
)
from ledger.service_layer.unit_of_work import LedgerUnitOfWork
from tollgate_shared.contracts.base import DomainEvent
from tollgate_shared.contracts.checkout import GroupSettingsChanged
from tollgate_shared.contracts.stripe import StripeEvent
from tollgate_shared.infra.runtime import Runtime
from tollgate_shared.messaging.dispatch import Handler as EventHandler
from tollgate_shared.messaging.dispatch import domain_dispatcher, stripe_dispatcher
from tollgate_shared.messaging.message import PermanentError
from tollgate_shared.messaging.streams import BACKGROUND_GATHER, DOMAIN, STRIPE, ConsumerSpec

# Its handlers call Stripe not at all but to read a group's payout (a refund is asked for over
# HTTP, not here): a fetch needs no savepoint per message (see ConsumerSpec).
STRIPE_CONSUMER = ConsumerSpec(
    durable="ledger",
    stream=STRIPE,
    filter_subject="stripe.>",
    savepoints=False,
    gather_seconds=BACKGROUND_GATHER,
)
# A group's settings only write the ledger's own table: no savepoint per message.
DOMAIN_CONSUMER = ConsumerSpec(
    durable="ledger",
    stream=DOMAIN,
    filter_subject="checkout.>",
    savepoints=False,
    gather_seconds=BACKGROUND_GATHER,
)

# Stripe's events are all one class (StripeEvent): its handlers are keyed by Stripe's type.
HANDLERS: dict[str, Handler] = {
    "charge.succeeded": joins.on_charge,
    "charge.failed": failures.on_charge_failed,
    "invoice.paid": joins.on_invoice_paid,
    "invoice.payment_succeeded": joins.on_invoice_paid,
    "invoice_payment.paid": joins.on_invoice_payment_paid,
    "invoice.payment_failed": failures.on_invoice_payment_failed,
    "invoice.voided": joins.on_invoice_updated,
    "invoice.marked_uncollectible": joins.on_invoice_updated,
    "checkout.session.completed": joins.on_checkout_completed,
    "checkout.session.async_payment_succeeded": joins.on_checkout_completed,
    "payment_intent.succeeded": joins.on_intent_succeeded,
    "payment_intent.payment_failed": failures.on_intent_failed,
    "charge.refunded": joins.on_charge_refunded,
    "charge.refund.updated": refunds.on_refund_event,
    "refund.created": refunds.on_refund_event,
    "refund.updated": refunds.on_refund_event,
    "refund.failed": refunds.on_refund_event,
    "charge.dispute.created": disputes.on_dispute_event,
    "charge.dispute.updated": disputes.on_dispute_event,
    "charge.dispute.funds_withdrawn": disputes.on_dispute_event,
    "charge.dispute.funds_reinstated": disputes.on_dispute_event,
    "charge.dispute.closed": disputes.on_dispute_event,
    "radar.early_fraud_warning.created": risk.on_early_fraud_warning,
    "radar.early_fraud_warning.updated": risk.on_early_fraud_warning,
    "review.opened": risk.on_review,
    "review.closed": risk.on_review,
    "transfer.created": disbursements.on_transfer,
    "transfer.updated": disbursements.on_transfer,
    "transfer.reversed": disbursements.on_transfer,
    "payout.created": disbursements.on_payout,
    "payout.updated": disbursements.on_payout,
    "payout.paid": disbursements.on_payout,
    "payout.failed": disbursements.on_payout,
    "payout.canceled": disbursements.on_payout,
}

DOMAIN_HANDLERS: dict[type[DomainEvent], EventHandler] = {
    GroupSettingsChanged: groups.on_group_settings_changed,
}


PAYMENT_EVENTS = Counter(
    "tollgate_payment_events_total",
    "Payment outcomes on the STRIPE stream, counted once each when the ledger has applied them",
    ["consumer", "type"],
)
PAYMENT_OUTCOMES = ("charge.succeeded", "charge.failed", "invoice.paid", "invoice.payment_failed")


def _bind(handler: Handler, deps: Deps) -> EventHandler:
    async def handle(uow: LedgerUnitOfWork, event: StripeEvent) -> None:
        try:
            await handler(deps, uow, event)
        except UnbalancedTransaction as exc:
            raise PermanentError(str(exc)) from exc
        if event.type in PAYMENT_OUTCOMES:
            uow.after_commit(PAYMENT_EVENTS.labels(STRIPE_CONSUMER.durable, event.type).inc)

    return handle


def register(runtime: Runtime, deps: Deps) -> None:
    """Subscribe the ledger's durable consumers on the STRIPE stream (before the handlers of
    a fetch, the Stripe objects its events name are locked and the payments of its charge
    events read, each in one statement: `fetches.prepare`) and on the DOMAIN stream."""
    handlers = {event_type: _bind(h, deps) for event_type, h in HANDLERS.items()}
    dispatcher = stripe_dispatcher(handlers, prefetch=fetches.prepare)
    runtime.consume(STRIPE_CONSUMER, dispatcher, units=deps.uow)
    runtime.consume(DOMAIN_CONSUMER, domain_dispatcher(DOMAIN_HANDLERS), units=deps.uow)
