"""A payment's parts joined in the service layer: a subscription's charge refunded and
disputed before its invoice said whose it is, and another app's events, which read nothing."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.domain.accounts import Account
from ledger.service_layer import disputes, joins, refunds
from tollgate_shared.contracts.ledger import PaymentRecorded, RefundRecorded

from .test_handlers import GROUP, NOW, Ledger, _dispute, _refund


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


async def test_another_apps_charges_refunds_and_disputes_book_nothing(books: Ledger) -> None:
    foreign = _refund("re_9", "ch_9", 500, "succeeded")
    await books.on(refunds.on_refund_event, "refund.created", foreign)
    await books.on(disputes.on_dispute_event, "charge.dispute.created", _dispute("needs_response"))
    await books.on(joins.on_charge, "charge.succeeded", _subscription_charge())

    assert books.store.transactions == {} and books.store.outbox == {}
    assert set(books.store.parts) == {("charge", "pi_1")}  # until pruned, or its invoice comes
