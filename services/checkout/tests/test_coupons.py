"""Coupons: normalized codes, window, limit and tier restrictions; redemptions after payment."""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import stripe
from nats.js import JetStreamContext

from checkout.config import Settings
from checkout.main import create_app
from tollgate_shared.testing import EmulatorEvents, serve_app, unique, wait_until

from .conftest import (
    auth,
    complete,
    create_tier,
    domain_event,
    organizer,
)


async def create_coupon(api: httpx.AsyncClient, group_id: str, **fields: Any) -> dict[str, Any]:
    body = {"code": unique("spring"), "percent_off": 50} | fields
    response = await api.post(f"/groups/{group_id}/coupons", json=body, headers=organizer(group_id))
    assert response.status_code == 201, response.text
    return response.json()


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
    past = await create_coupon(
        api,
        group,
        valid_from=(now - timedelta(days=2)).isoformat(),
        valid_until=(now - timedelta(days=1)).isoformat(),
    )
    restricted = await create_coupon(api, group, tier_ids=[allowed["id"]])

    assert (await validate(api, later["code"], allowed["id"]))["reason"] == "not_started"
    assert later["synced"] is False  # Stripe learns the code only once its window opens
    assert (await validate(api, past["code"], allowed["id"]))["reason"] == "expired"
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
