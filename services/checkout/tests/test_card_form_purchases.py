"""Purchases paid in the app's own card form: `POST /purchases/payment-intents` records the
purchase; Stripe's `payment_intent.*` events announce it (once, whatever the delivery), the
claim takes its PaymentIntent id; a decline or a 3-D Secure challenge grants nothing until paid."""

import random
from typing import Any

import httpx
import stripe
from nats.js import JetStreamContext

from checkout.config import Settings
from tollgate_shared.messaging.streams import STRIPE
from tollgate_shared.testing import EmulatorEvents, unique

from .conftest import APP_ORIGIN, auth, consumed, create_item, domain_event, domain_events

RETURN_URL = f"{APP_ORIGIN}/paid"


async def start(
    api: httpx.AsyncClient, item_id: str, user_id: str, reference: str, **headers: str
) -> dict[str, Any]:
    response = await api.post(
        "/purchases/payment-intents",
        json={"item_id": item_id, "reference": reference},
        headers=auth(user_id) | headers,
    )
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def confirm(client: stripe.StripeClient, intent_id: str, payment_method: str) -> str:
    """Confirm as the browser's card form would (with the secret key, so with a return URL);
    the intent's status then."""
    try:
        intent = await client.v1.payment_intents.confirm_async(
            intent_id, {"payment_method": payment_method, "return_url": RETURN_URL}
        )
    except stripe.CardError:
        return (await client.v1.payment_intents.retrieve_async(intent_id)).status
    return intent.status


async def delivered_badly(js: JetStreamContext, events: EmulatorEvents) -> None:
    """Forward the emulator's pending events shuffled, then all of them again (redeliveries
    neither JetStream nor the inbox have seen), and wait until checkout applied them."""
    taken = await events.take()
    await events.publish(random.sample(taken, len(taken)))
    await events.publish(taken[::-1], copy="-again")
    await consumed(js, STRIPE.name)


def claim(api: httpx.AsyncClient, intent_id: str, user_id: str, reference: str) -> Any:
    return api.post(
        f"/purchases/{intent_id}/claim", json={"reference": reference}, headers=auth(user_id)
    )


async def test_a_purchase_paid_in_the_card_form_is_announced_once_and_claimed_once(
    api: httpx.AsyncClient,
    stripe_client: stripe.StripeClient,
    js: JetStreamContext,
    stripe_events: EmulatorEvents,
) -> None:
    item = await create_item(api, unique("group"), amount=2500)
    buyer, reference = unique("user"), unique("booking")
    started = await start(api, item["id"], buyer, reference)
    intent_id = started["payment_intent_id"]
    assert started["status"] == "requires_payment_method"
    assert (started["amount"], started["currency"], started["next_action"]) == (2500, "nzd", None)
    assert started["client_secret"].startswith(f"{intent_id}_secret_")

    unpaid = await claim(api, intent_id, buyer, reference)
    assert (unpaid.status_code, unpaid.json()["error"]["code"]) == (402, "payment_required")

    assert await confirm(stripe_client, intent_id, "pm_card_visa") == "succeeded"
    await delivered_badly(js, stripe_events)

    paid = await domain_event(js, "checkout.purchase.paid", session_id=intent_id)
    assert paid["payment_intent_id"] == intent_id
    assert (paid["item_id"], paid["reference"], paid["user_id"]) == (item["id"], reference, buyer)
    assert (paid["amount"], paid["currency"], paid["email"]) == (2500, "nzd", "member@example.com")
    assert len(await domain_events(js, "checkout.purchase.paid", session_id=intent_id)) == 1

    assert (await claim(api, intent_id, unique("user"), reference)).status_code == 403
    first = await claim(api, intent_id, buyer, reference)
    assert first.status_code == 200, first.text
    assert first.json() == {
        "session_id": intent_id,
        "reference": reference,
        "item_id": item["id"],
        "amount": 2500,
        "currency": "nzd",
        "claimed": True,
    }
    again = await claim(api, intent_id, buyer, reference)
    assert (again.status_code, again.json()["error"]["code"]) == (409, "already_claimed")
    claimed = await domain_event(js, "checkout.purchase.claimed", session_id=intent_id)
    assert claimed["payment_intent_id"] == intent_id

    # The reference is paid: a new key for it cannot start a second payment.
    twice = await api.post(
        "/purchases/payment-intents",
        json={"item_id": item["id"], "reference": reference},
        headers=auth(buyer) | {"Idempotency-Key": unique("key")},
    )
    assert (twice.status_code, twice.json()["error"]["code"]) == (409, "already_paid")


async def test_a_claim_before_the_webhook_announces_the_purchase_once(
    api: httpx.AsyncClient,
    stripe_client: stripe.StripeClient,
    js: JetStreamContext,
    stripe_events: EmulatorEvents,
) -> None:
    item = await create_item(api, unique("group"))
    buyer, reference = unique("user"), unique("booking")
    intent_id = (await start(api, item["id"], buyer, reference))["payment_intent_id"]
    assert await confirm(stripe_client, intent_id, "pm_card_visa") == "succeeded"

    assert (await claim(api, intent_id, buyer, reference)).status_code == 200
    await delivered_badly(js, stripe_events)
    await domain_event(js, "checkout.purchase.paid", session_id=intent_id)
    assert len(await domain_events(js, "checkout.purchase.paid", session_id=intent_id)) == 1


async def test_a_declined_card_leaves_the_purchase_payable_and_a_retry_pays_it(
    api: httpx.AsyncClient,
    stripe_client: stripe.StripeClient,
    js: JetStreamContext,
    stripe_events: EmulatorEvents,
) -> None:
    item = await create_item(api, unique("group"))
    buyer, reference = unique("user"), unique("booking")
    started = await start(api, item["id"], buyer, reference)
    intent_id = started["payment_intent_id"]

    for card in ("pm_card_chargeDeclined", "pm_card_chargeDeclinedInsufficientFunds"):
        assert await confirm(stripe_client, intent_id, card) == "requires_payment_method"
    await delivered_badly(js, stripe_events)
    assert await domain_events(js, "checkout.purchase.failed", session_id=intent_id) == []
    assert await domain_events(js, "checkout.purchase.paid", session_id=intent_id) == []
    assert (await claim(api, intent_id, buyer, reference)).status_code == 402

    # The same card form (a double click, or the page reloaded) gets the same intent back.
    again = await start(api, item["id"], buyer, reference)
    assert (again["payment_intent_id"], again["status"]) == (intent_id, "requires_payment_method")

    assert await confirm(stripe_client, intent_id, "pm_card_visa") == "succeeded"
    await delivered_badly(js, stripe_events)
    await domain_event(js, "checkout.purchase.paid", session_id=intent_id)
    assert (await claim(api, intent_id, buyer, reference)).status_code == 200


async def test_3d_secure_grants_nothing_until_the_challenge_is_completed(
    api: httpx.AsyncClient,
    emulator: httpx.AsyncClient,
    stripe_client: stripe.StripeClient,
    js: JetStreamContext,
    stripe_events: EmulatorEvents,
) -> None:
    item = await create_item(api, unique("group"))
    buyer, reference, key = unique("user"), unique("booking"), unique("key")
    started = await start(api, item["id"], buyer, reference, **{"Idempotency-Key": key})
    intent_id = started["payment_intent_id"]

    assert await confirm(stripe_client, intent_id, "pm_card_authenticationRequired") == (
        "requires_action"
    )
    # Asked again, the endpoint tells the browser what the intent waits for.
    waiting = await start(api, item["id"], buyer, reference, **{"Idempotency-Key": key})
    assert (waiting["payment_intent_id"], waiting["client_secret"]) == (
        intent_id,
        started["client_secret"],
    )
    assert (waiting["status"], waiting["next_action"]) == ("requires_action", "redirect_to_url")
    await delivered_badly(js, stripe_events)
    unpaid = await claim(api, intent_id, buyer, reference)
    assert unpaid.status_code == 402
    assert "requires_action" in unpaid.json()["error"]["message"]
    assert await domain_events(js, "checkout.purchase.paid", session_id=intent_id) == []

    authenticated = await emulator.post(
        f"/_emulator/payment_intents/{intent_id}/authenticate", json={"outcome": "succeed"}
    )
    assert authenticated.status_code == 200, authenticated.text
    await delivered_badly(js, stripe_events)
    await domain_event(js, "checkout.purchase.paid", session_id=intent_id)
    assert (await claim(api, intent_id, buyer, reference)).status_code == 200


async def test_a_canceled_intent_releases_the_purchase_and_a_new_key_replaces_an_open_one(
    api: httpx.AsyncClient,
    stripe_client: stripe.StripeClient,
    js: JetStreamContext,
    stripe_events: EmulatorEvents,
) -> None:
    item = await create_item(api, unique("group"))
    buyer, reference = unique("user"), unique("booking")
    first = (await start(api, item["id"], buyer, reference))["payment_intent_id"]

    # A new key for the same reference cancels the open intent first: only one can be paid.
    second = (await start(api, item["id"], buyer, reference, **{"Idempotency-Key": unique("k")}))[
        "payment_intent_id"
    ]
    assert second != first
    assert (await stripe_client.v1.payment_intents.retrieve_async(first)).status == "canceled"

    await stripe_client.v1.payment_intents.cancel_async(second)
    await delivered_badly(js, stripe_events)
    failed = await domain_event(js, "checkout.purchase.failed", session_id=second)
    assert (failed["reason"], failed["reference"], failed["payment_intent_id"]) == (
        "expired",
        reference,
        second,
    )
    assert len(await domain_events(js, "checkout.purchase.failed", session_id=second)) == 1
    # The one replaced by the new key is not released: the reference lives on in the next one.
    assert await domain_events(js, "checkout.purchase.failed", session_id=first) == []


async def test_the_price_is_the_items_and_replays_answer_the_same(
    api: httpx.AsyncClient, stripe_client: stripe.StripeClient
) -> None:
    item = await create_item(api, unique("group"), amount=3500)
    user, body = unique("user"), {"item_id": item["id"], "reference": unique("session")}
    for extra in ({"amount": 1}, {"price": "price_cheap"}, {"currency": "usd"}):
        cheap = await api.post("/purchases/payment-intents", json=body | extra, headers=auth(user))
        assert cheap.status_code == 422, extra
    foreign = await api.post(
        "/purchases/payment-intents", json=body | {"group_id": "g_other"}, headers=auth(user)
    )
    assert (foreign.status_code, foreign.json()["error"]["code"]) == (403, "foreign_tier")

    key = {"Idempotency-Key": unique("key")}
    first = await api.post("/purchases/payment-intents", json=body, headers=auth(user) | key)
    again = await api.post("/purchases/payment-intents", json=body, headers=auth(user) | key)
    derived = await api.post("/purchases/payment-intents", json=body, headers=auth(user))
    assert first.status_code == 201, first.text
    assert first.json() == again.json()
    intent = await stripe_client.v1.payment_intents.retrieve_async(
        first.json()["payment_intent_id"]
    )
    assert (intent.amount, intent.currency) == (3500, "nzd")
    assert intent.metadata.to_dict() == {
        "user_id": user,
        "group_id": item["group_id"],
        "purpose": "purchase",
        "checkout_id": intent.metadata["checkout_id"],
        "item_id": item["id"],
        "reference": body["reference"],
    }
    # Without a key, the request is another one: it replaces the open intent of the same
    # reference, so that only one can be paid.
    assert derived.status_code == 201
    assert derived.json()["payment_intent_id"] != intent.id
    assert (await stripe_client.v1.payment_intents.retrieve_async(intent.id)).status == "canceled"

    other = {"item_id": item["id"], "reference": unique("session")}
    reused = await api.post("/purchases/payment-intents", json=other, headers=auth(user) | key)
    assert (reused.status_code, reused.json()["error"]["code"]) == (422, "idempotency_key_reused")
    unknown = await api.post(
        "/purchases/payment-intents", json=body | {"item_id": "item_nope"}, headers=auth(user)
    )
    assert unknown.status_code == 404


async def test_another_apps_intents_are_acked_without_a_stripe_call(
    api: httpx.AsyncClient,
    stripe_client: stripe.StripeClient,
    emulator: httpx.AsyncClient,
    settings: Settings,
    js: JetStreamContext,
    stripe_events: EmulatorEvents,
) -> None:
    await stripe_events.take()
    card_only: Any = {"currency": "usd", "payment_method_types": ["card"]}
    foreign = await stripe_client.v1.payment_intents.create_async({"amount": 700, **card_only})
    await stripe_client.v1.payment_intents.confirm_async(
        foreign.id, {"payment_method": "pm_card_visa"}
    )
    abandoned = await stripe_client.v1.payment_intents.create_async({"amount": 800, **card_only})
    await stripe_client.v1.payment_intents.cancel_async(abandoned.id)

    async def requests() -> int:
        usage = await emulator.get(
            "/_emulator/usage", params={"api_key": settings.stripe_secret_key}
        )
        return int(usage.json()["requests"])

    before = await requests()
    await delivered_badly(js, stripe_events)
    assert await requests() == before
    assert await domain_events(js, "checkout.purchase.paid", session_id=foreign.id) == []
