"""A price change closes what is still open at the old price: sessions expire, incomplete
card-form subscriptions and PaymentIntents are canceled, and buyers start again at the new one."""

import httpx
import stripe
from nats.js import JetStreamContext

from tollgate_shared.testing import unique

from .conftest import auth, create_item, create_tier, domain_event, domain_events, organizer


async def test_a_new_tier_price_expires_open_sessions_and_cancels_incomplete_subscriptions(
    api: httpx.AsyncClient, stripe_client: stripe.StripeClient
) -> None:
    group = unique("group")
    tier = await create_tier(api, group, amount=2000)
    buyer, subscriber = unique("user"), unique("user")
    started = await api.post(
        "/checkout/sessions", json={"tier_id": tier["id"]}, headers=auth(buyer)
    )
    session_id = started.json()["session_id"]
    card_form = await api.post(
        "/checkout/subscriptions", json={"tier_id": tier["id"]}, headers=auth(subscriber)
    )
    subscription_id = card_form.json()["subscription_id"]

    # A change that keeps the price leaves them open.
    renamed = await api.patch(
        f"/tiers/{tier['id']}", json={"name": "Patron"}, headers=organizer(group)
    )
    assert renamed.status_code == 200
    assert (await stripe_client.v1.checkout.sessions.retrieve_async(session_id)).status == "open"

    changed = await api.patch(
        f"/tiers/{tier['id']}", json={"amount": 2400}, headers=organizer(group)
    )
    assert changed.status_code == 200, changed.text
    session = await stripe_client.v1.checkout.sessions.retrieve_async(session_id)
    assert (session.status, session.amount_total) == ("expired", 2000)
    subscription = await stripe_client.v1.subscriptions.retrieve_async(subscription_id)
    assert subscription.status == "canceled"

    # The buyer's next click (the same request) starts again, at the new price.
    again = await api.post("/checkout/sessions", json={"tier_id": tier["id"]}, headers=auth(buyer))
    assert again.status_code == 201, again.text
    assert again.json()["session_id"] != session_id
    renewed = await stripe_client.v1.checkout.sessions.retrieve_async(again.json()["session_id"])
    assert renewed.amount_total == 2400


async def test_a_new_item_price_cancels_open_purchases_and_announces_their_end(
    api: httpx.AsyncClient, stripe_client: stripe.StripeClient, js: JetStreamContext
) -> None:
    group = unique("group")
    item = await create_item(api, group, amount=1200)
    buyer, reference = unique("user"), unique("booking")
    body = {"item_id": item["id"], "reference": reference}
    intent_id = (
        await api.post("/purchases/payment-intents", json=body, headers=auth(buyer))
    ).json()["payment_intent_id"]
    session_id = (
        await api.post(
            "/checkout/sessions",
            json={"purpose": "purchase", "item_id": item["id"], "reference": unique("booking")},
            headers=auth(),
        )
    ).json()["session_id"]

    changed = await api.patch(
        f"/items/{item['id']}", json={"amount": 1500}, headers=organizer(group)
    )
    assert changed.status_code == 200, changed.text
    intent = await stripe_client.v1.payment_intents.retrieve_async(intent_id)
    assert intent.status == "canceled"
    session = await stripe_client.v1.checkout.sessions.retrieve_async(session_id)
    assert session.status == "expired"
    await domain_event(js, "checkout.purchase.failed", session_id=session_id)  # the later one
    (failed,) = await domain_events(js, "checkout.purchase.failed", session_id=intent_id)
    assert (failed["reason"], failed["reference"], failed["user_id"]) == (
        "expired",
        reference,
        buyer,
    )

    again = await api.post("/purchases/payment-intents", json=body, headers=auth(buyer))
    assert again.status_code == 201, again.text
    assert (again.json()["amount"], again.json()["payment_intent_id"] != intent_id) == (1500, True)
