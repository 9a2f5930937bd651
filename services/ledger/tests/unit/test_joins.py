"""A payment's parts joined in the service layer: a subscription's, a one-off payment's and a
PaymentIntent purchase's events (its charge without metadata) with a refund and a dispute in
every order (these before the payment's first event too), and again; a checkout before its
charge; a checkout, its intent and its charge in every order; an intent without metadata of
its own; another app's refunds and disputes, kept unbooked until pruned."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ledger.domain.accounts import Account
from ledger.service_layer import disputes, joins, refunds
from tollgate_shared.contracts.ledger import DisputeOpened, PaymentRecorded, RefundRecorded

from .test_handlers import GROUP, NOW, Handler, Ledger, _dispute, _refund


@pytest.fixture
def books() -> Ledger:
    return Ledger()


def _subscription_charge() -> dict[str, Any]:
    """ch_1 of a subscription: no metadata, no fee in the event (its balance transaction is
    not expanded)."""
    return {
        "id": "ch_1",
        "object": "charge",
        "amount": 10_000,
        "currency": "usd",
        "status": "succeeded",
        "created": NOW,
        "customer": "cus_1",
        "payment_intent": "pi_1",
        "balance_transaction": "txn_1",
        "billing_details": {"email": "m@example.com"},
    }


def _invoice() -> dict[str, Any]:
    return {
        "id": "in_1",
        "object": "invoice",
        "status": "paid",
        "customer": "cus_1",
        "amount_due": 10_000,
        "amount_paid": 10_000,
        "currency": "usd",
        "created": NOW,
        "parent": {
            "subscription_details": {
                "subscription": "sub_1",
                "metadata": {"group_id": GROUP, "user_id": "usr_1"},
            }
        },
    }


def _invoice_payment() -> dict[str, Any]:
    return {
        "id": "inpay_1",
        "object": "invoice_payment",
        "invoice": "in_1",
        "amount_paid": 10_000,
        "currency": "usd",
        "status": "paid",
        "payment": {"type": "payment_intent", "payment_intent": "pi_1"},
    }


async def test_a_refund_and_a_dispute_before_the_invoice_are_booked_with_the_payment(
    books: Ledger,
) -> None:
    await books.on(joins.on_charge, "charge.succeeded", _subscription_charge())
    refund = _refund("re_1", "ch_1", 2_000, "succeeded")
    await books.on(refunds.on_refund_event, "refund.created", refund)
    await books.on(disputes.on_dispute_event, "charge.dispute.created", _dispute("needs_response"))
    await books.on(joins.on_invoice_payment_paid, "invoice_payment.paid", _invoice_payment())
    assert books.store.transactions == {}

    await books.on(joins.on_invoice_paid, "invoice.paid", _invoice())

    assert books.moved() == {
        Account.GROSS_REVENUE: -10_000,
        Account.REFUNDS: 2_000,
        Account.PAYABLE_TO_ORGANIZER: 8_000,
    }
    [payment] = books.store.payments.values()
    assert (payment.invoice_id, payment.fee, payment.email) == ("in_1", None, "m@example.com")
    assert [e.fee for e in books.store.emitted(PaymentRecorded)] == [0]
    assert len(books.store.emitted(RefundRecorded)) == 1
    assert books.store.statuses["disputes", "dp_1"]["status"] == "needs_response"
    assert books.store.parts == {}


def _checkout() -> dict[str, Any]:
    """The paid payment-mode checkout of pi_1 (its charge carries the same metadata)."""
    return {
        "id": "cs_1",
        "object": "checkout.session",
        "mode": "payment",
        "payment_status": "paid",
        "payment_intent": "pi_1",
        "metadata": {"group_id": GROUP, "user_id": "usr_1"},
        "customer_details": {"email": "checkout@example.com"},
    }


def _one_off_charge(**fields: Any) -> dict[str, Any]:
    return {**_subscription_charge(), "metadata": {"group_id": GROUP, "user_id": "usr_1"}, **fields}


def _intent(**fields: Any) -> dict[str, Any]:
    """pi_1 of a purchase through the PaymentIntent endpoint, succeeded, with its own
    metadata."""
    metadata = {"group_id": GROUP, "user_id": "usr_1", "purpose": "purchase", "item_id": "it_1"}
    return {
        "id": "pi_1",
        "object": "payment_intent",
        "status": "succeeded",
        "amount": 10_000,
        "currency": "usd",
        "customer": "cus_1",
        "latest_charge": "ch_1",
        "metadata": {**metadata, "reference": "ref_1"},
        **fields,
    }


Step = tuple[Handler, str, dict[str, Any]]
PARTIAL_REFUND = _refund("re_1", "ch_1", 2_000, "succeeded")
REFUND: Step = (refunds.on_refund_event, "refund.created", PARTIAL_REFUND)
REFUNDED: Step = (
    joins.on_charge_refunded,
    "charge.refunded",
    _one_off_charge(refunded=False, amount_refunded=2_000),
)
WITHDRAWN = _dispute("needs_response", (-10_000, 1_500))
DISPUTE: Step = (disputes.on_dispute_event, "charge.dispute.funds_withdrawn", WITHDRAWN)
SUBSCRIPTION: tuple[Step, ...] = (
    (joins.on_charge, "charge.succeeded", _subscription_charge()),
    (joins.on_invoice_payment_paid, "invoice_payment.paid", _invoice_payment()),
    (joins.on_invoice_paid, "invoice.paid", _invoice()),
)
ONE_OFF: tuple[Step, ...] = (
    (joins.on_checkout_completed, "checkout.session.completed", _checkout()),
    (joins.on_charge, "charge.succeeded", _one_off_charge()),
)
INTENT_PURCHASE: tuple[Step, ...] = (
    (joins.on_intent_succeeded, "payment_intent.succeeded", _intent()),
    # Its charge as if Stripe had not copied the intent's metadata onto it.
    (joins.on_charge, "charge.succeeded", _subscription_charge()),
)
ORDERS = [
    *(("subscription", o) for o in itertools.permutations((*SUBSCRIPTION, REFUND, DISPUTE))),
    *(("one-off", o) for o in itertools.permutations((*ONE_OFF, REFUND, REFUNDED, DISPUTE))),
    *(("intent", o) for o in itertools.permutations((*INTENT_PURCHASE, REFUND, DISPUTE))),
]


@pytest.mark.parametrize(("kind", "order"), ORDERS)
async def test_a_refund_and_a_dispute_in_any_order_with_the_payment_are_booked_once(
    books: Ledger, kind: str, order: tuple[Step, ...]
) -> None:
    """Each order (the refund or dispute before any of the payment's events too), then every
    event again, newest first: one payment, one refund, one dispute, no part left."""
    for handler, event_type, obj in order:
        await books.on(handler, event_type, obj)
    for handler, event in reversed(list(books.delivered)):
        await books.apply(handler, event)

    assert books.moved() == {
        Account.GROSS_REVENUE: -10_000,
        Account.REFUNDS: 2_000,
        Account.DISPUTES: 10_000,
        Account.STRIPE_FEES: 1_500,
        Account.PAYABLE_TO_ORGANIZER: -3_500,
    }
    assert [p.charge_id for p in books.store.payments.values()] == ["ch_1"]
    announced = (PaymentRecorded, RefundRecorded, DisputeOpened)
    assert [len(books.store.emitted(kind)) for kind in announced] == [1, 1, 1]
    assert books.store.statuses["refunds", "re_1"]["status"] == "succeeded"
    assert books.store.parts == {}
    if kind == "one-off":
        steps = {step["event_type"] for step in books.store.timeline.values()}
        assert "charge.refunded" in steps


async def test_a_checkout_before_its_charge_tells_the_payers_email_and_is_forgotten(
    books: Ledger,
) -> None:
    await books.on(joins.on_checkout_completed, "checkout.session.completed", _checkout())
    charge = _one_off_charge(billing_details=None)
    await books.on(joins.on_charge, "charge.succeeded", charge)

    [payment] = books.store.payments.values()
    assert (payment.group_id, payment.email) == (GROUP, "checkout@example.com")
    assert books.store.parts == {}


TELLERS: tuple[Step, ...] = (
    (joins.on_checkout_completed, "checkout.session.completed", _checkout()),
    (joins.on_intent_succeeded, "payment_intent.succeeded", _intent()),
    (joins.on_charge, "charge.succeeded", _one_off_charge()),
)


@pytest.mark.parametrize("order", list(itertools.permutations(TELLERS)))
async def test_a_checkouts_intent_and_charge_that_each_tell_whose_it_is_book_once(
    books: Ledger, order: tuple[Step, ...]
) -> None:
    """A payment-mode checkout's intent carries the metadata too: whichever of the three comes
    first, one payment, announced once, no part left."""
    for handler, event_type, obj in order:
        await books.on(handler, event_type, obj)

    [payment] = books.store.payments.values()
    assert (payment.group_id, payment.email) == (GROUP, "m@example.com")
    assert len(books.store.emitted(PaymentRecorded)) == 1
    assert books.store.parts == {}


async def test_an_intent_without_metadata_of_its_own_keeps_nothing(books: Ledger) -> None:
    """A subscription invoice's intent (its invoice tells whose it is), or another app's."""
    await books.on(joins.on_intent_succeeded, "payment_intent.succeeded", _intent(metadata={}))
    foreign = _intent(id="pi_9", metadata={"order": "9"})
    await books.on(joins.on_intent_succeeded, "payment_intent.succeeded", foreign)
    unpaid = _intent(id="pi_8", status="requires_action")
    await books.on(joins.on_intent_succeeded, "payment_intent.succeeded", unpaid)

    assert books.store.parts == {} and books.store.transactions == {}
    assert books.store.outbox == {} and books.stripe.objects == {}


async def test_another_apps_refunds_and_disputes_are_kept_unbooked_until_pruned(
    books: Ledger,
) -> None:
    foreign = _refund("re_9", "ch_9", 500, "succeeded")
    await books.on(refunds.on_refund_event, "refund.created", foreign)
    await books.on(disputes.on_dispute_event, "charge.dispute.created", _dispute("needs_response"))
    await books.on(joins.on_charge, "charge.succeeded", _subscription_charge())

    assert books.store.transactions == {} and books.store.outbox == {}
    assert books.store.statuses == {} and books.store.timeline == {}
    kept = {(p.kind, p.partner) for p in books.store.parts.values()}
    assert kept == {("charge", "ch_1"), ("event", "ch_9"), ("event", "ch_1")}

    async with books.deps.uow() as uow:
        pruned = await uow.parts.prune(datetime.now(UTC) + timedelta(seconds=1))
        await uow.commit()
    assert pruned == 3 and books.store.parts == {}
