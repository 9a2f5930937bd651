"""POST /checkout/subscriptions: memberships paid in the app's own card form. The subscription is
made as Stripe documents for Elements (`default_incomplete`, first invoice's confirmation
secret), under the same rules as Checkout Sessions: server-side price, seats held (and freed
when it expires incomplete), coupons, tier switches, idempotency."""

from typing import Any

import httpx
import stripe
from nats.js import JetStreamContext

from tollgate_shared.contracts.membership import MembershipActivated
from tollgate_shared.messaging.streams import DOMAIN, STRIPE
from tollgate_shared.testing import EmulatorEvents, publish_domain_event, unique, wait_until

from .conftest import auth, complete, consumed, create_coupon, create_tier


async def subscribe(
    api: httpx.AsyncClient, tier_id: str, user_id: str | None = None, **body: Any
) -> httpx.Response:
    return await api.post(
        "/checkout/subscriptions", json={"tier_id": tier_id, **body}, headers=auth(user_id)
    )


def intent_of(client_secret: str) -> str:
    """The PaymentIntent a confirmation secret belongs to (`pi_…_secret_…`)."""
    return client_secret.split("_secret_")[0]


async def pay(client: stripe.StripeClient, client_secret: str, card: str = "pm_card_visa") -> str:
    """Pay the first invoice as the card form does; the intent's status then."""
    try:
        intent = await client.v1.payment_intents.confirm_async(
            intent_of(client_secret), {"payment_method": card}
        )
    except stripe.CardError:
        return "requires_payment_method"
    return intent.status


async def redeemed(api: httpx.AsyncClient, coupon_id: str) -> list[dict[str, Any]]:
    """The coupon's redemptions, once there are any."""

    async def listed() -> list[dict[str, Any]] | None:
        answer = await api.get(f"/coupons/{coupon_id}/redemptions", headers=auth(roles=["admin"]))
        return answer.json() or None

    found: list[dict[str, Any]] = await wait_until(listed, message=f"coupon {coupon_id} redeemed")
    return found


async def test_the_subscription_is_made_for_elements_with_the_checkout_metadata(
    api: httpx.AsyncClient, stripe_client: stripe.StripeClient
) -> None:
    group = unique("group")
    tier = await create_tier(api, group, amount=2500, credit_allowances={"booking": 10})
    user = unique("user")

    response = await subscribe(api, tier["id"], user)

    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"subscription_id", "client_secret", "intent_type", "status", "trial_end"}
    assert (body["status"], body["intent_type"], body["trial_end"]) == (
        "incomplete",
        "payment",
        None,
    )
    subscription = await stripe_client.v1.subscriptions.retrieve_async(
        body["subscription_id"], {"expand": ["latest_invoice.confirmation_secret"]}
    )
    assert subscription.status == "incomplete"
    assert subscription.payment_settings is not None
    assert subscription.payment_settings.save_default_payment_method == "on_subscription"
    assert [(i.price.unit_amount, i.price.currency) for i in subscription["items"].data] == [
        (2500, "nzd")
    ]
    invoice = subscription.latest_invoice
    assert isinstance(invoice, stripe.Invoice) and invoice.confirmation_secret is not None
    assert body["client_secret"] == invoice.confirmation_secret.client_secret
    assert subscription.metadata.to_dict() == {
        "user_id": user,
        "group_id": group,
        "purpose": "membership",
        "checkout_id": subscription.metadata["checkout_id"],
        "tier_id": tier["id"],
        "tier_interval": "month",
        "credit_allowances": "booking=10",
    }
    # The customer is the caller's, made once and reused by every checkout.
    session = await api.post("/checkout/sessions", json={"tier_id": tier["id"]}, headers=auth(user))
    listed = await stripe_client.v1.checkout.sessions.retrieve_async(session.json()["session_id"])
    assert listed.customer == subscription.customer


async def test_bad_requests_are_refused_before_anything_is_made(api: httpx.AsyncClient) -> None:
    tier = await create_tier(api, unique("group"))
    for extra in ({"amount": 1}, {"price": "price_cheap"}, {"price_id": "price_x"}):
        priced = await subscribe(api, tier["id"], **extra)
        assert (priced.status_code, priced.json()["error"]["code"]) == (422, "validation_error")
    assert (
        await api.post("/checkout/subscriptions", json={"tier_id": tier["id"]})
    ).status_code == (401)
    unknown = await subscribe(api, "tier_nope")
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "not_found")
    foreign = await subscribe(api, tier["id"], group_id=unique("group"))
    assert (foreign.status_code, foreign.json()["error"]["code"]) == (403, "foreign_tier")
    own = await subscribe(api, tier["id"], group_id=tier["group_id"])
    assert own.status_code == 201, own.text
    once = await create_tier(api, unique("group"), interval="one_time_annual")
    paid_once = await subscribe(api, once["id"])
    assert (paid_once.status_code, paid_once.json()["error"]["code"]) == (422, "tier_not_recurring")
    inactive = await create_tier(api, unique("group"), active=False)
    closed = await subscribe(api, inactive["id"])
    assert (closed.status_code, closed.json()["error"]["code"]) == (422, "tier_inactive")
    elsewhere = await create_coupon(api, unique("group"))
    foreign_code = await subscribe(api, tier["id"], promotion_code=elsewhere["code"])
    assert (foreign_code.status_code, foreign_code.json()["error"]["code"]) == (
        422,
        "coupon_unknown_code",
    )


async def test_a_replayed_key_answers_the_same_and_another_body_is_refused(
    api: httpx.AsyncClient, stripe_client: stripe.StripeClient
) -> None:
    group = unique("group")
    tier, other = await create_tier(api, group), await create_tier(api, group, amount=4000)
    user = unique("user")
    headers = auth(user) | {"Idempotency-Key": unique("key")}

    first = await api.post("/checkout/subscriptions", json={"tier_id": tier["id"]}, headers=headers)
    again = await api.post("/checkout/subscriptions", json={"tier_id": tier["id"]}, headers=headers)
    clicked = await subscribe(api, tier["id"], user)
    assert first.status_code == again.status_code == 201, first.text
    assert first.json() == again.json()

    reused = await api.post(
        "/checkout/subscriptions", json={"tier_id": other["id"]}, headers=headers
    )
    assert (reused.status_code, reused.json()["error"]["code"]) == (422, "idempotency_key_reused")
    session = await api.post(
        "/checkout/sessions", json={"tier_id": tier["id"]}, headers=headers
    )  # the same key on the other endpoint is another request too
    assert (session.status_code, session.json()["error"]["code"]) == (422, "idempotency_key_reused")

    # A request without the key is a new one: it replaces the open subscription, which is
    # canceled so that only one can be paid.
    assert clicked.status_code == 201
    replaced = first.json()["subscription_id"]
    assert clicked.json()["subscription_id"] != replaced
    assert (await stripe_client.v1.subscriptions.retrieve_async(replaced)).status == "canceled"
    customer = (await stripe_client.v1.subscriptions.retrieve_async(replaced)).customer
    assert isinstance(customer, str)
    live = await stripe_client.v1.subscriptions.list_async({"customer": customer})
    assert [s.id for s in live.data] == [clicked.json()["subscription_id"]]
    # A double click without a key gets the same open subscription.
    assert (await subscribe(api, tier["id"], user)).json() == clicked.json()


async def test_a_seat_is_held_until_the_subscription_expires_incomplete(
    api: httpx.AsyncClient,
    emulator: httpx.AsyncClient,
    js: JetStreamContext,
    stripe_events: EmulatorEvents,
) -> None:
    tier = await create_tier(api, unique("group"), capacity=1)
    held = await subscribe(api, tier["id"])
    assert held.status_code == 201, held.text
    full = await subscribe(api, tier["id"])
    assert (full.status_code, full.json()["error"]["code"]) == (409, "tier_full")
    checkout_full = await api.post(
        "/checkout/sessions", json={"tier_id": tier["id"]}, headers=auth()
    )
    assert checkout_full.status_code == 409

    # Stripe's 23 hours pass: incomplete_expired, announced as an update (no Stripe call).
    subscription_id = held.json()["subscription_id"]
    advanced = await emulator.post(f"/_emulator/subscriptions/{subscription_id}/advance", json={})
    assert advanced.json()["status"] == "incomplete_expired", advanced.text
    await stripe_events.forward()
    await consumed(js, STRIPE.name)
    assert (await subscribe(api, tier["id"])).status_code == 201


async def test_a_paid_subscription_keeps_its_seat_and_a_declined_one_stays_payable(
    api: httpx.AsyncClient,
    stripe_client: stripe.StripeClient,
    js: JetStreamContext,
    stripe_events: EmulatorEvents,
) -> None:
    group = unique("group")
    tier = await create_tier(api, group, capacity=1)
    member = unique("user")
    started = (await subscribe(api, tier["id"], member)).json()

    assert await pay(stripe_client, started["client_secret"], "pm_card_chargeDeclined") == (
        "requires_payment_method"
    )
    await stripe_events.forward()
    await consumed(js, STRIPE.name)
    assert (await subscribe(api, tier["id"])).status_code == 409  # still payable: still held
    assert (await subscribe(api, tier["id"], member)).json() == started  # the same form

    assert await pay(stripe_client, started["client_secret"]) == "succeeded"
    subscription = await stripe_client.v1.subscriptions.retrieve_async(started["subscription_id"])
    assert subscription.status == "active"
    await stripe_events.forward()
    await consumed(js, STRIPE.name)
    assert (await subscribe(api, tier["id"])).status_code == 409
    again = await api.post(
        "/checkout/subscriptions",
        json={"tier_id": tier["id"]},
        headers=auth(member) | {"Idempotency-Key": unique("key")},
    )
    assert (again.status_code, again.json()["error"]["code"]) == (409, "already_paid")

    # Membership counts the member: the seat is theirs, not the paid subscription's hold.
    await publish_domain_event(
        js,
        MembershipActivated(
            user_id=member, group_id=group, tier_id=tier["id"], subscription_id=subscription.id
        ),
    )
    await consumed(js, DOMAIN.name)
    refused = await subscribe(api, tier["id"], member)
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "already_member")


async def test_a_coupon_is_applied_and_redeemed_once_the_first_invoice_is_paid(
    api: httpx.AsyncClient,
    stripe_client: stripe.StripeClient,
    js: JetStreamContext,
    stripe_events: EmulatorEvents,
) -> None:
    group = unique("group")
    tier = await create_tier(api, group, amount=2000)
    coupon = await create_coupon(api, group, percent_off=25)
    started = await subscribe(api, tier["id"], promotion_code=coupon["code"].lower())
    assert started.status_code == 201, started.text
    intent = await stripe_client.v1.payment_intents.retrieve_async(
        intent_of(started.json()["client_secret"])
    )
    assert intent.amount == 1500

    assert await pay(stripe_client, started.json()["client_secret"]) == "succeeded"
    events = await stripe_events.take()
    await stripe_events.publish(events[::-1])
    await stripe_events.publish(events, copy="-again")
    await consumed(js, STRIPE.name)
    redemptions = await redeemed(api, coupon["id"])
    assert [(r["stripe_session_id"], r["amount_discount"], r["tier_id"]) for r in redemptions] == [
        (started.json()["subscription_id"], 500, tier["id"])
    ]


async def test_a_coupon_taking_the_whole_first_invoice_leaves_nothing_to_pay(
    api: httpx.AsyncClient,
) -> None:
    group = unique("group")
    tier = await create_tier(api, group, capacity=1)
    coupon = await create_coupon(api, group, percent_off=100)
    started = await subscribe(api, tier["id"], promotion_code=coupon["code"])
    assert started.status_code == 201, started.text
    assert (started.json()["status"], started.json()["client_secret"]) == ("active", None)
    assert started.json()["intent_type"] is None  # nothing to confirm
    assert (await subscribe(api, tier["id"])).status_code == 409  # paid: the seat is held
    assert (await redeemed(api, coupon["id"]))[0]["amount_discount"] == 2000


async def test_a_tier_switch_names_the_subscription_it_replaces_and_leaves_it_to_membership(
    api: httpx.AsyncClient,
    emulator: httpx.AsyncClient,
    stripe_client: stripe.StripeClient,
    js: JetStreamContext,
) -> None:
    group = unique("group")
    silver, gold = await create_tier(api, group), await create_tier(api, group, amount=5000)
    member = unique("user")
    joined = await api.post(
        "/checkout/sessions", json={"tier_id": silver["id"]}, headers=auth(member)
    )
    old = (await complete(emulator, joined.json()["session_id"]))["session"]["subscription"]
    await publish_domain_event(
        js,
        MembershipActivated(
            user_id=member, group_id=group, tier_id=silver["id"], subscription_id=old
        ),
    )
    await consumed(js, DOMAIN.name)

    switch = await subscribe(api, gold["id"], member)
    assert switch.status_code == 201, switch.text
    new = await stripe_client.v1.subscriptions.retrieve_async(switch.json()["subscription_id"])
    assert new.metadata["previous_subscription_id"] == old
    assert new.metadata["tier_id"] == gold["id"]
    assert await pay(stripe_client, switch.json()["client_secret"]) == "succeeded"

    # Membership cancels the replaced subscription (once, when the new one is paid); checkout
    # never does, so there is one place that cancels.
    assert (await stripe_client.v1.subscriptions.retrieve_async(old)).status == "active"
    requests = (await emulator.get("/_emulator/requests")).json()
    assert [r for r in requests if r["path"] == f"/v1/subscriptions/{old}"] == [
        {"method": "GET", "path": f"/v1/subscriptions/{old}", "count": 1}
    ]
