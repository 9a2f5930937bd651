"""Confirming payment intents with Stripe's test payment methods, 3-D Secure, cancelling."""

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import stripe

from stripe_emulator.testing import RunningEmulator

RETURN_URL = "https://app.example/paid"


def new_intent(client: stripe.StripeClient, **extra: Any) -> stripe.PaymentIntent:
    params: dict[str, Any] = {
        "amount": 2500,
        "currency": "eur",
        "payment_method_types": ["card"],
        "metadata": {"reference": "ticket-7"},
        **extra,
    }
    return client.v1.payment_intents.create(params)  # type: ignore[arg-type]


def events_since(emulator: RunningEmulator, seen: int) -> list[str]:
    return emulator.event_types()[seen:]


def test_visa_pays_with_a_fee_and_the_intents_metadata_on_the_charge(
    client: stripe.StripeClient, emulator: RunningEmulator
) -> None:
    intent = new_intent(client)
    seen = len(emulator.events())

    confirmed = client.v1.payment_intents.confirm(
        intent.id, {"payment_method": "pm_card_visa"}, {"idempotency_key": f"pay-{intent.id}"}
    )

    assert confirmed.status == "succeeded" and confirmed.amount_received == 2500
    assert confirmed.payment_method.startswith("pm_") and confirmed.last_payment_error is None
    assert events_since(emulator, seen) == ["charge.succeeded", "payment_intent.succeeded"]
    charge = client.v1.charges.retrieve(
        confirmed.latest_charge, {"expand": ["balance_transaction"]}
    )
    assert charge.status == "succeeded" and charge.payment_intent == intent.id
    assert charge.payment_method == confirmed.payment_method
    assert charge.metadata.to_dict() == {"reference": "ticket-7"}
    assert charge.balance_transaction.fee == 73 + 30  # 2.9 % rounded half up, plus 30
    method = client.v1.payment_methods.retrieve(confirmed.payment_method)
    assert (method.type, method.card.last4, method.customer) == ("card", "4242", None)
    event = emulator.events("payment_intent.succeeded")[-1]
    assert event["request"]["idempotency_key"] == f"pay-{intent.id}"


@pytest.mark.parametrize(
    ("method", "decline_code"),
    [
        ("pm_card_chargeDeclined", "generic_decline"),
        ("pm_card_chargeDeclinedInsufficientFunds", "insufficient_funds"),
    ],
)
def test_a_decline_is_a_402_with_the_intent_and_a_failed_charge(
    client: stripe.StripeClient, emulator: RunningEmulator, method: str, decline_code: str
) -> None:
    intent = new_intent(client)
    seen = len(emulator.events())

    with pytest.raises(stripe.CardError) as declined:
        client.v1.payment_intents.confirm(intent.id, {"payment_method": method})

    error = declined.value
    assert error.http_status == 402 and error.code == "card_declined"
    assert error.error is not None
    assert error.error.decline_code == decline_code
    assert error.error.payment_intent is not None
    assert error.error.payment_intent.id == intent.id
    assert error.error.payment_intent.status == "requires_payment_method"
    assert error.error.payment_method is not None
    assert error.error.payment_method.card.last4 in ("0002", "9995")
    assert events_since(emulator, seen) == ["charge.failed", "payment_intent.payment_failed"]
    failed = client.v1.payment_intents.retrieve(intent.id)
    assert failed.status == "requires_payment_method" and failed.payment_method is None
    assert failed.last_payment_error.decline_code == decline_code
    assert failed.last_payment_error.charge == error.error.charge
    charge = client.v1.charges.retrieve(failed.latest_charge)
    assert (charge.status, charge.failure_code) == ("failed", "card_declined")
    assert charge.outcome.reason == decline_code and charge.balance_transaction is None
    # A declined intent takes another payment method.
    again = client.v1.payment_intents.confirm(intent.id, {"payment_method": "pm_card_visa"})
    assert again.status == "succeeded"


@pytest.mark.parametrize(
    "method", ["pm_card_authenticationRequired", "pm_card_threeDSecure2Required"]
)
def test_a_card_asking_for_3ds_waits_then_the_control_completes_it(
    client: stripe.StripeClient, emulator: RunningEmulator, method: str
) -> None:
    intent = new_intent(client)
    seen = len(emulator.events())

    waiting = client.v1.payment_intents.confirm(intent.id, {"payment_method": method})

    assert waiting.status == "requires_action" and waiting.latest_charge is None
    action = waiting.next_action
    assert action.type == "use_stripe_sdk"
    assert action.use_stripe_sdk["type"] == "three_d_secure_redirect"
    assert action.use_stripe_sdk["stripe_js"].startswith(f"{emulator.base_url}/3d_secure/")
    assert events_since(emulator, seen) == ["payment_intent.requires_action"]

    done = emulator.control(
        "POST", f"/payment_intents/{intent.id}/authenticate", json={"outcome": "succeed"}
    )

    assert done["status"] == "succeeded" and done["next_action"] is None
    charge = client.v1.charges.retrieve(done["latest_charge"])
    assert charge.payment_method_details.card.three_d_secure.result == "authenticated"
    assert events_since(emulator, seen)[1:] == ["charge.succeeded", "payment_intent.succeeded"]


def test_a_failed_challenge_asks_for_another_payment_method_without_a_charge(
    client: stripe.StripeClient, emulator: RunningEmulator
) -> None:
    intent = new_intent(client)
    client.v1.payment_intents.confirm(
        intent.id, {"payment_method": "pm_card_authenticationRequired"}
    )
    seen = len(emulator.events())

    emulator.control("POST", f"/payment_intents/{intent.id}/authenticate", json={"outcome": "fail"})

    failed = client.v1.payment_intents.retrieve(intent.id)
    assert failed.status == "requires_payment_method" and failed.payment_method is None
    assert failed.last_payment_error.code == "payment_intent_authentication_failure"
    assert failed.last_payment_error.type == "invalid_request_error"
    assert failed.last_payment_error.payment_method.card.last4 == "3184"
    assert failed.latest_charge is None
    assert client.v1.charges.list({"payment_intent": intent.id}).data == []
    assert events_since(emulator, seen) == ["payment_intent.payment_failed"]
    again = emulator.http.post(
        f"/_emulator/payment_intents/{intent.id}/authenticate", json={"outcome": "succeed"}
    )
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "payment_intent_unexpected_state"


@pytest.mark.parametrize(("button", "status"), [("succeed", "succeeded"), ("fail", "failed")])
def test_the_challenge_page_redirects_to_the_return_url(
    client: stripe.StripeClient, emulator: RunningEmulator, button: str, status: str
) -> None:
    intent = client.v1.payment_intents.create({"amount": 2500, "currency": "eur"})
    waiting = client.v1.payment_intents.confirm(
        intent.id,
        {"payment_method": "pm_card_threeDSecure2Required", "return_url": RETURN_URL},
    )
    assert waiting.next_action.type == "redirect_to_url"
    redirect = waiting.next_action.redirect_to_url
    assert redirect.return_url == RETURN_URL
    page = httpx.get(redirect.url)
    assert page.status_code == 200 and "25.00 EUR" in page.text
    assert "Complete" in page.text and "Fail" in page.text
    secret = parse_qs(urlsplit(redirect.url).query)["client_secret"][0]

    answer = httpx.post(redirect.url, data={"client_secret": secret, "outcome": button})

    assert answer.status_code == 303
    back = urlsplit(answer.headers["location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == RETURN_URL
    assert parse_qs(back.query) == {
        "payment_intent": [intent.id],
        "payment_intent_client_secret": [waiting.client_secret],
        "redirect_status": [status],
    }
    expected = "succeeded" if button == "succeed" else "requires_payment_method"
    assert client.v1.payment_intents.retrieve(intent.id).status == expected
    assert httpx.get(redirect.url).status_code == 410  # no longer pending


def test_the_challenge_page_needs_the_client_secret(
    client: stripe.StripeClient, emulator: RunningEmulator
) -> None:
    intent = new_intent(client)
    client.v1.payment_intents.confirm(
        intent.id, {"payment_method": "pm_card_threeDSecure2Required"}
    )
    url = f"{emulator.base_url}/3d_secure/{intent.id}"

    assert httpx.get(url, params={"client_secret": "pi_x_secret_wrong"}).status_code == 404
    forged = httpx.post(url, data={"client_secret": "pi_x_secret_wrong", "outcome": "succeed"})
    assert forged.status_code == 404
    assert httpx.post(url, data={"outcome": "succeed"}).status_code == 422
    assert client.v1.payment_intents.retrieve(intent.id).status == "requires_action"


def test_confirm_on_create_and_a_return_url_with_automatic_payment_methods(
    client: stripe.StripeClient,
) -> None:
    automatic = client.v1.payment_intents.create({"amount": 900, "currency": "eur"})
    assert automatic.automatic_payment_methods.enabled is True
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.payment_intents.confirm(automatic.id, {"payment_method": "pm_card_visa"})
    assert missing.value.http_status == 400 and missing.value.param == "return_url"
    assert client.v1.payment_intents.retrieve(automatic.id).status == "requires_payment_method"

    paid = client.v1.payment_intents.create(
        {
            "amount": 900,
            "currency": "eur",
            "confirm": True,
            "payment_method": "pm_card_visa",
            "return_url": RETURN_URL,
        }
    )
    assert paid.status == "succeeded"
    without_redirects = client.v1.payment_intents.create(
        {
            "amount": 900,
            "currency": "eur",
            "automatic_payment_methods": {"enabled": True, "allow_redirects": "never"},
            "payment_method": "pm_card_mastercard",
        }
    )
    assert without_redirects.status == "requires_confirmation"
    confirmed = client.v1.payment_intents.confirm(without_redirects.id)
    assert confirmed.status == "succeeded"
    with pytest.raises(stripe.CardError) as declined:
        client.v1.payment_intents.create(
            {
                "amount": 900,
                "currency": "eur",
                "payment_method_types": ["card"],
                "confirm": True,
                "payment_method": "pm_card_chargeDeclined",
            }
        )
    assert declined.value.error is not None and declined.value.error.payment_intent is not None
    assert declined.value.error.payment_intent.status == "requires_payment_method"


def test_states_that_cannot_be_confirmed_or_canceled(
    client: stripe.StripeClient, emulator: RunningEmulator
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as no_method:
        client.v1.payment_intents.confirm(new_intent(client).id)
    assert no_method.value.code == "payment_intent_unexpected_state"
    with pytest.raises(stripe.InvalidRequestError) as unknown:
        client.v1.payment_intents.confirm(new_intent(client).id, {"payment_method": "pm_nope"})
    assert unknown.value.http_status == 404 and unknown.value.param == "payment_method"

    paid = new_intent(client)
    client.v1.payment_intents.confirm(paid.id, {"payment_method": "pm_card_visa"})
    with pytest.raises(stripe.InvalidRequestError) as again:
        client.v1.payment_intents.confirm(paid.id, {"payment_method": "pm_card_visa"})
    assert again.value.code == "payment_intent_unexpected_state"
    assert again.value.error is not None and again.value.error.payment_intent is not None
    with pytest.raises(stripe.InvalidRequestError) as late:
        client.v1.payment_intents.cancel(paid.id)
    assert late.value.code == "payment_intent_unexpected_state"
    assert "status of succeeded" in str(late.value.user_message)

    waiting = new_intent(client)
    client.v1.payment_intents.confirm(
        waiting.id, {"payment_method": "pm_card_threeDSecure2Required"}
    )
    canceled = client.v1.payment_intents.cancel(
        waiting.id, {"cancellation_reason": "requested_by_customer"}
    )
    assert canceled.status == "canceled" and canceled.next_action is None
    assert canceled.cancellation_reason == "requested_by_customer" and canceled.canceled_at
    assert emulator.event_types()[-1] == "payment_intent.canceled"
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.payment_intents.confirm(waiting.id, {"payment_method": "pm_card_visa"})


def test_attached_payment_methods_pay_only_for_their_customer(
    client: stripe.StripeClient, emulator: RunningEmulator
) -> None:
    customer = client.v1.customers.create({"email": "ada@example.com"})
    other = client.v1.customers.create({"email": "bob@example.com"})
    method = client.v1.payment_methods.attach("pm_card_visa", {"customer": customer.id})
    assert method.customer == customer.id and method.id.startswith("pm_")
    assert emulator.event_types()[-1] == "payment_method.attached"
    listed = client.v1.customers.payment_methods.list(customer.id)
    assert [m.id for m in listed.data] == [method.id]
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.payment_methods.attach(method.id, {"customer": other.id})

    foreign = new_intent(client, customer=other.id)
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.payment_intents.confirm(foreign.id, {"payment_method": method.id})
    assert refused.value.param == "payment_method"
    own = new_intent(client, customer=customer.id)
    assert client.v1.payment_intents.confirm(own.id, {"payment_method": method.id}).status == (
        "succeeded"
    )


def test_setup_future_usage_saves_the_card_to_the_customer(
    client: stripe.StripeClient, emulator: RunningEmulator
) -> None:
    customer = client.v1.customers.create({"email": "ada@example.com"})
    intent = new_intent(client, customer=customer.id, setup_future_usage="off_session")

    paid = client.v1.payment_intents.confirm(intent.id, {"payment_method": "pm_card_visa"})

    assert client.v1.payment_methods.retrieve(paid.payment_method).customer == customer.id
    assert emulator.events("payment_method.attached")[-1]["data"]["object"]["id"] == (
        paid.payment_method
    )
    assert emulator.event_types()[-3:] == [
        "payment_method.attached",
        "charge.succeeded",
        "payment_intent.succeeded",
    ]
