"""Stripe models parse Stripe's own example objects of the current and the pre-basil API."""

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from tollgate_shared.contracts import stripe_objects as s
from tollgate_shared.contracts.stripe import StripeEnvelope, StripeEvent
from tollgate_shared.testing import pre_basil_invoice

FIXTURES = Path(__file__).parent / "fixtures" / "stripe"
LEGACY = FIXTURES / "legacy_2025-01-27.acacia"


def load(path: Path) -> dict:
    return json.loads(path.read_text())


@pytest.mark.parametrize(
    ("name", "model"),
    [
        ("checkout.session", s.CheckoutSession),
        ("subscription", s.Subscription),
        ("invoice", s.Invoice),
        ("charge", s.Charge),
        ("refund", s.Refund),
        ("dispute", s.Dispute),
        ("payment_intent", s.PaymentIntent),
        ("radar.early_fraud_warning", s.EarlyFraudWarning),
        ("review", s.Review),
        ("payout", s.Payout),
        ("transfer", s.Transfer),
        ("balance_transaction", s.BalanceTransaction),
    ],
)
def test_current_fixtures_parse(name: str, model: type[s.StripeObject]) -> None:
    raw = load(FIXTURES / f"{name}.json")
    parsed = model.model_validate(raw)
    assert parsed.id == raw["id"]
    assert s.OBJECT_MODELS[raw["object"]] is model


@pytest.mark.parametrize("name", ["checkout.session", "invoice", "charge", "payment_intent"])
def test_legacy_fixtures_parse(name: str) -> None:
    raw = load(LEGACY / f"{name}.json")
    assert s.OBJECT_MODELS[raw["object"]].model_validate(raw).id == raw["id"]


def test_period_end_read_from_items_on_current_api() -> None:
    raw = load(FIXTURES / "subscription.json")
    assert "current_period_end" not in raw
    sub = s.Subscription.model_validate(raw)
    assert sub.period_end == raw["items"]["data"][0]["current_period_end"]
    assert sub.price_ids == [raw["items"]["data"][0]["price"]["id"]]


def test_period_end_read_from_subscription_on_legacy_api() -> None:
    raw = load(LEGACY / "subscription.json")
    sub = s.Subscription.model_validate(raw)
    assert sub.period_end == raw["current_period_end"]


def test_invoice_subscription_from_parent_or_legacy_field() -> None:
    current = load(FIXTURES / "invoice.json")
    current["parent"] = {
        "type": "subscription_details",
        "subscription_details": {"subscription": "sub_new", "metadata": {"tier_id": "t1"}},
    }
    invoice = s.Invoice.model_validate(current)
    assert invoice.subscription_id == "sub_new"
    assert invoice.subscription_metadata == {"tier_id": "t1"}

    legacy = load(LEGACY / "invoice.json") | {"subscription": "sub_old", "payment_intent": "pi_1"}
    old = s.Invoice.model_validate(legacy)
    assert old.subscription_id == "sub_old"
    assert old.payment_intent_id == "pi_1"
    assert old.subscription_metadata == {}


def test_invoice_subscription_metadata_from_the_pre_basil_subscription_details() -> None:
    legacy = load(LEGACY / "invoice.json")
    assert legacy["subscription_details"] == {"metadata": None}
    legacy["subscription_details"]["metadata"] = {"group_id": "g1", "user_id": "u1"}
    assert s.Invoice.model_validate(legacy).subscription_metadata == {
        "group_id": "g1",
        "user_id": "u1",
    }


def test_an_invoice_says_whether_it_carries_its_subscriptions_metadata() -> None:
    """Stripe's own examples carry `metadata: null` (invoices from before that copy existed);
    an empty copy still tells that the subscription has none."""
    for shape in (load(FIXTURES / "invoice.json"), load(LEGACY / "invoice.json")):
        assert s.Invoice.model_validate(shape).carries_subscription_metadata is False
    current = load(FIXTURES / "invoice.json")
    current["parent"]["subscription_details"]["metadata"] = {}
    legacy = load(LEGACY / "invoice.json") | {"subscription_details": {"metadata": {"a": "b"}}}
    for shape in (current, legacy):
        assert s.Invoice.model_validate(shape).carries_subscription_metadata is True


def test_pre_basil_invoice_has_the_legacy_shape_and_reads_the_same() -> None:
    current = load(FIXTURES / "invoice.json")
    current["parent"] = {
        "type": "subscription_details",
        "subscription_details": {"subscription": "sub_1", "metadata": {"group_id": "g1"}},
    }
    current["lines"]["data"][0]["parent"]["subscription_item_details"]["subscription"] = "sub_1"
    old = pre_basil_invoice(current, payment_intent="pi_1", charge="ch_1")
    legacy = load(LEGACY / "invoice.json")
    assert set(old) <= set(legacy)
    assert set(old["lines"]["data"][0]) <= set(legacy["lines"]["data"][0])
    assert (old["subscription"], old["lines"]["data"][0]["subscription"]) == ("sub_1", "sub_1")
    parsed = s.Invoice.model_validate(old)
    assert (parsed.subscription_id, parsed.payment_intent_id) == ("sub_1", "pi_1")
    assert parsed.subscription_metadata == s.Invoice.model_validate(current).subscription_metadata


def test_invoice_payment_intent_from_invoice_payments() -> None:
    raw = load(FIXTURES / "invoice.json") | {
        "payments": {
            "object": "list",
            "data": [{"payment": {"type": "payment_intent", "payment_intent": "pi_basil"}}],
        }
    }
    assert s.Invoice.model_validate(raw).payment_intent_id == "pi_basil"


def test_expanded_references_read_as_ids() -> None:
    raw = load(FIXTURES / "charge.json") | {
        "customer": {"id": "cus_1", "object": "customer"},
        "balance_transaction": load(FIXTURES / "balance_transaction.json"),
    }
    charge = s.Charge.model_validate(raw)
    assert charge.customer == "cus_1"
    assert charge.fee == raw["balance_transaction"]["fee"]
    assert charge.balance_transaction_id == raw["balance_transaction"]["id"]
    assert s.Charge.model_validate(load(FIXTURES / "charge.json")).fee is None


@pytest.mark.parametrize(
    "name",
    ["checkout_session_completed", "subscription_created", "invoice_paid", "charge_refunded"],
)
def test_real_event_payloads_parse(name: str) -> None:
    raw = load(FIXTURES / "events" / f"{name}.json")
    event = StripeEvent.model_validate(raw)
    assert event.subject == f"stripe.{raw['type']}"
    model = s.OBJECT_MODELS[raw["data"]["object"]["object"]]
    assert event.object_as(model).id == raw["data"]["object"]["id"]


def test_event_fixture_envelope_parses() -> None:
    raw = load(FIXTURES / "event.json") | {"id": "evt_123", "type": "invoice.paid"}
    assert StripeEvent.model_validate(raw).type == "invoice.paid"


MALFORMED = [
    {"id": "not-an-event"},
    {"type": ""},
    {"type": "Bad Type!"},
    {"data": {}},
    {"data": {"object": "in_1"}},
    {"data": {"object": {}, "previous_attributes": []}},
    {"created": "x"},
    {"livemode": None},
]


@pytest.mark.parametrize("change", MALFORMED)
def test_malformed_envelopes_are_rejected(change: dict) -> None:
    raw = load(FIXTURES / "events" / "invoice_paid.json") | change
    with pytest.raises(ValidationError):
        StripeEvent.model_validate(raw)


@pytest.mark.parametrize("change", [{}, *MALFORMED])
def test_the_gateways_envelope_takes_what_the_consumers_event_takes(change: dict) -> None:
    """The gateway checks a delivery as `StripeEnvelope` (its object not built) and stores
    what consumers parse as `StripeEvent`: both take and refuse the same, for the same
    reasons."""
    body = json.dumps(load(FIXTURES / "events" / "invoice_paid.json") | change)
    outcomes = []
    for model in (StripeEnvelope, StripeEvent):
        try:
            event = model.model_validate_json(body)
        except ValidationError as exc:
            outcomes.append([(e["loc"], e["msg"]) for e in exc.errors()])
        else:
            outcomes.append([event.id, event.type, event.livemode, event.subject])
    assert outcomes[0] == outcomes[1]
