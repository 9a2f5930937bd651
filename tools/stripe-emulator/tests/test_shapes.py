"""The objects and events of card-form payments (and of trials' SetupIntents) have the keys of
Stripe's own examples for the pinned API version (`shared/tests/fixtures/stripe`, see its
README)."""

import json
import re
from pathlib import Path
from typing import Any

import pytest
import stripe

from stripe_emulator.testing import RunningEmulator

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "tests" / "fixtures" / "stripe"
NOT_IN_THE_API = {"invoice": {"subscription"}}
"""A generator leftover in the fixture: removed in 2025-03-31.basil, absent from the SDK."""
NEWER_THAN_THE_FIXTURES = {"charge": {"radar_options"}}
"""In the pinned API (and the 16.x SDK's classes) but not yet in the fixture set."""


def fixture(name: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return found


def expected_keys(name: str) -> set[str]:
    return (set(fixture(name)) - NOT_IN_THE_API.get(name, set())) | NEWER_THAN_THE_FIXTURES.get(
        name, set()
    )


def event_objects() -> dict[str, str]:
    """Event type -> the `object` of its `data.object`, from Stripe's event list."""
    listed = json.loads((FIXTURES / "spec" / "event_types.json").read_text())["event_types"]
    return {
        entry["type"]: re.sub(r"(?<=[a-z])(?=[A-Z])", "_", entry["object"]).lower()
        for entry in listed
    }


@pytest.fixture
def flows(
    client: stripe.StripeClient, catalog: dict[str, Any], emulator: RunningEmulator
) -> dict[str, dict[str, Any]]:
    """Objects left by a card-form subscription paid after 3-D Secure, a declined payment, a
    canceled one and an expired subscription."""
    customer = client.v1.customers.create({"email": "ada@example.com"})
    subscription = client.v1.subscriptions.create(
        {
            "customer": customer.id,
            "items": [{"price": catalog["monthly"].id}],
            "payment_behavior": "default_incomplete",
            "payment_settings": {"save_default_payment_method": "on_subscription"},
            "expand": ["latest_invoice.confirmation_secret"],
        }
    )
    secret = subscription.latest_invoice.confirmation_secret
    intent_id = secret.client_secret.split("_secret_")[0]
    waiting = client.v1.payment_intents.confirm(
        intent_id, {"payment_method": "pm_card_threeDSecure2Required"}
    )
    emulator.control(
        "POST", f"/payment_intents/{intent_id}/authenticate", json={"outcome": "succeed"}
    )
    paid = client.v1.payment_intents.retrieve(intent_id)
    declined = client.v1.payment_intents.create(
        {"amount": 500, "currency": "eur", "payment_method_types": ["card"]}
    )
    with pytest.raises(stripe.CardError):
        client.v1.payment_intents.confirm(declined.id, {"payment_method": "pm_card_chargeDeclined"})
    canceled = client.v1.payment_intents.cancel(declined.id)
    expiring = client.v1.subscriptions.create(
        {
            "customer": customer.id,
            "items": [{"price": catalog["monthly"].id}],
            "payment_behavior": "default_incomplete",
        }
    )
    emulator.control("POST", f"/subscriptions/{expiring.id}/advance", json={})
    invoice = client.v1.invoices.retrieve(subscription.latest_invoice.id)
    return {
        "confirmation_secret": secret.to_dict(),
        "requires_action": waiting.to_dict(),
        "payment_intent": paid.to_dict(),
        "canceled": canceled.to_dict(),
        "charge": client.v1.charges.retrieve(paid.latest_charge).to_dict(),
        "payment_method": client.v1.payment_methods.retrieve(paid.payment_method).to_dict(),
        "subscription": client.v1.subscriptions.retrieve(subscription.id).to_dict(),
        "expired": client.v1.subscriptions.retrieve(expiring.id).to_dict(),
        "invoice": invoice.to_dict(),
        "invoice_payment": client.v1.invoice_payments.list({"invoice": invoice.id})
        .data[0]
        .to_dict(),
    }


def test_objects_have_the_keys_of_stripes_examples(flows: dict[str, dict[str, Any]]) -> None:
    for name in (
        "payment_intent",
        "charge",
        "payment_method",
        "subscription",
        "invoice",
        "invoice_payment",
    ):
        assert set(flows[name]) == expected_keys(name), name
    assert set(flows["requires_action"]) == expected_keys("payment_intent")
    assert set(flows["canceled"]) == expected_keys("payment_intent")
    assert set(flows["expired"]) == expected_keys("subscription")
    assert set(flows["payment_method"]["card"]) == set(fixture("payment_method")["card"])
    assert set(flows["charge"]["payment_method_details"]["card"]) == set(
        fixture("charge")["payment_method_details"]["card"]
    )
    assert set(flows["confirmation_secret"]) == {"client_secret", "type"}
    assert flows["invoice_payment"]["payment"]["type"] == "payment_intent"
    assert set(flows["invoice_payment"]["status_transitions"]) == set(
        fixture("invoice_payment")["status_transitions"]
    )


def test_events_have_stripes_envelope_and_object_of_their_type(
    flows: dict[str, dict[str, Any]], emulator: RunningEmulator
) -> None:
    objects = event_objects()
    envelope = set(fixture("event"))
    events = emulator.events()
    types = {event["type"] for event in events}
    assert {
        "payment_intent.requires_action",
        "payment_intent.canceled",
        "payment_method.attached",
        "invoice.payment_action_required",
        "invoice.voided",
        "invoice_payment.paid",
    } <= types
    for event in events:
        assert set(event) == envelope, event["type"]
        data = event["data"]["object"]
        assert data["object"] == objects[event["type"]], event["type"]
        if data["object"] in ("payment_intent", "payment_method", "subscription", "invoice"):
            assert set(data) == expected_keys(data["object"]), event["type"]


def test_a_post_payment_invoice_and_its_session_have_the_keys_of_stripes_examples(
    client: stripe.StripeClient, catalog: dict[str, Any], emulator: RunningEmulator
) -> None:
    session = client.v1.checkout.sessions.create(
        {
            "mode": "payment",
            "line_items": [{"price": catalog["once"].id, "quantity": 1}],
            "invoice_creation": {"enabled": True, "invoice_data": {"metadata": {"a": "b"}}},
        }
    )
    emulator.control(
        "POST",
        f"/checkout/sessions/{session.id}/complete",
        json={"card_number": "4242424242424242"},
    )
    paid = client.v1.checkout.sessions.retrieve(session.id).to_dict()
    invoice = client.v1.invoices.retrieve(paid["invoice"]).to_dict()
    assert set(paid) == expected_keys("checkout.session")
    creation = fixture("checkout.session")["invoice_creation"]
    assert set(paid["invoice_creation"]["invoice_data"]) == set(creation["invoice_data"])
    assert set(invoice) == expected_keys("invoice")
    [line] = invoice["lines"]["data"]
    assert set(line) == set(fixture("invoice")["lines"]["data"][0])
    assert set(line["parent"]["invoice_item_details"]) == set(
        fixture("invoice")["lines"]["data"][0]["parent"]["invoice_item_details"]
    )
    for event in emulator.events():
        if event["data"]["object"]["object"] == "invoice":
            assert set(event["data"]["object"]) == expected_keys("invoice"), event["type"]


def test_a_trials_pending_setup_intent_has_the_keys_of_stripes_example(
    client: stripe.StripeClient, catalog: dict[str, Any], emulator: RunningEmulator
) -> None:
    customer = client.v1.customers.create({})
    subscription = client.v1.subscriptions.create(
        {
            "customer": customer.id,
            "items": [{"price": catalog["monthly"].id}],
            "payment_behavior": "default_incomplete",
            "payment_settings": {"save_default_payment_method": "on_subscription"},
            "trial_period_days": 7,
        }
    )
    pending = client.v1.setup_intents.retrieve(subscription.pending_setup_intent)
    assert set(pending.to_dict()) == expected_keys("setup_intent")
    client.v1.setup_intents.confirm(pending.id, {"payment_method": "pm_card_visa"})
    objects = event_objects()
    setup_events = [e for e in emulator.events() if e["type"].startswith("setup_intent.")]
    assert [e["type"] for e in setup_events] == ["setup_intent.created", "setup_intent.succeeded"]
    for event in setup_events:
        assert event["data"]["object"]["object"] == objects[event["type"]]
        assert set(event["data"]["object"]) == expected_keys("setup_intent")
