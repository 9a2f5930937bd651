"""Coupons: normalized codes, window, limit and tier restrictions; redemptions after payment."""

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import stripe
from nats.js import JetStreamContext

from checkout.adapters.stripe_gateway import StripeGateway
from checkout.config import Settings
from checkout.domain.coupons import Coupon
from checkout.main import create_app
from tollgate_shared.testing import EmulatorEvents, serve_app, unique, wait_until

from .conftest import (
    auth,
    complete,
    create_coupon,
    create_tier,
    domain_event,
    organizer,
)


async def validate(api: httpx.AsyncClient, code: str, tier_id: str) -> dict[str, Any]:
    response = await api.get(
        f"/coupons/{code}/validate", params={"tier_id": tier_id}, headers=auth()
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_codes_are_trimmed_and_case_insensitive(api: httpx.AsyncClient) -> None:
    group = unique("group")
    tier = await create_tier(api, group, amount=3000)
    code = unique("Welcome")
    coupon = await create_coupon(api, group, code=f"  {code} ")
    assert coupon["code"] == code.upper()
    assert coupon["synced"] is True

    answer = await validate(api, code.lower(), tier["id"])
    assert answer["valid"] is True
    assert (answer["amount"], answer["amount_discount"]) == (3000, 1500)

    duplicate = await api.post(
        f"/groups/{group}/coupons",
        json={"code": code.lower(), "amount_off": 500, "currency": "nzd"},
        headers=organizer(group),
    )
    assert duplicate.status_code == 409


async def test_window_and_tier_restrictions_are_enforced(api: httpx.AsyncClient) -> None:
    group = unique("group")
    allowed, other = await create_tier(api, group), await create_tier(api, group)
    now = datetime.now(UTC)
    later = await create_coupon(api, group, valid_from=(now + timedelta(days=1)).isoformat())
    ending = await create_coupon(
        api,
        group,
        valid_from=(now - timedelta(days=2)).isoformat(),
        valid_until=(now + timedelta(seconds=1)).isoformat(),
    )
    restricted = await create_coupon(api, group, tier_ids=[allowed["id"]])

    assert (await validate(api, later["code"], allowed["id"]))["reason"] == "not_started"
    assert later["synced"] is False  # Stripe learns the code only once its window opens

    async def ended() -> bool:
        return (await validate(api, ending["code"], allowed["id"]))["reason"] == "expired"

    await wait_until(ended, message="the window ended")
    assert (await validate(api, restricted["code"], allowed["id"]))["valid"] is True
    assert (await validate(api, restricted["code"], other["id"]))["reason"] == "not_applicable"
    assert (await validate(api, "NO-SUCH-CODE", allowed["id"]))["reason"] == "unknown_code"

    refused = await api.post(
        "/checkout/sessions",
        json={"tier_id": other["id"], "promotion_code": restricted["code"]},
        headers=auth(),
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "coupon_not_applicable"


async def test_a_redemption_is_recorded_after_payment_and_the_limit_holds(
    api: httpx.AsyncClient,
    emulator: httpx.AsyncClient,
    stripe_client: stripe.StripeClient,
    js: JetStreamContext,
    stripe_events: EmulatorEvents,
) -> None:
    group = unique("group")
    tier = await create_tier(api, group, amount=4000)
    coupon = await create_coupon(api, group, max_redemptions=1, percent_off=25)
    buyer = unique("user")

    started = await api.post(
        "/checkout/sessions",
        json={"tier_id": tier["id"], "promotion_code": coupon["code"].lower()},
        headers=auth(buyer),
    )
    assert started.status_code == 201, started.text
    session_id = started.json()["session_id"]
    session = await stripe_client.v1.checkout.sessions.retrieve_async(session_id)
    assert (session.amount_subtotal, session.amount_total) == (4000, 3000)

    await complete(emulator, session_id)
    await stripe_events.forward("checkout.session.completed")

    async def recorded() -> list[dict[str, Any]]:
        response = await api.get(f"/coupons/{coupon['id']}/redemptions", headers=organizer(group))
        return response.json()

    (redemption,) = await wait_until(recorded, message="redemption recorded")
    assert redemption["user_id"] == buyer
    assert (redemption["amount_discount"], redemption["currency"]) == (1000, "nzd")
    event = await domain_event(js, "checkout.coupon.redeemed", session_id=session_id)
    assert event["coupon_id"] == coupon["id"]
    assert (await validate(api, coupon["code"], tier["id"]))["reason"] == "fully_redeemed"


async def test_only_organizers_of_the_group_create_coupons(api: httpx.AsyncClient) -> None:
    group = unique("group")
    response = await api.post(
        f"/groups/{group}/coupons",
        json={"code": unique("x"), "percent_off": 10},
        headers=organizer(unique("other_group")),
    )
    assert response.status_code == 403


async def promotion_code(stripe_client: stripe.StripeClient, code: str) -> stripe.PromotionCode:
    """The account's active promotion code with this customer-facing code."""
    found = await stripe_client.v1.promotion_codes.list_async({"code": code, "active": True})
    (promo,) = found.data
    return promo


async def taken_by_another_app(
    stripe_client: stripe.StripeClient, code: str
) -> stripe.PromotionCode:
    """An active promotion code with `code` on the Stripe account, made outside checkout."""
    foreign = await stripe_client.v1.coupons.create_async({"percent_off": 10, "duration": "once"})
    return await stripe_client.v1.promotion_codes.create_async(
        {"promotion": {"type": "coupon", "coupon": foreign.id}, "code": code}
    )


async def test_the_same_code_works_in_two_groups(
    api: httpx.AsyncClient, stripe_client: stripe.StripeClient
) -> None:
    code = unique("welcome").replace("_", "")
    first, second = unique("group"), unique("group")
    first_tier = await create_tier(api, first, amount=3000)
    second_tier = await create_tier(api, second, amount=3000)
    ours = await create_coupon(api, first, code=code.upper(), percent_off=50)
    theirs = await create_coupon(
        api, second, code=code, percent_off=None, amount_off=500, currency="nzd"
    )
    assert (ours["code"], theirs["code"]) == (code.upper(), code.upper())

    # Stripe keeps codes unique per account: the second group's promotion code is qualified.
    assert ours["stripe_code"] == code.upper()
    assert theirs["stripe_code"] != code.upper()
    assert re.fullmatch(rf"{code.upper()}[A-Z0-9]+", theirs["stripe_code"])
    for coupon in (ours, theirs):
        promo = await promotion_code(stripe_client, coupon["stripe_code"])
        assert promo.promotion.coupon == f"tollgate_{coupon['id']}"

    for tier, discount in ((first_tier, 1500), (second_tier, 500)):
        answer = await validate(api, code.lower(), tier["id"])
        assert (answer["valid"], answer["amount_discount"]) == (True, discount)
        started = await api.post(
            "/checkout/sessions",
            json={"tier_id": tier["id"], "promotion_code": code.lower()},
            headers=auth(),
        )
        assert started.status_code == 201, started.text
        session = await stripe_client.v1.checkout.sessions.retrieve_async(
            started.json()["session_id"]
        )
        assert (session.amount_subtotal, session.amount_total) == (3000, 3000 - discount)


async def test_a_code_another_app_uses_on_the_stripe_account_gets_a_qualified_code(
    api: httpx.AsyncClient, stripe_client: stripe.StripeClient
) -> None:
    code = unique("summer").replace("_", "").upper()
    await taken_by_another_app(stripe_client, code)
    group = unique("group")
    tier = await create_tier(api, group, amount=2000)
    coupon = await create_coupon(api, group, code=code, percent_off=25)
    assert coupon["synced"] is True
    assert coupon["stripe_code"].startswith(code) and coupon["stripe_code"] != code

    started = await api.post(
        "/checkout/sessions", json={"tier_id": tier["id"], "promotion_code": code}, headers=auth()
    )
    assert started.status_code == 201, started.text
    session = await stripe_client.v1.checkout.sessions.retrieve_async(started.json()["session_id"])
    assert session.amount_total == 1500
    promo = await promotion_code(stripe_client, coupon["stripe_code"])
    assert [d.promotion_code for d in session.discounts] == [promo.id]


async def test_another_groups_code_answers_as_an_unknown_code(api: httpx.AsyncClient) -> None:
    elsewhere = await create_coupon(api, unique("group"))
    tier = await create_tier(api, unique("group"))
    unknown = unique("spring")

    answers = [await validate(api, code, tier["id"]) for code in (elsewhere["code"], unknown)]
    assert [a.pop("code") for a in answers] == [elsewhere["code"], unknown.upper()]
    assert answers[0] == answers[1]
    assert answers[0]["reason"] == "unknown_code"

    refusals = []
    for code in (elsewhere["code"], unknown):
        started = await api.post(
            "/checkout/sessions",
            json={"tier_id": tier["id"], "promotion_code": code},
            headers=auth(),
        )
        refusals.append((started.status_code, started.text.replace(code, "<code>")))
    assert refusals[0] == refusals[1]
    assert refusals[0][0] == 422 and "coupon_unknown_code" in refusals[0][1]


async def test_validating_codes_is_rate_limited_per_user(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    tier = await create_tier(api, unique("group"))
    guesser = auth()
    limited = create_app(settings.model_copy(update={"rate_limit_requests": 3}))
    async with serve_app(limited) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:

        async def guess(headers: dict[str, str]) -> httpx.Response:
            path = f"/coupons/{unique('guess')}/validate"
            return await client.get(path, params={"tier_id": tier["id"]}, headers=headers)

        for _ in range(3):
            answer = await guess(guesser)
            assert answer.status_code == 200, answer.text
        refused = await guess(guesser)
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "rate_limited"
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert (await guess(auth())).status_code == 200


async def test_a_repeated_sync_keeps_the_promotion_code_it_made(
    stripe_client: stripe.StripeClient,
) -> None:
    code = unique("autumn").replace("_", "").upper()
    taken = await taken_by_another_app(stripe_client, code)
    coupon = Coupon(
        id=unique("coupon"),
        group_id=unique("group"),
        code=code,
        percent_off=Decimal(20),
        amount_off=None,
        currency=None,
        duration="once",
        duration_in_months=None,
        valid_from=None,
        valid_until=None,
        max_redemptions=None,
    )
    gateway = StripeGateway(stripe_client)
    stripe_coupon, _ = await gateway.create_coupon(coupon, [])
    first = await gateway.create_promotion_code(coupon, stripe_coupon, max_redemptions=None)
    assert first.code == coupon.qualified_code

    # The plain code is free now; a sync whose answer was lost runs again.
    await stripe_client.v1.promotion_codes.update_async(taken.id, {"active": False})
    assert (await gateway.create_coupon(coupon, []))[0] == stripe_coupon
    again = await gateway.create_promotion_code(coupon, stripe_coupon, max_redemptions=None)
    assert again.id == first.id
    made = await stripe_client.v1.promotion_codes.list_async({"coupon": f"tollgate_{coupon.id}"})
    assert [p.id for p in made.data] == [first.id]
