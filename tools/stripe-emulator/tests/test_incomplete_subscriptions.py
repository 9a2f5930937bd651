"""Subscriptions created through the API for a card form (`default_incomplete`): the first
invoice's payment intent confirms like any other; unpaid, they expire after 23 hours."""

from typing import Any

import pytest
import stripe

from stripe_emulator.testing import RunningEmulator, wait_for

FIRST_PAYMENT_EVENTS = [
    "payment_method.attached",
    "charge.succeeded",
    "payment_intent.succeeded",
    "invoice_payment.paid",
    "invoice.paid",
    "invoice.payment_succeeded",
    "customer.subscription.updated",
]


def subscribe(
    client: stripe.StripeClient, catalog: dict[str, Any], **extra: Any
) -> stripe.Subscription:
    customer = client.v1.customers.create({"email": "ada@example.com"})
    params: dict[str, Any] = {
        "customer": customer.id,
        "items": [{"price": catalog["monthly"].id}],
        "payment_behavior": "default_incomplete",
        "payment_settings": {"save_default_payment_method": "on_subscription"},
        "metadata": {"user_id": "user-1", "tier_id": "gold"},
        "expand": ["latest_invoice.confirmation_secret"],
        **extra,
    }
    return client.v1.subscriptions.create(params)  # type: ignore[arg-type]


def intent_id(subscription: stripe.Subscription) -> str:
    secret: str = subscription.latest_invoice.confirmation_secret.client_secret
    return secret.split("_secret_")[0]


def test_created_incomplete_with_an_open_invoice_and_its_client_secret(
    client: stripe.StripeClient, catalog: dict[str, Any], emulator: RunningEmulator
) -> None:
    seen = len(emulator.events())

    subscription = subscribe(client, catalog)

    assert subscription.status == "incomplete" and subscription.default_payment_method is None
    assert subscription.payment_settings.save_default_payment_method == "on_subscription"
    with pytest.raises(stripe.InvalidRequestError):  # only its metadata, while incomplete
        client.v1.subscriptions.update(subscription.id, {"cancel_at_period_end": True})
    invoice = subscription.latest_invoice
    assert invoice.status == "open" and invoice.amount_due == 2000
    assert invoice.confirmation_secret.type == "payment_intent"
    intent = client.v1.payment_intents.retrieve(intent_id(subscription))
    assert intent.client_secret == invoice.confirmation_secret.client_secret
    assert (intent.status, intent.amount, intent.customer) == (
        "requires_payment_method",
        2000,
        subscription.customer,
    )
    # Stripe copies no subscription metadata onto the invoice's intent; the lines carry it.
    assert intent.metadata.to_dict() == {}
    assert invoice.parent.subscription_details.metadata.to_dict() == {
        "user_id": "user-1",
        "tier_id": "gold",
    }
    assert invoice.lines.data[0].metadata.to_dict() == {"user_id": "user-1", "tier_id": "gold"}
    [payment] = client.v1.invoice_payments.list({"invoice": invoice.id}).data
    assert (payment.status, payment.payment.payment_intent) == ("open", intent.id)
    assert emulator.event_types()[seen:][-4:] == [
        "payment_intent.created",
        "customer.subscription.created",
        "invoice.created",
        "invoice.finalized",
    ]
    with pytest.raises(stripe.InvalidRequestError) as gone:  # removed in 2025-03-31.basil
        client.v1.subscriptions.retrieve(
            subscription.id, {"expand": ["latest_invoice.payment_intent"]}
        )
    assert gone.value.param == "expand"


def test_paying_the_first_invoice_activates_and_saves_the_card(
    client: stripe.StripeClient, catalog: dict[str, Any], emulator: RunningEmulator
) -> None:
    subscription = subscribe(client, catalog)
    seen = len(emulator.events())

    paid = client.v1.payment_intents.confirm(
        intent_id(subscription), {"payment_method": "pm_card_visa"}
    )

    assert paid.status == "succeeded" and paid.metadata.to_dict() == {}
    assert emulator.event_types()[seen:] == FIRST_PAYMENT_EVENTS
    active = client.v1.subscriptions.retrieve(subscription.id, {"expand": ["latest_invoice"]})
    assert active.status == "active" and active.default_payment_method == paid.payment_method
    assert active.latest_invoice.status == "paid" and active.latest_invoice.amount_paid == 2000
    assert client.v1.payment_methods.retrieve(paid.payment_method).customer == active.customer
    charge = client.v1.charges.retrieve(paid.latest_charge, {"expand": ["balance_transaction"]})
    assert charge.metadata.to_dict() == {}
    assert charge.balance_transaction.fee == 58 + 30
    updated = emulator.events("customer.subscription.updated")[-1]
    assert updated["data"]["previous_attributes"] == {
        "status": "incomplete",
        "default_payment_method": None,
    }
    [link] = [e["data"]["object"] for e in emulator.events("invoice_payment.paid")]
    assert (link["invoice"], link["payment"]["payment_intent"]) == (
        active.latest_invoice.id,
        paid.id,
    )
    # The saved card pays the renewal.
    emulator.control("POST", f"/subscriptions/{subscription.id}/advance", json={})
    renewed = client.v1.subscriptions.retrieve(subscription.id, {"expand": ["latest_invoice"]})
    assert renewed.status == "active" and renewed.latest_invoice.status == "paid"


def test_a_decline_leaves_it_incomplete_and_a_later_card_pays(
    client: stripe.StripeClient, catalog: dict[str, Any], emulator: RunningEmulator
) -> None:
    subscription = subscribe(client, catalog)
    seen = len(emulator.events())

    with pytest.raises(stripe.CardError):
        client.v1.payment_intents.confirm(
            intent_id(subscription), {"payment_method": "pm_card_chargeDeclinedInsufficientFunds"}
        )

    assert emulator.event_types()[seen:] == [
        "charge.failed",
        "payment_intent.payment_failed",
        "invoice.payment_failed",
    ]
    still = client.v1.subscriptions.retrieve(subscription.id, {"expand": ["latest_invoice"]})
    assert still.status == "incomplete" and still.latest_invoice.status == "open"
    assert still.latest_invoice.attempt_count == 1
    assert still.latest_invoice.next_payment_attempt is None
    client.v1.payment_intents.confirm(intent_id(subscription), {"payment_method": "pm_card_visa"})
    assert client.v1.subscriptions.retrieve(subscription.id).status == "active"


@pytest.mark.parametrize("outcome", ["succeed", "fail"])
def test_3ds_keeps_it_incomplete_until_the_challenge_ends(
    client: stripe.StripeClient,
    catalog: dict[str, Any],
    emulator: RunningEmulator,
    outcome: str,
) -> None:
    subscription = subscribe(client, catalog)
    intent = client.v1.payment_intents.confirm(
        intent_id(subscription), {"payment_method": "pm_card_authenticationRequired"}
    )
    assert intent.status == "requires_action"
    assert emulator.event_types()[-1] == "invoice.payment_action_required"
    assert client.v1.subscriptions.retrieve(subscription.id).status == "incomplete"
    seen = len(emulator.events())

    emulator.control(
        "POST", f"/payment_intents/{intent.id}/authenticate", json={"outcome": outcome}
    )

    after = client.v1.subscriptions.retrieve(subscription.id, {"expand": ["latest_invoice"]})
    if outcome == "succeed":
        assert after.status == "active" and after.latest_invoice.status == "paid"
        assert emulator.event_types()[seen:] == FIRST_PAYMENT_EVENTS
    else:
        assert after.status == "incomplete" and after.latest_invoice.status == "open"
        assert emulator.event_types()[seen:] == [
            "payment_intent.payment_failed",
            "invoice.payment_failed",
        ]
        failed = client.v1.payment_intents.retrieve(intent.id)
        assert failed.last_payment_error.code == "payment_intent_authentication_failure"


def test_unpaid_for_23_hours_it_expires_and_its_invoice_is_voided(
    client: stripe.StripeClient, catalog: dict[str, Any], emulator: RunningEmulator
) -> None:
    subscription = subscribe(client, catalog)
    seen = len(emulator.events())

    emulator.control("POST", f"/subscriptions/{subscription.id}/advance", json={})

    expired = client.v1.subscriptions.retrieve(subscription.id, {"expand": ["latest_invoice"]})
    assert expired.status == "incomplete_expired" and expired.ended_at is not None
    assert expired.latest_invoice.status == "void"
    assert expired.latest_invoice.status_transitions.voided_at is not None
    intent = client.v1.payment_intents.retrieve(intent_id(subscription))
    assert (intent.status, intent.cancellation_reason) == ("canceled", "void_invoice")
    assert emulator.event_types()[seen:] == [
        "invoice.voided",
        "payment_intent.canceled",
        "customer.subscription.updated",
    ]
    updated = emulator.events("customer.subscription.updated")[-1]
    assert updated["data"]["previous_attributes"]["status"] == "incomplete"
    assert client.v1.subscriptions.list({"customer": expired.customer}).data == []
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.payment_intents.confirm(intent.id, {"payment_method": "pm_card_visa"})
    finished = emulator.http.post(f"/_emulator/subscriptions/{subscription.id}/advance", json={})
    assert finished.status_code == 400


def test_allow_incomplete_charges_the_customers_default_payment_method(
    client: stripe.StripeClient, catalog: dict[str, Any], emulator: RunningEmulator
) -> None:
    customer = client.v1.customers.create({"email": "ada@example.com"})
    items = [{"price": catalog["monthly"].id, "quantity": 2}]
    with pytest.raises(stripe.InvalidRequestError):  # nothing to charge
        client.v1.subscriptions.create({"customer": customer.id, "items": items})
    method = client.v1.payment_methods.attach("pm_card_mastercard", {"customer": customer.id})
    with pytest.raises(stripe.InvalidRequestError) as foreign:
        client.v1.customers.update(
            customer.id, {"invoice_settings": {"default_payment_method": "pm_card_visa"}}
        )
    assert foreign.value.param == "invoice_settings[default_payment_method]"

    updated = client.v1.customers.update(
        customer.id, {"invoice_settings": {"default_payment_method": method.id}}
    )

    assert updated.invoice_settings.default_payment_method == method.id
    event = emulator.events("customer.updated")[-1]
    assert event["data"]["previous_attributes"] == {
        "invoice_settings": {"default_payment_method": None}
    }
    subscription = client.v1.subscriptions.create(
        {"customer": customer.id, "items": items, "expand": ["latest_invoice"]}
    )
    assert subscription.status == "active" and subscription.latest_invoice.status == "paid"
    assert subscription.latest_invoice.amount_paid == 4000
    assert subscription.default_payment_method is None  # the customer's default paid


def test_bad_subscription_requests(client: stripe.StripeClient, catalog: dict[str, Any]) -> None:
    customer = client.v1.customers.create({})
    cases: list[tuple[dict[str, Any], str | None]] = [
        ({"customer": customer.id}, "items"),
        ({"customer": customer.id, "items": [{"price": catalog["once"].id}]}, "items[0][price]"),
        ({"customer": "cus_missing", "items": [{"price": catalog["monthly"].id}]}, "customer"),
        (
            {
                "customer": customer.id,
                "items": [{"price": catalog["monthly"].id}],
                "payment_behavior": "sometimes",
            },
            "payment_behavior",
        ),
        (
            {
                "customer": customer.id,
                "items": [{"price": catalog["monthly"].id}],
                "payment_behavior": "default_incomplete",
                "default_payment_method": "pm_card_visa",
            },
            "default_payment_method",
        ),
    ]
    for params, param in cases:
        with pytest.raises(stripe.InvalidRequestError) as refused:
            client.v1.subscriptions.create(params)  # type: ignore[arg-type]
        assert refused.value.http_status in (400, 404) and refused.value.param == param
    assert client.v1.subscriptions.list({"customer": customer.id, "status": "all"}).data == []


def test_left_incomplete_23_hours_by_the_clock_it_expires(
    client: stripe.StripeClient, catalog: dict[str, Any], emulator: RunningEmulator
) -> None:
    old = subscribe(client, catalog)
    fresh = subscribe(client, catalog)
    with emulator.emulator.store.lock:  # as if created 23 hours ago
        emulator.emulator.store.objects[old.id]["created"] -= 23 * 3600

    wait_for(
        lambda: client.v1.subscriptions.retrieve(old.id).status == "incomplete_expired",
        what="the sweep",
    )

    assert client.v1.subscriptions.retrieve(fresh.id).status == "incomplete"
