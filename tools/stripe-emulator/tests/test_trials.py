"""Trials as Stripe runs them: `trialing` with a paid invoice of 0, `trial_will_end` once, then
the first paid period (`active`), or without a payment method what `trial_settings` says."""

import time
from typing import Any

import pytest
import stripe

from stripe_emulator.testing import RunningEmulator


def _trial_checkout(
    client: stripe.StripeClient, emulator: RunningEmulator, catalog: dict[str, Any]
) -> stripe.Subscription:
    session = client.v1.checkout.sessions.create(
        {
            "mode": "subscription",
            "line_items": [{"price": catalog["monthly"].id, "quantity": 1}],
            "subscription_data": {
                "metadata": {"tier_id": "gold"},
                "trial_period_days": 14,
                "trial_settings": {"end_behavior": {"missing_payment_method": "cancel"}},
            },
        }
    )
    emulator.control("POST", f"/checkout/sessions/{session.id}/complete", json={})
    completed = client.v1.checkout.sessions.retrieve(session.id)
    assert (completed.status, completed.payment_status) == ("complete", "no_payment_required")
    return client.v1.subscriptions.retrieve(completed.subscription)


def test_a_checkout_trial_bills_nothing_then_converts_with_the_saved_card(
    client: stripe.StripeClient, catalog: dict[str, Any], emulator: RunningEmulator
) -> None:
    subscription = _trial_checkout(client, emulator, catalog)
    assert subscription.status == "trialing"
    assert subscription.trial_end - subscription.trial_start == 14 * 86400
    item = subscription["items"].data[0]
    assert item.current_period_end == subscription.trial_end
    first = client.v1.invoices.retrieve(subscription.latest_invoice)
    assert (first.status, first.amount_paid, first.billing_reason) == (
        "paid",
        0,
        "subscription_create",
    )
    assert first.lines.data[0].description.startswith("Trial period for")

    emulator.control("POST", f"/subscriptions/{subscription.id}/advance", json={})
    converted = client.v1.subscriptions.retrieve(subscription.id)
    assert converted.status == "active"
    invoice = client.v1.invoices.retrieve(converted.latest_invoice)
    assert (invoice.amount_paid, invoice.billing_reason) == (2000, "subscription_cycle")
    assert converted["items"].data[0].current_period_start == subscription.trial_end
    warned = emulator.events("customer.subscription.trial_will_end")
    assert [e["data"]["object"]["id"] for e in warned] == [subscription.id]
    updated = emulator.events("customer.subscription.updated")[-1]
    assert updated["data"]["previous_attributes"]["status"] == "trialing"


@pytest.mark.parametrize(
    ("behavior", "status", "last_event"),
    [
        ("cancel", "canceled", "customer.subscription.deleted"),
        ("pause", "paused", "customer.subscription.paused"),
        ("create_invoice", "past_due", "customer.subscription.updated"),
    ],
)
def test_a_trial_without_a_payment_method_ends_as_its_settings_say(
    client: stripe.StripeClient,
    catalog: dict[str, Any],
    emulator: RunningEmulator,
    behavior: str,
    status: str,
    last_event: str,
) -> None:
    customer = client.v1.customers.create({"email": "trial@example.com"})
    subscription = client.v1.subscriptions.create(
        {
            "customer": customer.id,
            "items": [{"price": catalog["monthly"].id}],
            "trial_period_days": 7,
            "trial_settings": {"end_behavior": {"missing_payment_method": behavior}},
        }
    )
    assert subscription.status == "trialing" and subscription.default_payment_method is None
    emulator.control("POST", f"/subscriptions/{subscription.id}/advance", json={})
    ended = client.v1.subscriptions.retrieve(subscription.id)
    assert ended.status == status
    types = emulator.event_types()
    assert "customer.subscription.trial_will_end" in types and types[-1] == last_event


def test_trial_lengths_stripe_refuses(client: stripe.StripeClient, catalog: dict[str, Any]) -> None:
    customer = client.v1.customers.create({})
    for days in (0, 731):
        with pytest.raises(stripe.InvalidRequestError) as refused:
            client.v1.subscriptions.create(
                {
                    "customer": customer.id,
                    "items": [{"price": catalog["monthly"].id}],
                    "trial_period_days": days,
                }
            )
        assert refused.value.param == "trial_period_days"


def test_a_trial_can_end_at_a_given_time_at_least_48_hours_ahead_at_checkout(
    client: stripe.StripeClient, catalog: dict[str, Any], emulator: RunningEmulator
) -> None:
    """What an app starting a subscription when a paid term ends asks for."""
    now = int(time.time())
    base: dict[str, Any] = {
        "mode": "subscription",
        "line_items": [{"price": catalog["monthly"].id, "quantity": 1}],
    }
    for too_soon in (now + 3600, now - 10):
        with pytest.raises(stripe.InvalidRequestError) as refused:
            client.v1.checkout.sessions.create(
                {**base, "subscription_data": {"trial_end": too_soon}}
            )
        assert refused.value.param == "subscription_data[trial_end]"
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.checkout.sessions.create(
            {**base, "subscription_data": {"trial_end": now + 5 * 86400, "trial_period_days": 3}}
        )
    ends = now + 40 * 86400
    session = client.v1.checkout.sessions.create({**base, "subscription_data": {"trial_end": ends}})
    emulator.control("POST", f"/checkout/sessions/{session.id}/complete", json={})
    subscription = client.v1.subscriptions.retrieve(
        client.v1.checkout.sessions.retrieve(session.id).subscription
    )
    assert (subscription.status, subscription.trial_end) == ("trialing", ends)
    assert subscription["items"].data[0].current_period_end == ends
