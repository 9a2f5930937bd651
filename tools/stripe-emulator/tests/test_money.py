"""Refunds, disputes, Radar, transfers and payouts."""

from typing import Any

import pytest
import stripe

from stripe_emulator.testing import RunningEmulator, WebhookReceiver, wait_for


def paid_charge(
    client: stripe.StripeClient, emulator: RunningEmulator, price: stripe.Price
) -> stripe.Charge:
    session = client.v1.checkout.sessions.create(
        {"mode": "payment", "line_items": [{"price": price.id, "quantity": 2}]}
    )
    emulator.control("POST", f"/checkout/sessions/{session.id}/complete", json={})
    intent = client.v1.payment_intents.retrieve(
        client.v1.checkout.sessions.retrieve(session.id).payment_intent
    )
    return client.v1.charges.retrieve(intent.latest_charge)


def test_partial_then_full_refund_and_over_refund(
    client: stripe.StripeClient,
    catalog: dict[str, Any],
    hooked: RunningEmulator,
    receiver: WebhookReceiver,
) -> None:
    charge = paid_charge(client, hooked, catalog["once"])
    assert charge.amount == 3000

    partial = client.v1.refunds.create(
        {
            "charge": charge.id,
            "amount": 1000,
            "reason": "requested_by_customer",
            "metadata": {"ticket": "t1"},
        }
    )
    assert partial.status == "succeeded" and partial.amount == 1000
    assert partial.metadata.to_dict() == {"ticket": "t1"}
    charge = client.v1.charges.retrieve(charge.id)
    assert charge.amount_refunded == 1000 and not charge.refunded

    with pytest.raises(stripe.InvalidRequestError) as over:
        client.v1.refunds.create({"charge": charge.id, "amount": 2500})
    assert over.value.param == "amount"

    rest = client.v1.refunds.create({"payment_intent": charge.payment_intent})
    assert rest.amount == 2000
    assert client.v1.charges.retrieve(charge.id).refunded
    with pytest.raises(stripe.InvalidRequestError) as again:
        client.v1.refunds.create({"charge": charge.id})
    assert again.value.code == "charge_already_refunded"

    refund_txn = client.v1.balance_transactions.retrieve(rest.balance_transaction)
    assert refund_txn.amount == -2000 and refund_txn.type == "refund"
    assert [r.id for r in client.v1.refunds.list({"charge": charge.id}).data] == [
        rest.id,
        partial.id,
    ]
    wait_for(lambda: receiver.types().count("refund.created") == 2, what="refund events")
    types = receiver.types()
    refund_types = [t for t in types if t in ("charge.refunded", "refund.created")]
    assert refund_types == ["charge.refunded", "refund.created"] * 2
    refunded_event = next(
        r.event for r in receiver.snapshot() if r.event["type"] == "charge.refunded"
    )
    assert refunded_event["data"]["previous_attributes"] == {
        "amount_refunded": 0,
        "refunded": False,
    }
    assert refunded_event["request"]["id"].startswith("req_")


@pytest.mark.parametrize(
    ("outcome", "last_event"),
    [
        ("won", "charge.dispute.funds_reinstated"),
        ("lost", "charge.dispute.closed"),
    ],
)
def test_dispute_opened_and_closed(
    client: stripe.StripeClient,
    catalog: dict[str, Any],
    emulator: RunningEmulator,
    outcome: str,
    last_event: str,
) -> None:
    charge = paid_charge(client, emulator, catalog["once"])

    dispute = emulator.control("POST", f"/charges/{charge.id}/dispute", json={})
    assert client.v1.charges.retrieve(charge.id).disputed
    opened = client.v1.disputes.retrieve(dispute["id"])
    assert opened.status == "needs_response" and opened.amount == 3000
    withdrawal = opened.balance_transactions[0]
    assert withdrawal.amount == -3000 and withdrawal.fee == 1500

    emulator.control("POST", f"/disputes/{dispute['id']}/close", json={"outcome": outcome})

    assert client.v1.disputes.retrieve(dispute["id"]).status == outcome
    assert [d.id for d in client.v1.disputes.list({"charge": charge.id}).data] == [dispute["id"]]
    types = emulator.event_types()
    assert types[types.index("charge.dispute.created") :] == [
        "charge.dispute.created",
        "charge.dispute.funds_withdrawn",
        "charge.dispute.closed",
        *(["charge.dispute.funds_reinstated"] if outcome == "won" else []),
    ]
    assert types[-1] == last_event


def test_fraud_warning_and_review(
    client: stripe.StripeClient, catalog: dict[str, Any], emulator: RunningEmulator
) -> None:
    charge = paid_charge(client, emulator, catalog["once"])

    warning = emulator.control("POST", f"/charges/{charge.id}/early_fraud_warning", json={})
    review = emulator.control("POST", f"/charges/{charge.id}/review", json={})

    assert client.v1.radar.early_fraud_warnings.retrieve(warning["id"]).charge == charge.id
    assert client.v1.radar.early_fraud_warnings.list({"charge": charge.id}).data[0].actionable
    assert client.v1.reviews.retrieve(review["id"]).open
    assert client.v1.charges.retrieve(charge.id).review == review["id"]
    closed = emulator.control("POST", f"/reviews/{review['id']}/close", json={"reason": "refunded"})
    assert closed["open"] is False and closed["closed_reason"] == "refunded"
    assert emulator.event_types()[-3:] == [
        "radar.early_fraud_warning.created",
        "review.opened",
        "review.closed",
    ]


def test_transfers_payouts_and_balance_transactions(client: stripe.StripeClient) -> None:
    transfer = client.v1.transfers.create(
        {"amount": 700, "currency": "eur", "destination": "acct_123", "metadata": {"g": "1"}}
    )
    payout = client.v1.payouts.create({"amount": 300, "currency": "eur"})

    assert client.v1.transfers.retrieve(transfer.id).destination == "acct_123"
    assert [t.id for t in client.v1.transfers.list().data] == [transfer.id]
    assert client.v1.payouts.retrieve(payout.id).status == "pending"
    assert [p.id for p in client.v1.payouts.list().data] == [payout.id]
    txns = client.v1.balance_transactions.list({"type": "payout"}).data
    assert [(t.amount, t.source) for t in txns] == [(-300, payout.id)]
