"""Pending updates: a price change billed now with `payment_behavior=pending_if_incomplete`
applies only once its invoice is paid — at once with a card that pays, after the customer's
3-D Secure challenge with one that asks for it, never when the challenge fails."""

from typing import Any

import pytest
import stripe

from stripe_emulator.testing import RunningEmulator

from .test_price_changes import _change, _platinum
from .test_subscriptions import subscribe


def _with_card(
    client: stripe.StripeClient, subscription: stripe.Subscription, test_method: str
) -> None:
    method = client.v1.payment_methods.attach(test_method, {"customer": subscription.customer})
    client.v1.subscriptions.update(subscription.id, {"default_payment_method": method.id})


def _upgrade(
    client: stripe.StripeClient, subscription: stripe.Subscription, price: stripe.Price
) -> stripe.Subscription:
    return client.v1.subscriptions.update(
        subscription.id,
        {
            **_change(subscription, price, "always_invoice"),  # type: ignore[typeddict-item]
            "payment_behavior": "pending_if_incomplete",
            "metadata": {"tier_id": "platinum"},
            "expand": ["latest_invoice.confirmation_secret"],
        },
    )


def test_a_card_that_pays_applies_the_change_at_once(
    client: stripe.StripeClient, catalog: dict[str, Any], emulator: RunningEmulator
) -> None:
    subscription = subscribe(client, emulator, catalog)
    platinum = _platinum(client)

    updated = _upgrade(client, subscription, platinum)

    assert updated.pending_update is None
    assert updated["items"].data[0].price.id == platinum.id
    assert updated.metadata["tier_id"] == "platinum"
    assert updated.latest_invoice.status == "paid"


@pytest.mark.parametrize(("outcome", "applied"), [("succeed", True), ("fail", False)])
def test_a_card_asking_for_3d_secure_leaves_the_change_pending_until_paid(
    client: stripe.StripeClient,
    catalog: dict[str, Any],
    emulator: RunningEmulator,
    outcome: str,
    applied: bool,
) -> None:
    subscription = subscribe(client, emulator, catalog)
    old_price = subscription["items"].data[0].price.id
    _with_card(client, subscription, "pm_card_threeDSecure2Required")
    platinum = _platinum(client)

    pending = _upgrade(client, subscription, platinum)

    assert pending["items"].data[0].price.id == old_price
    assert pending.metadata["tier_id"] == "gold"
    assert pending.pending_update.subscription_items[0].price.id == platinum.id
    assert pending.pending_update.metadata["tier_id"] == "platinum"
    invoice = pending.latest_invoice
    assert invoice.status == "open" and invoice.amount_due > 0
    secret = invoice.confirmation_secret.client_secret
    intent_id = secret.split("_secret_")[0]
    intent = client.v1.payment_intents.retrieve(intent_id)
    assert intent.status == "requires_action"
    assert "invoice.payment_action_required" in emulator.event_types()

    emulator.control(
        "POST", f"/payment_intents/{intent_id}/authenticate", json={"outcome": outcome}
    )

    after = client.v1.subscriptions.retrieve(subscription.id)
    if applied:
        assert after.pending_update is None
        assert after["items"].data[0].price.id == platinum.id
        assert after.metadata["tier_id"] == "platinum"
        assert emulator.event_types()[-1] == "customer.subscription.pending_update_applied"
        assert client.v1.invoices.retrieve(invoice.id).status == "paid"
    else:
        assert after.pending_update is not None
        assert after["items"].data[0].price.id == old_price
        assert after.metadata["tier_id"] == "gold"
        assert client.v1.invoices.retrieve(invoice.id).status == "open"


def test_pending_if_incomplete_takes_a_price_change_and_metadata_only(
    client: stripe.StripeClient, catalog: dict[str, Any], emulator: RunningEmulator
) -> None:
    subscription = subscribe(client, emulator, catalog)
    platinum = _platinum(client)
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.subscriptions.update(
            subscription.id,
            {
                **_change(subscription, platinum, "always_invoice"),  # type: ignore[typeddict-item]
                "payment_behavior": "pending_if_incomplete",
                "cancel_at_period_end": True,
            },
        )
    assert refused.value.param == "cancel_at_period_end"
    unchanged = client.v1.subscriptions.retrieve(subscription.id)
    assert unchanged["items"].data[0].price.id != platinum.id
    assert unchanged.cancel_at_period_end is False
