"""Items with slots and capacity: a reference is one slot for one buyer; a checkout or a
PaymentIntent holds it, paying confirms it, expiry or failure releases it; never oversold."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import stripe
from nats.js import JetStreamContext

from checkout.config import Settings
from checkout.main import create_app
from tollgate_shared.messaging.streams import STRIPE
from tollgate_shared.testing import EmulatorEvents, serve_app, unique, wait_until

from .conftest import (
    APP_ORIGIN,
    auth,
    complete,
    consumed,
    create_item,
    domain_event,
    domain_events,
    organizer,
)


def buy(
    api: httpx.AsyncClient, item_id: str, reference: str, user: str, *, card_form: bool = False
) -> Any:
    """Start a purchase of the item's `reference`: a Checkout Session, or a PaymentIntent."""
    body = {"item_id": item_id, "reference": reference}
    if card_form:
        return api.post("/purchases/payment-intents", json=body, headers=auth(user))
    return api.post("/checkout/sessions", json={"purpose": "purchase", **body}, headers=auth(user))


def refusal(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


async def pay_intent(client: stripe.StripeClient, intent_id: str, card: str) -> None:
    """Confirm as the card form would; a declined card is what some tests want."""
    with contextlib.suppress(stripe.CardError):
        await client.v1.payment_intents.confirm_async(
            intent_id, {"payment_method": card, "return_url": f"{APP_ORIGIN}/paid"}
        )


async def test_twenty_concurrent_buyers_of_one_slot_one_pays(
    api: httpx.AsyncClient,
    emulator: httpx.AsyncClient,
    stripe_client: stripe.StripeClient,
    js: JetStreamContext,
    stripe_events: EmulatorEvents,
) -> None:
    item = await create_item(api, unique("group"), name="Coaching session", slots=True)
    reference = unique("slot")
    buyers = [unique("user") for _ in range(20)]

    # Half through Checkout, half through the app's own card form, all at once.
    answers = await asyncio.gather(
        *(
            buy(api, item["id"], reference, user, card_form=i % 2 == 1)
            for i, user in enumerate(buyers)
        )
    )
    winners = [(user, a) for user, a in zip(buyers, answers, strict=True) if a.status_code == 201]
    losers = [a for a in answers if a.status_code != 201]
    assert len(winners) == 1, [a.text for a in answers]
    assert {refusal(a) for a in losers} == {(409, "slot_taken")}

    # The losers try again, the other way: still taken. Then the winner pays.
    ((winner, started),) = winners
    others = [u for u in buyers if u != winner]
    retries = await asyncio.gather(
        *(buy(api, item["id"], reference, u, card_form=i % 2 == 0) for i, u in enumerate(others))
    )
    assert {refusal(a) for a in retries} == {(409, "slot_taken")}
    answer = started.json()
    if "session_id" in answer:
        paid_id = answer["session_id"]
        await complete(emulator, paid_id)
    else:
        paid_id = answer["payment_intent_id"]
        await pay_intent(stripe_client, paid_id, "pm_card_visa")
    await stripe_events.forward()
    paid = await domain_event(js, "checkout.purchase.paid", session_id=paid_id)
    assert (paid["user_id"], paid["reference"]) == (winner, reference)

    await consumed(js, STRIPE.name)
    paid_events = await domain_events(js, "checkout.purchase.paid", item_id=item["id"])
    assert [(e["user_id"], e["reference"]) for e in paid_events] == [(winner, reference)]
    assert refusal(await buy(api, item["id"], reference, unique("user"))) == (409, "slot_taken")
    assert refusal(await buy(api, item["id"], reference, winner)) == (409, "already_paid")
    # Other references of the item are other slots.
    assert (await buy(api, item["id"], unique("slot"), others[3])).status_code == 201


async def test_an_expired_checkout_releases_its_slot(
    api: httpx.AsyncClient,
    stripe_client: stripe.StripeClient,
    js: JetStreamContext,
    stripe_events: EmulatorEvents,
) -> None:
    item = await create_item(api, unique("group"), slots=True)
    reference, first, second = unique("slot"), unique("user"), unique("user")
    session_id = (await buy(api, item["id"], reference, first)).json()["session_id"]
    assert refusal(await buy(api, item["id"], reference, second, card_form=True)) == (
        409,
        "slot_taken",
    )

    await stripe_client.v1.checkout.sessions.expire_async(session_id)
    await stripe_events.forward("checkout.session.expired")
    failed = await domain_event(js, "checkout.purchase.failed", session_id=session_id)
    assert (failed["reason"], failed["reference"]) == ("expired", reference)

    async def taken() -> httpx.Response | None:
        answer = await buy(api, item["id"], reference, second, card_form=True)
        return answer if answer.status_code == 201 else None

    await wait_until(taken, message="the expired checkout's slot is free")


async def test_a_failed_card_form_payment_releases_its_slot_and_the_next_buyer_cancels_it(
    api: httpx.AsyncClient,
    stripe_client: stripe.StripeClient,
    js: JetStreamContext,
    stripe_events: EmulatorEvents,
) -> None:
    item = await create_item(api, unique("group"), slots=True)
    reference, first, second = unique("slot"), unique("user"), unique("user")
    intent_id = (await buy(api, item["id"], reference, first, card_form=True)).json()[
        "payment_intent_id"
    ]
    assert refusal(await buy(api, item["id"], reference, second)) == (409, "slot_taken")

    await pay_intent(stripe_client, intent_id, "pm_card_chargeDeclined")
    await stripe_events.forward("payment_intent.payment_failed")
    await consumed(js, STRIPE.name)

    # The declined intent no longer holds the slot; the next buyer cancels it before buying,
    # so it can never be paid besides theirs.
    taken = await buy(api, item["id"], reference, second)
    assert taken.status_code == 201, taken.text
    assert (await stripe_client.v1.payment_intents.retrieve_async(intent_id)).status == "canceled"
    failed = await domain_event(js, "checkout.purchase.failed", session_id=intent_id)
    assert (failed["user_id"], failed["reason"]) == (first, "expired")


@pytest.fixture
async def short_lease(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """Checkout whose card-form purchases hold an item for one second (sessions cannot: Stripe
    keeps them payable for at least 30 minutes)."""
    app = create_app(settings.model_copy(update={"checkout_session_ttl_seconds": 1}))
    async with serve_app(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
        yield client


async def test_an_abandoned_card_form_purchase_is_canceled_when_its_lease_runs_out(
    short_lease: httpx.AsyncClient, stripe_client: stripe.StripeClient, js: JetStreamContext
) -> None:
    api = short_lease
    item = await create_item(api, unique("group"), slots=True)
    reference, first, second = unique("slot"), unique("user"), unique("user")
    abandoned = (await buy(api, item["id"], reference, first, card_form=True)).json()
    await asyncio.sleep(1.5)  # the lease (one second) runs out

    taken = await buy(api, item["id"], reference, second, card_form=True)
    assert taken.status_code == 201, taken.text
    intent = await stripe_client.v1.payment_intents.retrieve_async(abandoned["payment_intent_id"])
    assert intent.status == "canceled"
    await domain_event(js, "checkout.purchase.failed", session_id=intent.id, user_id=first)

    # A lapsed intent paid before the next buyer came keeps the slot (no overbooking), even
    # though Stripe's event has not arrived yet.
    await asyncio.sleep(1.5)
    await pay_intent(stripe_client, taken.json()["payment_intent_id"], "pm_card_visa")
    late = await buy(api, item["id"], reference, unique("user"), card_form=True)
    assert refusal(late) == (409, "slot_taken")


async def test_capacity_limits_the_purchases_holding_an_item(
    api: httpx.AsyncClient,
    stripe_client: stripe.StripeClient,
    stripe_events: EmulatorEvents,
) -> None:
    group = unique("group")
    item = await create_item(api, group, name="Workshop seat", capacity=3)
    purchases = [(unique("user"), unique("ticket"), i % 2 == 0) for i in range(8)]
    answers = await asyncio.gather(
        *(buy(api, item["id"], ref, user, card_form=card) for user, ref, card in purchases)
    )
    held = [(p, a.json()) for p, a in zip(purchases, answers, strict=True) if a.status_code == 201]
    assert len(held) == 3
    assert {refusal(a) for a in answers if a.status_code != 201} == {(409, "item_full")}

    # A buyer replacing their own checkout of the same reference is not counted twice.
    (user, reference, card), first = held[0]
    again = await api.post(
        "/purchases/payment-intents" if card else "/checkout/sessions",
        json={"item_id": item["id"], "reference": reference}
        | ({} if card else {"purpose": "purchase"}),
        headers=auth(user) | {"Idempotency-Key": unique("key")},
    )
    assert again.status_code == 201, again.text
    replaced = first.get("payment_intent_id") or first["session_id"]
    assert again.json() != first

    # Ending one frees a seat for somebody else.
    if card:
        await stripe_client.v1.payment_intents.cancel_async(again.json()["payment_intent_id"])
        await stripe_events.forward("payment_intent.canceled")
    else:
        await stripe_client.v1.checkout.sessions.expire_async(again.json()["session_id"])
        await stripe_events.forward("checkout.session.expired")

    async def freed() -> httpx.Response | None:
        answer = await buy(api, item["id"], unique("ticket"), unique("user"))
        return answer if answer.status_code == 201 else None

    await wait_until(freed, message=f"the seat of {replaced} freed")
    assert refusal(await buy(api, item["id"], unique("ticket"), unique("user"))) == (
        409,
        "item_full",
    )
    # Removing the capacity lets buyers in again.
    unlimited = await api.patch(
        f"/items/{item['id']}", json={"capacity": None}, headers=organizer(group)
    )
    assert (unlimited.status_code, unlimited.json()["capacity"]) == (200, None)
    assert (await buy(api, item["id"], unique("ticket"), unique("user"))).status_code == 201


async def test_capacity_and_slots_are_validated(api: httpx.AsyncClient) -> None:
    group = unique("group")
    body = {"name": "Session", "amount": 1000, "currency": "nzd"}
    for bad in ({"capacity": 0}, {"capacity": 2**31}, {"slots": "maybe"}, {"slots": None}):
        answer = await api.post(f"/groups/{group}/items", json=body | bad, headers=organizer(group))
        assert (answer.status_code, answer.json()["error"]["code"]) == (422, "validation_error")
    item = await create_item(api, group, capacity=2, slots=True)
    assert (item["capacity"], item["slots"]) == (2, True)
    changed = await api.patch(
        f"/items/{item['id']}", json={"slots": False}, headers=organizer(group)
    )
    assert (changed.json()["slots"], changed.json()["capacity"]) == (False, 2)
