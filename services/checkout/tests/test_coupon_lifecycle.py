"""Coupons edited and switched off with Stripe's promotion code in step; first-time-only and
minimum-amount restrictions, passed to Stripe and applied by checkout first."""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import stripe
from nats.js import JetStreamContext

from tollgate_shared.testing import EmulatorEvents, unique, wait_until

from .conftest import (
    PAID_CARD,
    auth,
    complete,
    create_coupon,
    create_item,
    create_tier,
    domain_event,
    organizer,
)


def later(**delta: float) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


async def patch(
    api: httpx.AsyncClient, coupon: dict[str, Any], body: dict[str, Any], group: str
) -> httpx.Response:
    return await api.patch(f"/coupons/{coupon['id']}", json=body, headers=organizer(group))


async def checkout(
    api: httpx.AsyncClient, tier_id: str, code: str, user: str | None = None
) -> httpx.Response:
    return await api.post(
        "/checkout/sessions",
        json={"tier_id": tier_id, "promotion_code": code},
        headers=auth(user),
    )


async def validate(api: httpx.AsyncClient, code: str, tier_id: str, user: str) -> dict[str, Any]:
    answer = await api.get(
        f"/coupons/{code}/validate", params={"tier_id": tier_id}, headers=auth(user)
    )
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


async def promotion_codes(client: stripe.StripeClient, coupon: dict[str, Any]) -> list[Any]:
    """Every promotion code of the coupon's Stripe coupon(s), oldest first."""
    found = await client.v1.promotion_codes.list_async({"limit": 100})
    ours = [p for p in found.data if p.metadata.to_dict().get("tollgate_id") == coupon["id"]]
    return sorted(ours, key=lambda p: (p.created, p.metadata.to_dict()["tollgate_revision"]))


async def typed_on_stripes_page(
    api: httpx.AsyncClient, emulator: httpx.AsyncClient, tier_id: str, code: str, user: str
) -> httpx.Response:
    """A member types `code` on Stripe's payment page (a session that allows promotion codes)."""
    started = await api.post("/checkout/sessions", json={"tier_id": tier_id}, headers=auth(user))
    assert started.status_code == 201, started.text
    return await emulator.post(
        f"/_emulator/checkout/sessions/{started.json()['session_id']}/complete",
        json={"card_number": PAID_CARD, "promotion_code": code},
    )


async def test_a_deactivated_coupon_stops_at_once_here_and_on_stripe(
    api: httpx.AsyncClient, emulator: httpx.AsyncClient, stripe_client: stripe.StripeClient
) -> None:
    group = unique("group")
    tier = await create_tier(api, group, amount=3000)
    coupon = await create_coupon(api, group, percent_off=50)
    (first,) = await promotion_codes(stripe_client, coupon)
    assert first.active is True

    off = await patch(api, coupon, {"active": False}, group)
    assert off.status_code == 200, off.text
    assert (off.json()["active"], off.json()["synced"]) == (False, False)
    assert (await stripe_client.v1.promotion_codes.retrieve_async(first.id)).active is False
    refused = await checkout(api, tier["id"], coupon["code"])
    assert (refused.status_code, refused.json()["error"]["code"]) == (422, "coupon_inactive")
    assert (await validate(api, coupon["code"], tier["id"], unique("user")))["reason"] == (
        "inactive"
    )
    typed = await typed_on_stripes_page(
        api, emulator, tier["id"], coupon["stripe_code"], unique("user")
    )
    assert (typed.status_code, "cannot be redeemed" in typed.text) == (400, True)

    # Switched on again: a new promotion code (Stripe reactivates none whose code was free).
    on = await patch(api, coupon, {"active": True}, group)
    assert (on.json()["active"], on.json()["synced"]) == (True, True)
    assert on.json()["stripe_code"] == coupon["stripe_code"]
    old, new = await promotion_codes(stripe_client, coupon)
    assert (old.id, old.active, new.active) == (first.id, False, True)
    started = await checkout(api, tier["id"], coupon["code"])
    assert started.status_code == 201, started.text
    session = await stripe_client.v1.checkout.sessions.retrieve_async(started.json()["session_id"])
    assert (session.amount_total, [d.promotion_code for d in session.discounts]) == (1500, [new.id])


async def test_a_new_limit_or_window_replaces_the_promotion_code_and_counts_what_was_used(
    api: httpx.AsyncClient,
    emulator: httpx.AsyncClient,
    stripe_client: stripe.StripeClient,
    js: JetStreamContext,
    stripe_events: EmulatorEvents,
) -> None:
    group = unique("group")
    tier = await create_tier(api, group, amount=4000)
    end = later(days=10)
    coupon = await create_coupon(api, group, percent_off=25, max_redemptions=5, valid_until=end)
    (first,) = await promotion_codes(stripe_client, coupon)
    assert (first.max_redemptions, first.expires_at) == (
        5,
        int(datetime.fromisoformat(end).timestamp()),
    )

    # A name is changed in place: the same promotion code.
    renamed = await patch(api, coupon, {"name": "Spring sale"}, group)
    assert renamed.json()["name"] == "Spring sale"
    stripe_coupon = await stripe_client.v1.coupons.retrieve_async(f"tollgate_{coupon['id']}")
    assert (stripe_coupon.name, stripe_coupon.redeem_by) == ("Spring sale", None)
    assert [p.id for p in await promotion_codes(stripe_client, coupon)] == [first.id]

    # A checkout started with the first promotion code is paid after it was replaced.
    buyer = unique("user")
    started = await checkout(api, tier["id"], coupon["code"], buyer)
    session_id = started.json()["session_id"]
    fewer = await patch(api, coupon, {"max_redemptions": 3}, group)
    assert fewer.status_code == 200, fewer.text
    old, second = await promotion_codes(stripe_client, coupon)
    assert (old.active, second.active, second.max_redemptions) == (False, True, 3)
    assert second.code == first.code  # the plain code was free again
    await complete(emulator, session_id)
    await stripe_events.forward("checkout.session.completed")
    redeemed = await domain_event(js, "checkout.coupon.redeemed", session_id=session_id)
    assert redeemed["coupon_id"] == coupon["id"]

    # What is left of the limit goes on the next one; so does a new end of the window.
    new_end = later(days=20)
    longer = await patch(api, coupon, {"valid_until": new_end, "max_redemptions": 2}, group)
    assert longer.status_code == 200, longer.text
    *retired, third = await promotion_codes(stripe_client, coupon)
    assert [p.active for p in retired] == [False, False]
    assert (third.active, third.max_redemptions) == (True, 1)
    assert third.expires_at == int(datetime.fromisoformat(new_end).timestamp())

    # Nothing changed: no new promotion code.
    again = await patch(api, coupon, {"valid_until": new_end}, group)
    assert again.status_code == 200
    assert len(await promotion_codes(stripe_client, coupon)) == 3


async def test_a_window_moved_later_takes_the_code_off_stripe_until_it_opens(
    api: httpx.AsyncClient, stripe_client: stripe.StripeClient
) -> None:
    group = unique("group")
    tier = await create_tier(api, group)
    coupon = await create_coupon(api, group)
    (first,) = await promotion_codes(stripe_client, coupon)

    moved = await patch(api, coupon, {"valid_from": later(days=2)}, group)
    assert (moved.status_code, moved.json()["synced"]) == (200, False)
    assert (await stripe_client.v1.promotion_codes.retrieve_async(first.id)).active is False
    assert (await validate(api, coupon["code"], tier["id"], unique("user")))["reason"] == (
        "not_started"
    )


async def test_edits_are_checked_and_only_the_groups_organizers_make_them(
    api: httpx.AsyncClient,
) -> None:
    group = unique("group")
    start = later(days=1)
    coupon = await create_coupon(api, group, valid_from=start, valid_until=later(days=5))

    past = later(seconds=-1)
    created = await api.post(
        f"/groups/{group}/coupons",
        json={"code": unique("late"), "percent_off": 10, "valid_until": past},
        headers=organizer(group),
    )
    assert (created.status_code, created.json()["error"]["code"]) == (422, "window_ended")
    for body, code in (
        ({"valid_until": past}, "window_ended"),
        ({"valid_until": start}, "invalid_window"),
        ({"minimum_amount": 500}, "invalid_minimum"),
        ({"name": "Spring\nsale"}, "validation_error"),
        ({"name": "x" * 41}, "validation_error"),
        ({"name": ""}, "validation_error"),
        ({"active": None}, "validation_error"),
        ({"percent_off": 90}, "validation_error"),
        ({"code": "OTHER"}, "validation_error"),
        ({"max_redemptions": 0}, "validation_error"),
        ({"minimum_amount_currency": "dollars"}, "validation_error"),
    ):
        answer = await patch(api, coupon, body, group)
        assert (answer.status_code, answer.json()["error"]["code"]) == (422, code), body

    for stranger in (organizer(unique("group")), auth()):
        answer = await api.patch(
            f"/coupons/{coupon['id']}", json={"active": False}, headers=stranger
        )
        assert answer.status_code == 403
    unknown = await patch(api, {"id": "coupon_nope"}, {"active": False}, group)
    assert unknown.status_code == 404
    listed = await api.get(f"/groups/{group}/coupons", headers=organizer(group))
    assert [(c["id"], c["active"], c["name"]) for c in listed.json()] == [
        (coupon["id"], True, None)
    ]


async def pay_once(
    api: httpx.AsyncClient,
    emulator: httpx.AsyncClient,
    js: JetStreamContext,
    stripe_events: EmulatorEvents,
    user: str,
    group: str,
) -> None:
    """`user` buys something once (no coupon) and checkout records it paid."""
    item = await create_item(api, group, amount=500)
    started = await api.post(
        "/checkout/sessions",
        json={"purpose": "purchase", "item_id": item["id"], "reference": unique("ref")},
        headers=auth(user),
    )
    session_id = started.json()["session_id"]
    await complete(emulator, session_id)
    await stripe_events.forward("checkout.session.completed")
    await domain_event(js, "checkout.purchase.paid", session_id=session_id)


async def test_first_time_only_coupons_refuse_members_who_paid_before(
    api: httpx.AsyncClient,
    emulator: httpx.AsyncClient,
    stripe_client: stripe.StripeClient,
    js: JetStreamContext,
    stripe_events: EmulatorEvents,
) -> None:
    group = unique("group")
    tier = await create_tier(api, group, amount=2000)
    coupon = await create_coupon(api, group, percent_off=20, first_time_transaction=True)
    assert coupon["first_time_transaction"] is True
    (promo,) = await promotion_codes(stripe_client, coupon)
    assert promo.restrictions.first_time_transaction is True

    regular, newcomer = unique("user"), unique("user")
    await pay_once(api, emulator, js, stripe_events, regular, unique("group"))

    async def refused() -> httpx.Response | None:
        answer = await checkout(api, tier["id"], coupon["code"], regular)
        return answer if answer.status_code == 422 else None

    answer = await wait_until(refused, message="the payment recorded")
    assert answer.json()["error"]["code"] == "coupon_first_time_only"
    assert (await validate(api, coupon["code"], tier["id"], regular))["reason"] == (
        "first_time_only"
    )
    # Stripe refuses the code on its own page too: the restriction is the promotion code's.
    typed = await typed_on_stripes_page(api, emulator, tier["id"], coupon["stripe_code"], regular)
    assert (typed.status_code, "prior transactions" in typed.text) == (400, True)

    welcomed = await checkout(api, tier["id"], coupon["code"], newcomer)
    assert welcomed.status_code == 201, welcomed.text
    session = await stripe_client.v1.checkout.sessions.retrieve_async(welcomed.json()["session_id"])
    assert session.amount_total == 1600


async def test_a_minimum_amount_holds_in_its_currency(
    api: httpx.AsyncClient, stripe_client: stripe.StripeClient
) -> None:
    group = unique("group")
    cheap = await create_tier(api, group, amount=2000)
    dear = await create_tier(api, group, amount=4000)
    dollars = await create_tier(api, group, amount=9000, currency="usd")
    coupon = await create_coupon(
        api, group, percent_off=10, minimum_amount=3000, minimum_amount_currency="NZD"
    )
    assert (coupon["minimum_amount"], coupon["minimum_amount_currency"]) == (3000, "nzd")
    (promo,) = await promotion_codes(stripe_client, coupon)
    assert (promo.restrictions.minimum_amount, promo.restrictions.minimum_amount_currency) == (
        3000,
        "nzd",
    )

    for tier, code in ((cheap, "coupon_below_minimum"), (dollars, "coupon_currency_mismatch")):
        refused = await checkout(api, tier["id"], coupon["code"])
        assert (refused.status_code, refused.json()["error"]["code"]) == (422, code)
    started = await checkout(api, dear["id"], coupon["code"])
    assert started.status_code == 201, started.text
    session = await stripe_client.v1.checkout.sessions.retrieve_async(started.json()["session_id"])
    assert session.amount_total == 3600

    half = await api.post(
        f"/groups/{group}/coupons",
        json={"code": unique("min"), "percent_off": 10, "minimum_amount": 3000},
        headers=organizer(group),
    )
    assert (half.status_code, half.json()["error"]["code"]) == (422, "validation_error")

    # Lowering the minimum replaces the promotion code (Stripe cannot change restrictions).
    lowered = await patch(api, coupon, {"minimum_amount": 1000}, group)
    assert lowered.status_code == 200, lowered.text
    old, new = await promotion_codes(stripe_client, coupon)
    assert (old.active, new.active, new.restrictions.minimum_amount) == (False, True, 1000)
    assert (await checkout(api, cheap["id"], coupon["code"])).status_code == 201
