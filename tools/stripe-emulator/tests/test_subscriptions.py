"""Subscription updates, cancellation and renewals."""

from typing import Any

import pytest
import stripe

from stripe_emulator.testing import RunningEmulator


def subscribe(
    client: stripe.StripeClient, emulator: RunningEmulator, catalog: dict[str, Any]
) -> stripe.Subscription:
    session = client.v1.checkout.sessions.create(
        {
            "mode": "subscription",
            "line_items": [{"price": catalog["monthly"].id, "quantity": 1}],
            "subscription_data": {"metadata": {"tier_id": "gold"}},
        }
    )
    emulator.control("POST", f"/checkout/sessions/{session.id}/complete", json={})
    subscription_id = client.v1.checkout.sessions.retrieve(session.id).subscription
    return client.v1.subscriptions.retrieve(subscription_id)


def test_cancel_at_period_end_then_period_ends(
    client: stripe.StripeClient, catalog: dict[str, Any], emulator: RunningEmulator
) -> None:
    subscription = subscribe(client, emulator, catalog)
    period_end = subscription["items"].data[0].current_period_end

    updated = client.v1.subscriptions.update(
        subscription.id,
        {"cancel_at_period_end": True, "metadata": {"reason": "moving"}},
        {"idempotency_key": f"end-{subscription.id}"},
    )

    assert updated.cancel_at_period_end and updated.cancel_at == period_end
    assert updated.metadata.to_dict() == {"tier_id": "gold", "reason": "moving"}
    event = emulator.events("customer.subscription.updated")[-1]
    assert event["data"]["previous_attributes"]["cancel_at_period_end"] is False
    assert event["request"]["idempotency_key"] == f"end-{subscription.id}"

    emulator.control("POST", f"/subscriptions/{subscription.id}/advance", json={})

    assert client.v1.subscriptions.retrieve(subscription.id).status == "canceled"
    assert emulator.event_types()[-1] == "customer.subscription.deleted"


def test_cancel_now_and_cancel_again_is_stripes_error(
    client: stripe.StripeClient, catalog: dict[str, Any], emulator: RunningEmulator
) -> None:
    subscription = subscribe(client, emulator, catalog)

    canceled = client.v1.subscriptions.cancel(subscription.id)

    assert canceled.status == "canceled" and canceled.ended_at is not None
    assert canceled.cancellation_details.reason == "cancellation_requested"
    with pytest.raises(stripe.InvalidRequestError) as again:
        client.v1.subscriptions.cancel(subscription.id)
    assert again.value.http_status == 404 and again.value.code == "resource_missing"
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.subscriptions.update(subscription.id, {"cancel_at_period_end": True})
    assert client.v1.subscriptions.list({"customer": canceled.customer}).data == []
    ended = client.v1.subscriptions.list({"customer": canceled.customer, "status": "canceled"})
    assert [s.id for s in ended.data] == [subscription.id]
    deletes = [c for c in emulator.control("GET", "/requests") if c["method"] == "DELETE"]
    assert deletes == [
        {"method": "DELETE", "path": f"/v1/subscriptions/{subscription.id}", "count": 2}
    ]


def test_renewal_success_moves_the_period_and_pays_a_new_invoice(
    client: stripe.StripeClient, catalog: dict[str, Any], emulator: RunningEmulator
) -> None:
    subscription = subscribe(client, emulator, catalog)
    first_item = subscription["items"].data[0]
    first_invoice = subscription.latest_invoice
    seen = len(emulator.events())

    emulator.control("POST", f"/subscriptions/{subscription.id}/advance", json={})

    renewed = client.v1.subscriptions.retrieve(subscription.id)
    item = renewed["items"].data[0]
    assert item.current_period_start == first_item.current_period_end
    assert item.current_period_end > item.current_period_start
    assert renewed.latest_invoice != first_invoice and renewed.status == "active"
    invoice = client.v1.invoices.retrieve(renewed.latest_invoice)
    assert invoice.status == "paid" and invoice.billing_reason == "subscription_cycle"
    assert invoice.period_start == item.current_period_start
    assert invoice.parent.subscription_details.metadata.to_dict() == {"tier_id": "gold"}
    new_events = emulator.events()[seen:]
    new_types = [e["type"] for e in new_events]
    assert "invoice.paid" in new_types
    # The invoice payment links the invoice to the payment intent that paid it, in the event.
    [linked] = [e["data"]["object"] for e in new_events if e["type"] == "invoice_payment.paid"]
    assert (linked["object"], linked["invoice"], linked["status"]) == (
        "invoice_payment",
        invoice.id,
        "paid",
    )
    assert linked["amount_paid"] == invoice.amount_paid
    assert linked["payment"]["type"] == "payment_intent"
    [payment] = client.v1.invoice_payments.list({"invoice": invoice.id}).data
    assert linked["payment"]["payment_intent"] == payment["payment"]["payment_intent"]
    assert new_types[-1] == "customer.subscription.updated"
    listed = client.v1.invoices.list({"subscription": subscription.id}).data
    assert [i.id for i in listed] == [renewed.latest_invoice, first_invoice]


@pytest.mark.parametrize("final_status", ["canceled", "unpaid"])
def test_renewal_failure_goes_past_due_then_final_status(
    client: stripe.StripeClient,
    catalog: dict[str, Any],
    emulator: RunningEmulator,
    final_status: str,
) -> None:
    subscription = subscribe(client, emulator, catalog)
    declining = {"card_number": "4000000000000002", "on_failure": final_status}

    emulator.control("POST", f"/subscriptions/{subscription.id}/advance", json=declining)

    past_due = client.v1.subscriptions.retrieve(subscription.id)
    assert past_due.status == "past_due"
    invoice = client.v1.invoices.retrieve(past_due.latest_invoice)
    assert invoice.status == "open" and invoice.attempt_count == 1
    assert "invoice.payment_failed" in emulator.event_types()

    emulator.control("POST", f"/subscriptions/{subscription.id}/advance", json=declining)

    assert client.v1.subscriptions.retrieve(subscription.id).status == final_status
    expected_last = (
        "customer.subscription.deleted"
        if final_status == "canceled"
        else "customer.subscription.updated"
    )
    assert emulator.event_types()[-1] == expected_last


def test_past_due_recovers_when_the_retry_pays(
    client: stripe.StripeClient, catalog: dict[str, Any], emulator: RunningEmulator
) -> None:
    subscription = subscribe(client, emulator, catalog)
    path = f"/subscriptions/{subscription.id}/advance"
    emulator.control("POST", path, json={"card_number": "4000000000009995"})

    emulator.control("POST", path, json={})

    recovered = client.v1.subscriptions.retrieve(subscription.id)
    assert recovered.status == "active"
    assert client.v1.invoices.retrieve(recovered.latest_invoice).status == "paid"


def test_billing_portal_session(
    client: stripe.StripeClient, catalog: dict[str, Any], emulator: RunningEmulator
) -> None:
    subscription = subscribe(client, emulator, catalog)

    portal = client.v1.billing_portal.sessions.create(
        {"customer": subscription.customer, "return_url": "https://app.example/account"}
    )

    assert portal.id.startswith("bps_") and portal.url.startswith(emulator.base_url)
    page = emulator.http.get(portal.url.removeprefix(emulator.base_url))
    assert subscription.id in page.text and "https://app.example/account" in page.text
