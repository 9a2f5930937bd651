"""A subscription's price changed in place, as Stripe prorates it: previewed with
`invoices/create_preview`, then billed now (`always_invoice`), at the next renewal
(`create_prorations`) or not at all (`none`)."""

from typing import Any

import pytest
import stripe

from stripe_emulator.testing import RunningEmulator

from .test_subscriptions import subscribe


def _platinum(client: stripe.StripeClient, amount: int = 5000) -> stripe.Price:
    product = client.v1.products.create({"name": "Platinum membership"})
    return client.v1.prices.create(
        {
            "product": product.id,
            "currency": "eur",
            "unit_amount": amount,
            "recurring": {"interval": "month"},
        }
    )


def _change(
    subscription: stripe.Subscription, price: stripe.Price, behavior: str
) -> dict[str, Any]:
    item = subscription["items"].data[0]
    return {"items": [{"id": item.id, "price": price.id}], "proration_behavior": behavior}


def test_always_invoice_charges_the_difference_now_and_previews_it_exactly(
    client: stripe.StripeClient, catalog: dict[str, Any], emulator: RunningEmulator
) -> None:
    subscription = subscribe(client, emulator, catalog)
    platinum = _platinum(client)
    change = _change(subscription, platinum, "always_invoice")

    preview = client.v1.invoices.create_preview(
        {
            "subscription": subscription.id,
            "subscription_details": {
                "items": change["items"],
                "proration_behavior": "always_invoice",
            },
        }
    )
    credit, charge = (line.amount for line in preview.lines.data)
    # A month just begun: nearly all of 20.00 is credited, nearly all of 50.00 charged.
    assert -2000 <= credit < -1990 and 4990 < charge <= 5000
    assert preview.amount_due == credit + charge
    assert preview.lines.data[0].parent.subscription_item_details.proration is True

    updated = client.v1.subscriptions.update(
        subscription.id, {**change, "metadata": {"tier_id": "platinum"}}
    )
    assert updated["items"].data[0].price.id == platinum.id
    assert updated.metadata["tier_id"] == "platinum"
    invoice = client.v1.invoices.retrieve(updated.latest_invoice)
    assert invoice.billing_reason == "subscription_update" and invoice.status == "paid"
    assert invoice.amount_paid == preview.amount_due
    updates = emulator.events("customer.subscription.updated")
    change_event = updates[-2]
    assert change_event["data"]["previous_attributes"]["metadata"] == {"tier_id": "gold"}
    assert "items" in change_event["data"]["previous_attributes"]


def test_create_prorations_bills_them_with_the_next_renewal(
    client: stripe.StripeClient, catalog: dict[str, Any], emulator: RunningEmulator
) -> None:
    subscription = subscribe(client, emulator, catalog)
    platinum = _platinum(client)
    change = _change(subscription, platinum, "create_prorations")
    preview = client.v1.invoices.create_preview(
        {"subscription": subscription.id, "subscription_details": {"items": change["items"]}}
    )
    *prorated, renewal = preview.lines.data
    assert renewal.amount == 5000 and len(prorated) == 2
    assert preview.amount_due == 5000 + sum(line.amount for line in prorated)

    first_invoice = subscription.latest_invoice
    updated = client.v1.subscriptions.update(subscription.id, change)
    assert updated.latest_invoice == first_invoice  # nothing billed now
    emulator.control("POST", f"/subscriptions/{subscription.id}/advance", json={})
    renewed = client.v1.subscriptions.retrieve(subscription.id)
    invoice = client.v1.invoices.retrieve(renewed.latest_invoice)
    assert invoice.billing_reason == "subscription_cycle"
    assert invoice.amount_paid == preview.amount_due


def test_none_changes_the_price_from_the_next_period_without_prorations(
    client: stripe.StripeClient, catalog: dict[str, Any], emulator: RunningEmulator
) -> None:
    subscription = subscribe(client, emulator, catalog)
    platinum = _platinum(client, amount=3000)
    change = _change(subscription, platinum, "none")
    preview = client.v1.invoices.create_preview(
        {
            "subscription": subscription.id,
            "subscription_details": {"items": change["items"], "proration_behavior": "none"},
        }
    )
    assert [line.amount for line in preview.lines.data] == [3000]
    client.v1.subscriptions.update(subscription.id, change)
    emulator.control("POST", f"/subscriptions/{subscription.id}/advance", json={})
    renewed = client.v1.subscriptions.retrieve(subscription.id)
    assert client.v1.invoices.retrieve(renewed.latest_invoice).amount_paid == 3000


def test_price_changes_refuse_what_stripe_refuses(
    client: stripe.StripeClient, catalog: dict[str, Any], emulator: RunningEmulator
) -> None:
    subscription = subscribe(client, emulator, catalog)
    with pytest.raises(stripe.InvalidRequestError) as one_time:
        client.v1.subscriptions.update(
            subscription.id, _change(subscription, catalog["once"], "none")
        )
    assert one_time.value.param == "items[0][price]"
    with pytest.raises(stripe.InvalidRequestError) as foreign_item:
        client.v1.subscriptions.update(
            subscription.id, {"items": [{"id": "si_nope", "price": catalog["monthly"].id}]}
        )
    assert foreign_item.value.param == "items[0][id]"
