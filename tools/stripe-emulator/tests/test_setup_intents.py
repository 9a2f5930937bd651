"""A trial started for a card form (`default_incomplete`): nothing is due, so the subscription
is `trialing` with a pending SetupIntent; confirming it saves the card, which the first period
is billed to when the trial ends."""

from typing import Any

import pytest
import stripe

from stripe_emulator.testing import RunningEmulator

from .test_incomplete_subscriptions import subscribe


def trial(
    client: stripe.StripeClient, catalog: dict[str, Any], **extra: Any
) -> stripe.Subscription:
    """A subscription of the app's card form with a 14-day trial that a missing card ends."""
    return subscribe(
        client,
        catalog,
        trial_period_days=14,
        trial_settings={"end_behavior": {"missing_payment_method": "cancel"}},
        expand=["latest_invoice.confirmation_secret", "pending_setup_intent"],
        **extra,
    )


def test_a_trial_starts_with_nothing_due_and_a_setup_intent_for_the_card(
    client: stripe.StripeClient, catalog: dict[str, Any], emulator: RunningEmulator
) -> None:
    subscription = trial(client, catalog)

    assert subscription.status == "trialing" and subscription.default_payment_method is None
    invoice = subscription.latest_invoice
    assert (invoice.status, invoice.amount_paid, invoice.confirmation_secret) == ("paid", 0, None)
    pending = subscription.pending_setup_intent
    assert isinstance(pending, stripe.SetupIntent)
    assert pending.id.startswith("seti_") and pending.object == "setup_intent"
    assert pending.client_secret.startswith(f"{pending.id}_secret_")
    assert (pending.status, pending.usage, pending.payment_method) == (
        "requires_payment_method",
        "off_session",
        None,
    )
    assert pending.customer == subscription.customer
    assert pending.metadata.to_dict() == {}  # Stripe copies no metadata onto it
    assert client.v1.setup_intents.retrieve(pending.id).to_dict() == pending.to_dict()
    unexpanded = client.v1.subscriptions.retrieve(subscription.id)
    assert unexpanded.pending_setup_intent == pending.id
    [created] = emulator.events("setup_intent.created")
    assert created["data"]["object"]["id"] == pending.id
    announced = emulator.events("customer.subscription.created")[-1]["data"]["object"]
    assert announced["pending_setup_intent"] == pending.id


def test_only_a_default_incomplete_trial_without_a_card_gets_a_pending_setup_intent(
    client: stripe.StripeClient, catalog: dict[str, Any]
) -> None:
    customer = client.v1.customers.create({})
    card = client.v1.payment_methods.attach("pm_card_visa", {"customer": customer.id})
    base: dict[str, Any] = {"customer": customer.id, "items": [{"price": catalog["monthly"].id}]}
    due_now = client.v1.subscriptions.create({**base, "payment_behavior": "default_incomplete"})
    billed_later = client.v1.subscriptions.create({**base, "trial_period_days": 7})
    with_card = client.v1.subscriptions.create(
        {
            **base,
            "payment_behavior": "default_incomplete",
            "trial_period_days": 7,
            "default_payment_method": card.id,
        }
    )
    assert (due_now.status, billed_later.status, with_card.status) == (
        "incomplete",
        "trialing",
        "trialing",
    )
    assert [s.pending_setup_intent for s in (due_now, billed_later, with_card)] == [None] * 3


def test_a_confirmed_setup_intent_saves_the_card_and_the_trial_converts_with_it(
    client: stripe.StripeClient, catalog: dict[str, Any], emulator: RunningEmulator
) -> None:
    subscription = trial(client, catalog)
    pending = subscription.pending_setup_intent
    seen = len(emulator.events())

    confirmed = client.v1.setup_intents.confirm(pending.id, {"payment_method": "pm_card_visa"})

    assert confirmed.status == "succeeded" and confirmed.last_setup_error is None
    method = client.v1.payment_methods.retrieve(confirmed.payment_method)
    assert method.customer == subscription.customer
    saved = client.v1.subscriptions.retrieve(subscription.id)
    assert (saved.status, saved.default_payment_method) == ("trialing", method.id)
    events = emulator.events()[seen:]
    assert [e["type"] for e in events] == [
        "payment_method.attached",
        "setup_intent.succeeded",
        "customer.subscription.updated",
    ]
    assert events[-1]["data"]["previous_attributes"] == {"default_payment_method": None}
    with pytest.raises(stripe.InvalidRequestError) as again:
        client.v1.setup_intents.confirm(pending.id, {"payment_method": "pm_card_visa"})
    assert again.value.code == "setup_intent_unexpected_state"

    emulator.control("POST", f"/subscriptions/{subscription.id}/advance", json={})
    converted = client.v1.subscriptions.retrieve(subscription.id)
    assert converted.status == "active"
    invoice = client.v1.invoices.retrieve(converted.latest_invoice, {"expand": ["payments"]})
    assert (invoice.status, invoice.amount_paid) == ("paid", 2000)
    paid_by = invoice.payments.data[0].payment.payment_intent
    assert client.v1.payment_intents.retrieve(paid_by).payment_method == method.id


def test_a_declined_card_leaves_the_setup_intent_to_try_again(
    client: stripe.StripeClient, catalog: dict[str, Any], emulator: RunningEmulator
) -> None:
    subscription = trial(client, catalog)
    pending = subscription.pending_setup_intent

    with pytest.raises(stripe.CardError) as declined:
        client.v1.setup_intents.confirm(pending.id, {"payment_method": "pm_card_chargeDeclined"})

    assert (declined.value.code, declined.value.error.decline_code) == (
        "card_declined",
        "generic_decline",
    )
    assert declined.value.error.setup_intent.id == pending.id
    failed = client.v1.setup_intents.retrieve(pending.id)
    assert (failed.status, failed.payment_method) == ("requires_payment_method", None)
    assert failed.last_setup_error.decline_code == "generic_decline"
    assert client.v1.subscriptions.retrieve(subscription.id).default_payment_method is None
    assert [e["type"] for e in emulator.events("setup_intent.setup_failed")] == [
        "setup_intent.setup_failed"
    ]

    retried = client.v1.setup_intents.confirm(pending.id, {"payment_method": "pm_card_mastercard"})
    assert retried.status == "succeeded"


def test_confirmations_stripe_refuses(client: stripe.StripeClient, catalog: dict[str, Any]) -> None:
    pending = trial(client, catalog).pending_setup_intent
    with pytest.raises(stripe.InvalidRequestError) as no_method:
        client.v1.setup_intents.confirm(pending.id)
    assert no_method.value.code == "setup_intent_unexpected_state"
    someone_elses = client.v1.payment_methods.attach(
        "pm_card_visa", {"customer": client.v1.customers.create({}).id}
    )
    with pytest.raises(stripe.InvalidRequestError) as foreign:
        client.v1.setup_intents.confirm(pending.id, {"payment_method": someone_elses.id})
    assert foreign.value.param == "payment_method"
    with pytest.raises(stripe.InvalidRequestError) as challenge:  # 3-D Secure: not emulated
        client.v1.setup_intents.confirm(
            pending.id, {"payment_method": "pm_card_threeDSecureRequired"}
        )
    assert challenge.value.param == "payment_method"
    with pytest.raises(stripe.InvalidRequestError) as unknown:
        client.v1.setup_intents.retrieve("seti_nope")
    assert unknown.value.code == "resource_missing"
    assert client.v1.setup_intents.retrieve(pending.id).status == "requires_payment_method"


def test_a_trial_whose_card_was_never_set_up_is_canceled(
    client: stripe.StripeClient, catalog: dict[str, Any], emulator: RunningEmulator
) -> None:
    subscription = trial(client, catalog)

    emulator.control("POST", f"/subscriptions/{subscription.id}/advance", json={})

    assert client.v1.subscriptions.retrieve(subscription.id).status == "canceled"
    assert emulator.event_types()[-1] == "customer.subscription.deleted"
