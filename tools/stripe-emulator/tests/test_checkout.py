"""Checkout through the hosted page and the control, with signed webhooks."""

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import stripe

from stripe_emulator.testing import RunningEmulator, WebhookReceiver, wait_for

WEBHOOK_SECRET = "whsec_test_secret_for_the_emulator"

SUBSCRIPTION_CHECKOUT_EVENTS = [
    "customer.created",
    "payment_method.attached",
    "payment_intent.created",
    "charge.succeeded",
    "payment_intent.succeeded",
    "customer.subscription.created",
    "invoice.created",
    "invoice.finalized",
    "invoice_payment.paid",
    "invoice.paid",
    "invoice.payment_succeeded",
    "checkout.session.completed",
]


def subscription_session(
    client: stripe.StripeClient, catalog: dict[str, Any]
) -> stripe.checkout.Session:
    return client.v1.checkout.sessions.create(
        {
            "mode": "subscription",
            "line_items": [{"price": catalog["monthly"].id, "quantity": 1}],
            "success_url": "https://app.example/done?session={CHECKOUT_SESSION_ID}",
            "cancel_url": "https://app.example/cancel",
            "customer_email": "ada@example.com",
            "client_reference_id": "user-1",
            "metadata": {"user_id": "user-1", "purpose": "membership"},
            "subscription_data": {"metadata": {"user_id": "user-1", "tier_id": "gold"}},
        }
    )


def test_hosted_page_subscription_checkout_delivers_signed_events_in_order(
    client: stripe.StripeClient,
    catalog: dict[str, Any],
    hooked: RunningEmulator,
    receiver: WebhookReceiver,
) -> None:
    session = subscription_session(client, catalog)
    assert session.url and session.url.startswith(hooked.base_url)
    page = httpx.get(session.url)
    assert page.status_code == 200 and "20.00 EUR" in page.text

    paid = httpx.post(session.url, data={"card_number": "4242 4242 4242 4242"})

    assert paid.status_code == 303
    assert paid.headers["location"] == f"https://app.example/done?session={session.id}"
    wait_for(lambda: "checkout.session.completed" in receiver.types(), what="completion")
    events = [
        stripe.Webhook.construct_event(item.body, item.signature, WEBHOOK_SECRET)
        for item in receiver.snapshot()
    ]
    assert [e.type for e in events] == SUBSCRIPTION_CHECKOUT_EVENTS
    assert all(e.api_version == "2026-07-29.dahlia" and e.livemode is False for e in events)
    completed = events[-1].data.object
    assert completed.id == session.id
    assert completed.payment_status == "paid" and completed.status == "complete"
    assert completed.metadata.to_dict() == {"user_id": "user-1", "purpose": "membership"}
    assert completed.client_reference_id == "user-1"

    subscription = client.v1.subscriptions.retrieve(completed.subscription)
    assert subscription.status == "active"
    assert subscription.metadata.to_dict() == {"user_id": "user-1", "tier_id": "gold"}
    item = subscription["items"].data[0]
    assert item.current_period_end > item.current_period_start
    invoice = client.v1.invoices.retrieve(subscription.latest_invoice, {"expand": ["payments"]})
    assert invoice.status == "paid" and invoice.amount_paid == 2000
    assert invoice.parent.subscription_details.subscription == subscription.id
    intent_id = invoice.payments.data[0].payment.payment_intent
    intent = client.v1.payment_intents.retrieve(intent_id, {"expand": ["latest_charge"]})
    assert intent.status == "succeeded"
    assert intent.latest_charge.customer == completed.customer


def test_control_completes_payment_checkout_with_intent_metadata(
    client: stripe.StripeClient,
    catalog: dict[str, Any],
    hooked: RunningEmulator,
    receiver: WebhookReceiver,
) -> None:
    session = client.v1.checkout.sessions.create(
        {
            "mode": "payment",
            "line_items": [{"price": catalog["once"].id, "quantity": 2}],
            "success_url": "https://app.example/done",
            "metadata": {"purpose": "purchase", "reference": "ticket-9"},
            "payment_intent_data": {"metadata": {"reference": "ticket-9"}},
        }
    )

    result = hooked.control("POST", f"/checkout/sessions/{session.id}/complete", json={})

    assert result["outcome"] == "paid"
    wait_for(lambda: "checkout.session.completed" in receiver.types(), what="completion")
    assert receiver.types() == [
        "customer.created",
        "payment_intent.created",
        "charge.succeeded",
        "payment_intent.succeeded",
        "checkout.session.completed",
    ]
    done = client.v1.checkout.sessions.retrieve(session.id, {"expand": ["payment_intent"]})
    assert done.amount_total == 3000
    assert done.payment_intent.metadata.to_dict() == {"reference": "ticket-9"}
    charge = client.v1.charges.retrieve(
        done.payment_intent.latest_charge, {"expand": ["balance_transaction"]}
    )
    assert charge.metadata.to_dict() == {"reference": "ticket-9"}
    assert charge.balance_transaction.fee == round(3000 * 0.029) + 30
    assert charge.balance_transaction.net == 3000 - charge.balance_transaction.fee


def test_declined_card_leaves_session_open_and_sends_failures_only(
    client: stripe.StripeClient,
    catalog: dict[str, Any],
    hooked: RunningEmulator,
    receiver: WebhookReceiver,
) -> None:
    session = subscription_session(client, catalog)

    page = httpx.post(session.url or "", data={"card_number": "4000 0000 0000 0002"})

    assert page.status_code == 402 and "Your card was declined." in page.text
    wait_for(lambda: "payment_intent.payment_failed" in receiver.types(), what="failure")
    assert receiver.types() == [
        "payment_intent.created",
        "charge.failed",
        "payment_intent.payment_failed",
    ]
    assert client.v1.checkout.sessions.retrieve(session.id).status == "open"
    result = hooked.control(
        "POST",
        f"/checkout/sessions/{session.id}/complete",
        json={"card_number": "4000000000009995"},
    )
    assert result["outcome"] == "declined"
    assert result["error"]["decline_code"] == "insufficient_funds"
    assert "checkout.session.completed" not in hooked.event_types()


def test_line_items_and_discount_from_promotion_code(
    client: stripe.StripeClient, catalog: dict[str, Any], emulator: RunningEmulator
) -> None:
    coupon = client.v1.coupons.create({"id": "HALF", "percent_off": 50, "duration": "once"})
    assert coupon.id == "HALF"
    promo = client.v1.promotion_codes.create(
        {"promotion": {"type": "coupon", "coupon": "HALF"}, "code": "SPRING"}
    )
    session = client.v1.checkout.sessions.create(
        {
            "mode": "payment",
            "line_items": [{"price": catalog["once"].id, "quantity": 1}],
            "discounts": [{"promotion_code": promo.id}],
        }
    )
    assert session.amount_total == 750
    assert session.total_details.amount_discount == 750
    items = client.v1.checkout.sessions.line_items.list(session.id)
    assert [(i.price.id, i.quantity, i.amount_total) for i in items.data] == [
        (catalog["once"].id, 1, 750)
    ]
    emulator.control("POST", f"/checkout/sessions/{session.id}/complete", json={})
    assert client.v1.promotion_codes.retrieve(promo.id).times_redeemed == 1


def test_expire_session_and_errors(
    client: stripe.StripeClient, catalog: dict[str, Any], hooked: RunningEmulator
) -> None:
    session = subscription_session(client, catalog)
    expired = client.v1.checkout.sessions.expire(session.id)
    assert expired.status == "expired"
    assert hooked.event_types()[-1] == "checkout.session.expired"
    try:
        client.v1.checkout.sessions.expire(session.id)
        raise AssertionError("expected an error")
    except stripe.InvalidRequestError as error:
        assert error.http_status == 400


def authenticate_on_the_page(paid: httpx.Response, outcome: str) -> httpx.Response:
    """Follow the checkout page to the 3-D Secure page and press a button there."""
    assert paid.status_code == 303
    challenge = paid.headers["location"]
    page = httpx.get(challenge)
    assert page.status_code == 200 and "Complete" in page.text
    secret = parse_qs(urlsplit(challenge).query)["client_secret"][0]
    return httpx.post(challenge, data={"client_secret": secret, "outcome": outcome})


def test_hosted_page_asks_for_3ds_and_completing_it_pays(
    client: stripe.StripeClient, catalog: dict[str, Any], hooked: RunningEmulator
) -> None:
    session = subscription_session(client, catalog)

    paid = httpx.post(session.url or "", data={"card_number": "4000 0027 6000 3184"})

    assert paid.headers["location"].startswith(f"{hooked.base_url}/3d_secure/pi_")
    assert client.v1.checkout.sessions.retrieve(session.id).status == "open"
    done = authenticate_on_the_page(paid, "succeed")
    assert done.status_code == 303
    assert done.headers["location"] == f"https://app.example/done?session={session.id}"
    completed = client.v1.checkout.sessions.retrieve(session.id, {"expand": ["subscription"]})
    assert completed.status == "complete" and completed.payment_status == "paid"
    assert completed.subscription.status == "active"
    assert completed.subscription.default_payment_method is not None
    types = hooked.event_types()
    assert types[-5:] == [
        "invoice_payment.paid",
        "invoice.paid",
        "invoice.payment_succeeded",
        "customer.subscription.updated",
        "checkout.session.completed",
    ]
    assert "payment_intent.requires_action" in types


def test_hosted_page_failed_3ds_leaves_the_session_unpaid(
    client: stripe.StripeClient, catalog: dict[str, Any], hooked: RunningEmulator
) -> None:
    session = client.v1.checkout.sessions.create(
        {
            "mode": "payment",
            "line_items": [{"price": catalog["once"].id, "quantity": 1}],
            "success_url": "https://app.example/done",
            "payment_intent_data": {"metadata": {"reference": "ticket-3"}},
        }
    )
    paid = httpx.post(session.url or "", data={"card_number": "4000002760003184"})

    failed = authenticate_on_the_page(paid, "fail")

    assert failed.status_code == 402 and "unable to authenticate" in failed.text
    still = client.v1.checkout.sessions.retrieve(session.id, {"expand": ["payment_intent"]})
    assert still.status == "open" and still.payment_status == "unpaid"
    assert still.payment_intent.status == "requires_payment_method"
    assert still.payment_intent.metadata.to_dict() == {"reference": "ticket-3"}
    assert "checkout.session.completed" not in hooked.event_types()
    # Another card on the same page pays.
    again = httpx.post(session.url or "", data={"card_number": "4242424242424242"})
    assert again.status_code == 303 and again.headers["location"] == "https://app.example/done"
    assert hooked.event_types()[-1] == "checkout.session.completed"


def test_control_reports_a_pending_challenge(
    client: stripe.StripeClient, catalog: dict[str, Any], emulator: RunningEmulator
) -> None:
    session = subscription_session(client, catalog)

    result = emulator.control(
        "POST",
        f"/checkout/sessions/{session.id}/complete",
        json={"card_number": "4000000000003220"},
    )

    assert result["outcome"] == "requires_action" and result["error"] is None
    assert result["next_action"]["type"] == "use_stripe_sdk"
    emulator.control(
        "POST",
        f"/payment_intents/{result['payment_intent']}/authenticate",
        json={"outcome": "succeed"},
    )
    assert client.v1.checkout.sessions.retrieve(session.id).status == "complete"
