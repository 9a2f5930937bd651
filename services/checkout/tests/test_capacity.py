"""Seats: concurrent buyers never oversell a tier; expiry frees holds; members keep their seat."""

import asyncio
from datetime import timedelta

import httpx
import stripe
from nats.js import JetStreamContext

from tollgate_shared.contracts.membership import (
    MembershipActivated,
    MembershipCanceled,
    MembershipExpired,
    MembershipRevoked,
)
from tollgate_shared.messaging.streams import DOMAIN, STRIPE
from tollgate_shared.testing import (
    EmulatorEvents,
    publish_domain_event,
    publish_stripe_event,
    stripe_event,
    unique,
    wait_until,
)

from .conftest import buy, consumed, create_tier


async def test_twenty_concurrent_buyers_of_five_seats_get_exactly_five_sessions(
    api: httpx.AsyncClient,
    stripe_client: stripe.StripeClient,
    stripe_events: EmulatorEvents,
) -> None:
    tier = await create_tier(api, unique("group"), capacity=5)

    answers = await asyncio.gather(*(buy(api, tier["id"]) for _ in range(20)))

    created = [a for a in answers if a.status_code == 201]
    refused = [a for a in answers if a.status_code != 201]
    assert len(created) == 5
    assert {(a.status_code, a.json()["error"]["code"]) for a in refused} == {(409, "tier_full")}

    for answer in created[:2]:
        await stripe_client.v1.checkout.sessions.expire_async(answer.json()["session_id"])
    await stripe_events.forward("checkout.session.expired")

    # The two expiries are applied independently (and concurrently): wait for each seat.
    for late in (unique("user"), unique("user")):
        freed = await wait_until(
            lambda late=late: _created(buy(api, tier["id"], late)),
            message="a seat freed by expiry",
        )
        assert freed.status_code == 201
    assert (await buy(api, tier["id"])).status_code == 409


async def _created(request: "asyncio.Future[httpx.Response]") -> httpx.Response | None:
    response = await request
    return response if response.status_code == 201 else None


async def test_members_fill_seats_and_a_renewing_member_is_not_blocked(
    api: httpx.AsyncClient, js: JetStreamContext
) -> None:
    group = unique("group")
    tier = await create_tier(api, group, capacity=1, interval="one_time_annual")
    member = unique("user")
    await publish_domain_event(
        js,
        MembershipActivated(user_id=member, group_id=group, tier_id=tier["id"], source="one_time"),
    )
    # Waited for, not polled with purchases: one made before the seat is counted would hold it.
    await consumed(js, DOMAIN.name)

    full = await buy(api, tier["id"])
    assert full.status_code == 409
    assert full.json()["error"]["code"] == "tier_full"
    assert (await buy(api, tier["id"], member)).status_code == 201

    await publish_domain_event(
        js, MembershipExpired(user_id=member, group_id=group, tier_id=tier["id"], reason="expired")
    )
    # The ended member's seat is free again, but their own renewal session still holds it.
    assert (await buy(api, tier["id"])).status_code == 409


async def test_every_way_a_membership_ends_frees_its_seat(
    api: httpx.AsyncClient, js: JetStreamContext
) -> None:
    for ended, reason in (
        (MembershipCanceled, "canceled"),
        (MembershipExpired, "payment_failed"),
        (MembershipRevoked, "refunded"),
    ):
        group = unique("group")
        tier_id = (await create_tier(api, group, capacity=1))["id"]
        member = unique("user")
        await publish_domain_event(
            js, MembershipActivated(user_id=member, group_id=group, tier_id=tier_id)
        )
        await consumed(js, DOMAIN.name)
        assert (await buy(api, tier_id)).status_code == 409  # the membership holds the seat
        await publish_domain_event(
            js, ended(user_id=member, group_id=group, tier_id=tier_id, reason=reason)
        )
        freed = await wait_until(
            lambda t=tier_id: _created(buy(api, t)), message=f"{ended.__name__} frees the seat"
        )
        assert freed.status_code == 201


async def test_a_subscriber_cannot_buy_the_same_tier_twice_but_may_switch(
    api: httpx.AsyncClient, js: JetStreamContext, stripe_client: stripe.StripeClient
) -> None:
    group = unique("group")
    current, other = await create_tier(api, group), await create_tier(api, group, amount=5000)
    member = unique("user")
    await publish_domain_event(
        js,
        MembershipActivated(
            user_id=member, group_id=group, tier_id=current["id"], subscription_id="sub_current"
        ),
    )

    # Bought before the membership is known, a retry would be answered with that checkout.
    await consumed(js, DOMAIN.name)
    again = await buy(api, current["id"], member)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "already_member"

    switch = await buy(api, other["id"], member)
    assert switch.status_code == 201
    session = await stripe_client.v1.checkout.sessions.retrieve_async(switch.json()["session_id"])
    assert session.metadata["previous_subscription_id"] == "sub_current"


async def test_a_late_older_membership_event_does_not_undo_a_newer_one(
    api: httpx.AsyncClient, js: JetStreamContext
) -> None:
    group = unique("group")
    tier = await create_tier(api, group, capacity=1)
    member = unique("user")
    activated = MembershipActivated(user_id=member, group_id=group, tier_id=tier["id"])
    stale_end = MembershipCanceled(
        user_id=member,
        group_id=group,
        tier_id=tier["id"],
        reason="canceled",
        occurred_at=activated.occurred_at - timedelta(days=30),
    )
    await publish_domain_event(js, activated)
    await consumed(js, DOMAIN.name)
    assert (await buy(api, tier["id"])).status_code == 409  # the membership holds the seat
    await publish_domain_event(js, stale_end)
    await consumed(js, DOMAIN.name)
    assert (await buy(api, tier["id"])).status_code == 409


async def test_a_delayed_payment_holds_the_seat_until_it_fails(
    api: httpx.AsyncClient, js: JetStreamContext, stripe_client: stripe.StripeClient
) -> None:
    tier = await create_tier(api, unique("group"), capacity=1)
    started = await buy(api, tier["id"])
    session = await stripe_client.v1.checkout.sessions.retrieve_async(started.json()["session_id"])
    pending = session.to_dict() | {"status": "complete", "payment_status": "unpaid"}
    await publish_stripe_event(js, stripe_event("checkout.session.completed", pending))
    await consumed(js, STRIPE.name)
    assert (await buy(api, tier["id"])).status_code == 409

    await publish_stripe_event(js, stripe_event("checkout.session.async_payment_failed", pending))
    await consumed(js, STRIPE.name)
    assert (await buy(api, tier["id"])).status_code == 201


async def test_membership_counting_a_paid_session_releases_its_hold(
    api: httpx.AsyncClient, js: JetStreamContext, stripe_client: stripe.StripeClient
) -> None:
    """Once membership counts the buyer, their paid session no longer holds the seat: when the
    membership ends, the seat is free."""
    group = unique("group")
    tier = await create_tier(api, group, capacity=1)
    buyer = unique("user")
    started = await buy(api, tier["id"], buyer)
    session = await stripe_client.v1.checkout.sessions.retrieve_async(started.json()["session_id"])
    paid = session.to_dict() | {"status": "complete", "payment_status": "paid"}
    await publish_stripe_event(js, stripe_event("checkout.session.completed", paid))
    await consumed(js, STRIPE.name)
    assert (await buy(api, tier["id"])).status_code == 409  # the paid session holds the seat

    for event in (
        MembershipActivated(user_id=buyer, group_id=group, tier_id=tier["id"]),
        MembershipExpired(user_id=buyer, group_id=group, tier_id=tier["id"], reason="expired"),
    ):
        await publish_domain_event(js, event)
        await consumed(js, DOMAIN.name)
    assert (await buy(api, tier["id"])).status_code == 201
