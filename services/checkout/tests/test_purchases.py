"""One-off purchases through Checkout: claims verified with Stripe, purchase events, the portal
(the app's own card form: `test_card_form_purchases.py`)."""

from typing import Any

import httpx
import stripe
from nats.js import JetStreamContext

from tollgate_shared.testing import EmulatorEvents, unique

from .conftest import (
    auth,
    complete,
    create_item,
    create_tier,
    domain_event,
)


async def start_purchase(api: httpx.AsyncClient, item_id: str, user_id: str, reference: str) -> str:
    response = await api.post(
        "/checkout/sessions",
        json={"purpose": "purchase", "item_id": item_id, "reference": reference},
        headers=auth(user_id),
    )
    assert response.status_code == 201, response.text
    session_id: str = response.json()["session_id"]
    return session_id


async def test_claim_is_402_before_payment_200_once_409_after_and_403_for_others(
    api: httpx.AsyncClient,
    emulator: httpx.AsyncClient,
    stripe_client: stripe.StripeClient,
    js: JetStreamContext,
    stripe_events: EmulatorEvents,
) -> None:
    item = await create_item(api, unique("group"))
    buyer, reference = unique("user"), unique("event")
    session_id = await start_purchase(api, item["id"], buyer, reference)
    session = await stripe_client.v1.checkout.sessions.retrieve_async(session_id)
    assert (session.mode, session.amount_total, session.currency) == ("payment", 1200, "nzd")

    def claim(user_id: str) -> Any:
        return api.post(
            f"/purchases/{session_id}/claim", json={"reference": reference}, headers=auth(user_id)
        )

    assert (await claim(buyer)).status_code == 402
    paid = await complete(emulator, session_id)
    assert (await claim(unique("user"))).status_code == 403

    first = await claim(buyer)
    assert first.status_code == 200, first.text
    assert first.json()["reference"] == reference
    assert (await claim(buyer)).status_code == 409

    claimed = await domain_event(js, "checkout.purchase.claimed", session_id=session_id)
    assert (claimed["reference"], claimed["amount"]) == (reference, 1200)
    event = await domain_event(js, "checkout.purchase.paid", session_id=session_id)
    assert event["payment_intent_id"] == paid["session"]["payment_intent"]
    intent = await stripe_client.v1.payment_intents.retrieve_async(event["payment_intent_id"])
    assert intent.metadata["reference"] == reference
    assert intent.metadata["purpose"] == "purchase"

    # The webhook arriving after the claim changes nothing: paid is announced once.
    await stripe_events.forward("checkout.session.completed")
    assert (await claim(buyer)).status_code == 409
    twice = await api.post(
        "/checkout/sessions",
        json={"purpose": "purchase", "item_id": item["id"], "reference": reference},
        headers=auth(buyer) | {"Idempotency-Key": unique("key")},
    )
    assert (twice.status_code, twice.json()["error"]["code"]) == (409, "already_paid")


async def test_a_purchase_paid_through_the_webhook_is_announced(
    api: httpx.AsyncClient,
    emulator: httpx.AsyncClient,
    js: JetStreamContext,
    stripe_events: EmulatorEvents,
) -> None:
    item = await create_item(api, unique("group"))
    session_id = await start_purchase(api, item["id"], unique("user"), unique("booking"))
    await complete(emulator, session_id)
    await stripe_events.forward("checkout.session.completed")
    event = await domain_event(js, "checkout.purchase.paid", session_id=session_id)
    assert (event["amount"], event["currency"], event["item_id"]) == (1200, "nzd", item["id"])


async def test_an_expired_purchase_is_released(
    api: httpx.AsyncClient,
    stripe_client: stripe.StripeClient,
    js: JetStreamContext,
    stripe_events: EmulatorEvents,
) -> None:
    item = await create_item(api, unique("group"))
    reference = unique("booking")
    session_id = await start_purchase(api, item["id"], unique("user"), reference)
    await stripe_client.v1.checkout.sessions.expire_async(session_id)
    await stripe_events.forward("checkout.session.expired")
    event = await domain_event(js, "checkout.purchase.failed", session_id=session_id)
    assert (event["reason"], event["reference"]) == ("expired", reference)


async def test_billing_portal_for_the_callers_own_customer(api: httpx.AsyncClient) -> None:
    assert (await api.post("/billing-portal/sessions", headers=auth())).status_code == 404

    tier = await create_tier(api, unique("group"))
    user = unique("user")
    await api.post("/checkout/sessions", json={"tier_id": tier["id"]}, headers=auth(user))
    portal = await api.post("/billing-portal/sessions", headers=auth(user))
    assert portal.status_code == 201, portal.text
    assert "/billing_portal/session/" in portal.json()["url"]

    elsewhere = await api.post(
        "/billing-portal/sessions",
        json={"return_url": "https://evil.example.net/"},
        headers=auth(user),
    )
    assert elsewhere.status_code == 422
