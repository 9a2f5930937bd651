"""POST /checkout/sessions: server-chosen prices, contract metadata, idempotency, redirects."""

import asyncio
from typing import Any

import httpx
import stripe

from tollgate_shared.testing import EmulatorEvents, unique, wait_until

from .conftest import APP_ORIGIN, auth, complete, create_tier


async def test_the_session_uses_the_tiers_price_and_carries_the_contract_metadata(
    api: httpx.AsyncClient, emulator: httpx.AsyncClient, stripe_client: stripe.StripeClient
) -> None:
    group = unique("group")
    tier = await create_tier(
        api,
        group,
        amount=2500,
        currency="NZD",
        credit_allowances={"guest": 2, "booking": 10, "unused": 0},
    )
    user = unique("user")

    response = await api.post(
        "/checkout/sessions", json={"tier_id": tier["id"]}, headers=auth(user)
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"session_id", "url", "expires_at"}
    session = await stripe_client.v1.checkout.sessions.retrieve_async(body["session_id"])
    assert session.mode == "subscription"
    assert (session.amount_total, session.currency) == (2500, "nzd")
    assert session.client_reference_id == user
    assert session.allow_promotion_codes is True
    assert session.customer is not None
    expected = {
        "user_id": user,
        "group_id": group,
        "tier_id": tier["id"],
        "purpose": "membership",
        "tier_interval": "month",
        "credit_allowances": "booking=10,guest=2",
    }
    assert expected.items() <= session.metadata.to_dict().items()

    paid = await complete(emulator, body["session_id"])
    subscription = await stripe_client.v1.subscriptions.retrieve_async(
        paid["session"]["subscription"]
    )
    assert expected.items() <= subscription.metadata.to_dict().items()
    assert subscription.customer == session.customer


async def test_a_client_supplied_price_or_amount_is_rejected(api: httpx.AsyncClient) -> None:
    tier = await create_tier(api, unique("group"))
    for extra in ({"amount": 1}, {"price": "price_cheap"}, {"unit_amount": 1}):
        response = await api.post(
            "/checkout/sessions", json={"tier_id": tier["id"], **extra}, headers=auth()
        )
        assert response.status_code == 422, response.text


async def test_one_time_annual_tiers_are_paid_once_with_a_term(
    api: httpx.AsyncClient, emulator: httpx.AsyncClient, stripe_client: stripe.StripeClient
) -> None:
    tier = await create_tier(api, unique("group"), interval="one_time_annual", amount=9000)
    response = await api.post("/checkout/sessions", json={"tier_id": tier["id"]}, headers=auth())
    session_id = response.json()["session_id"]
    session = await stripe_client.v1.checkout.sessions.retrieve_async(session_id)
    assert session.mode == "payment"
    assert session.amount_total == 9000

    paid = await complete(emulator, session_id)
    intent = await stripe_client.v1.payment_intents.retrieve_async(
        paid["session"]["payment_intent"]
    )
    assert intent.metadata["tier_interval"] == "one_time_annual"
    assert intent.metadata["term_days"] == "365"
    assert intent.metadata["tier_id"] == tier["id"]


async def test_a_verified_segment_claim_gets_the_segment_price(
    api: httpx.AsyncClient, stripe_client: stripe.StripeClient
) -> None:
    tier = await create_tier(api, unique("group"), amount=2000, segment_prices={"student": 800})
    amounts = {}
    for segment in ("student", None):
        headers = auth(segment=segment) if segment else auth()
        response = await api.post(
            "/checkout/sessions", json={"tier_id": tier["id"]}, headers=headers
        )
        session = await stripe_client.v1.checkout.sessions.retrieve_async(
            response.json()["session_id"]
        )
        amounts[segment] = session.amount_total
    assert amounts == {"student": 800, None: 2000}


async def test_same_idempotency_key_creates_one_session(
    api: httpx.AsyncClient, stripe_client: stripe.StripeClient
) -> None:
    tier = await create_tier(api, unique("group"))
    headers = auth() | {"Idempotency-Key": unique("key")}
    body = {"tier_id": tier["id"]}

    first, second = await asyncio.gather(
        api.post("/checkout/sessions", json=body, headers=headers),
        api.post("/checkout/sessions", json=body, headers=headers),
    )
    again = await api.post("/checkout/sessions", json=body, headers=headers)

    assert {first.status_code, second.status_code, again.status_code} == {201}
    assert first.json() == second.json() == again.json()
    session = await stripe_client.v1.checkout.sessions.retrieve_async(first.json()["session_id"])
    listed = await stripe_client.v1.checkout.sessions.list_async({"customer": session.customer})
    assert len(listed.data) == 1


async def test_same_key_with_another_body_is_refused(api: httpx.AsyncClient) -> None:
    group = unique("group")
    first_tier, other_tier = await create_tier(api, group), await create_tier(api, group)
    headers = auth() | {"Idempotency-Key": unique("key")}
    ok = await api.post("/checkout/sessions", json={"tier_id": first_tier["id"]}, headers=headers)
    reused = await api.post(
        "/checkout/sessions", json={"tier_id": other_tier["id"]}, headers=headers
    )
    assert ok.status_code == 201
    assert reused.status_code == 422
    assert reused.json()["error"]["code"] == "idempotency_key_reused"


async def test_a_double_click_without_a_key_returns_the_same_open_session(
    api: httpx.AsyncClient, stripe_client: stripe.StripeClient
) -> None:
    tier = await create_tier(api, unique("group"))
    headers = auth()
    clicks = await asyncio.gather(
        *(
            api.post("/checkout/sessions", json={"tier_id": tier["id"]}, headers=headers)
            for _ in range(3)
        )
    )
    assert [c.status_code for c in clicks] == [201, 201, 201]
    assert len({c.json()["session_id"] for c in clicks}) == 1
    session = await stripe_client.v1.checkout.sessions.retrieve_async(
        clicks[0].json()["session_id"]
    )
    listed = await stripe_client.v1.checkout.sessions.list_async({"customer": session.customer})
    assert len(listed.data) == 1


async def test_a_click_after_the_session_expired_gets_a_new_one(
    api: httpx.AsyncClient,
    stripe_client: stripe.StripeClient,
    stripe_events: EmulatorEvents,
) -> None:
    tier = await create_tier(api, unique("group"))
    headers = auth()
    first = await api.post("/checkout/sessions", json={"tier_id": tier["id"]}, headers=headers)
    await stripe_client.v1.checkout.sessions.expire_async(first.json()["session_id"])
    await stripe_events.forward("checkout.session.expired")

    async def new_session() -> str | None:
        again = await api.post("/checkout/sessions", json={"tier_id": tier["id"]}, headers=headers)
        session_id: str = again.json()["session_id"]
        return session_id if session_id != first.json()["session_id"] else None

    assert await wait_until(new_session, message="a new session after expiry")


async def test_redirect_urls_only_on_allowed_origins(
    api: httpx.AsyncClient, stripe_client: stripe.StripeClient
) -> None:
    tier = await create_tier(api, unique("group"))
    evil = await api.post(
        "/checkout/sessions",
        json={"tier_id": tier["id"], "success_url": "https://evil.example.net/phish"},
        headers=auth(),
    )
    assert evil.status_code == 422
    assert evil.json()["error"]["code"] == "redirect_not_allowed"

    ok = await api.post(
        "/checkout/sessions",
        json={"tier_id": tier["id"], "success_url": f"{APP_ORIGIN}/welcome"},
        headers=auth(),
    )
    assert ok.status_code == 201, ok.text
    session = await stripe_client.v1.checkout.sessions.retrieve_async(ok.json()["session_id"])
    assert session.success_url == f"{APP_ORIGIN}/welcome"


async def test_checkout_needs_a_token_and_a_known_active_tier(api: httpx.AsyncClient) -> None:
    tier = await create_tier(api, unique("group"), active=False)
    assert (await api.post("/checkout/sessions", json={"tier_id": tier["id"]})).status_code == 401
    inactive = await api.post("/checkout/sessions", json={"tier_id": tier["id"]}, headers=auth())
    assert inactive.status_code == 422
    assert inactive.json()["error"]["code"] == "tier_inactive"
    unknown = await api.post("/checkout/sessions", json={"tier_id": "tier_nope"}, headers=auth())
    assert unknown.status_code == 404
    foreign = await api.post(
        "/checkout/sessions", json={"tier_id": tier["id"], "group_id": "g_other"}, headers=auth()
    )
    assert (foreign.status_code, foreign.json()["error"]["code"]) == (403, "foreign_tier")


async def test_a_new_key_for_the_same_tier_expires_the_earlier_session(
    api: httpx.AsyncClient, stripe_client: stripe.StripeClient
) -> None:
    tier = await create_tier(api, unique("group"))
    user = unique("user")

    def start(key: str) -> Any:
        headers = auth(user) | {"Idempotency-Key": key}
        return api.post("/checkout/sessions", json={"tier_id": tier["id"]}, headers=headers)

    first = (await start(unique("key"))).json()["session_id"]
    second = await start(unique("key"))
    assert second.status_code == 201, second.text
    assert second.json()["session_id"] != first
    earlier = await stripe_client.v1.checkout.sessions.retrieve_async(first)
    assert earlier.status == "expired"


async def test_a_paid_but_not_yet_counted_membership_is_not_sold_twice(
    api: httpx.AsyncClient,
    emulator: httpx.AsyncClient,
    stripe_events: EmulatorEvents,
) -> None:
    tier = await create_tier(api, unique("group"))
    user = unique("user")
    first = await api.post("/checkout/sessions", json={"tier_id": tier["id"]}, headers=auth(user))
    await complete(emulator, first.json()["session_id"])
    await stripe_events.forward("checkout.session.completed")

    async def refused() -> httpx.Response | None:
        again = await api.post(
            "/checkout/sessions",
            json={"tier_id": tier["id"]},
            headers=auth(user) | {"Idempotency-Key": unique("key")},
        )
        return again if again.status_code == 409 else None

    answer = await wait_until(refused, message="paid session recognized")
    assert answer.json()["error"]["code"] == "already_paid"


async def test_return_pages_for_buyers_sent_back_by_stripe(api: httpx.AsyncClient) -> None:
    paid = await api.get("/checkout/success", params={"session_id": "cs_test_<x>"})
    cancelled = await api.get("/checkout/cancel")
    assert paid.status_code == 200 and "Payment received" in paid.text
    assert "cs_test_&lt;x&gt;" in paid.text, "the session id is escaped"
    assert cancelled.status_code == 200 and "Nothing was charged" in cancelled.text
