"""checkout.tier.seats_held: the seats unpaid checkouts hold on a tier with a capacity,
announced in the transaction of each change with the tier's next revision."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import stripe
from nats.js import JetStreamContext

from tollgate_shared.contracts.membership import MembershipActivated, MembershipExpired
from tollgate_shared.messaging.streams import DOMAIN, STRIPE
from tollgate_shared.testing import EmulatorEvents, publish_domain_event, unique, wait_until

from .conftest import auth, buy, consumed, create_tier, domain_events, organizer

SEATS_HELD = "checkout.tier.seats_held"
NEVER = datetime(9999, 1, 1, tzinfo=UTC)


async def announced(js: JetStreamContext, tier_id: str) -> list[dict[str, Any]]:
    """The tier's seats_held events so far, by revision."""
    events = await domain_events(js, SEATS_HELD, tier_id=tier_id)
    return sorted(events, key=lambda e: e["revision"])


async def newest(js: JetStreamContext, tier_id: str, **expected: Any) -> dict[str, Any]:
    """Wait until the tier's newest seats_held event has the `expected` fields."""

    async def matching() -> dict[str, Any] | None:
        events = await announced(js, tier_id)
        last = events[-1] if events else {}
        return last if all(last.get(k) == v for k, v in expected.items()) else None

    found: dict[str, Any] = await wait_until(matching, message=f"{SEATS_HELD} {expected}")
    return found


def at(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def revisions_grow(events: list[dict[str, Any]]) -> bool:
    """One event per revision, the revisions 1, 2, 3... with no gap."""
    return [e["revision"] for e in events] == list(range(1, len(events) + 1))


async def test_a_checkout_holds_a_seat_until_its_session_expires(
    api: httpx.AsyncClient,
    js: JetStreamContext,
    stripe_client: stripe.StripeClient,
    stripe_events: EmulatorEvents,
) -> None:
    group = unique("group")
    tier = await create_tier(api, group, capacity=3)
    started = await buy(api, tier["id"])
    assert started.status_code == 201, started.text

    taken = await newest(js, tier["id"], held=1)
    assert (taken["group_id"], taken["revision"]) == (group, 1)
    assert at(taken["held_until"]) == at(started.json()["expires_at"])

    await stripe_client.v1.checkout.sessions.expire_async(started.json()["session_id"])
    await stripe_events.forward("checkout.session.expired")
    freed = await newest(js, tier["id"], held=0)
    assert freed["held_until"] is None
    events = await announced(js, tier["id"])
    assert revisions_grow(events)
    assert freed["revision"] == events[-1]["revision"] > 1


async def test_a_paid_card_form_subscription_holds_until_membership_counts_the_member(
    api: httpx.AsyncClient,
    js: JetStreamContext,
    stripe_client: stripe.StripeClient,
    stripe_events: EmulatorEvents,
) -> None:
    group = unique("group")
    tier = await create_tier(api, group, capacity=2)
    member = unique("user")
    before = datetime.now(UTC)
    started = await api.post(
        "/checkout/subscriptions", json={"tier_id": tier["id"]}, headers=auth(member)
    )
    assert started.status_code == 201, started.text

    # Held for Stripe's 23 hours of an incomplete subscription.
    taken = await newest(js, tier["id"], held=1, revision=1)
    lapses = at(taken["held_until"])
    assert lapses is not None
    assert before + timedelta(hours=23) - timedelta(seconds=1) <= lapses
    assert lapses <= datetime.now(UTC) + timedelta(hours=23)

    # Paid: the seat is held, whatever the time, until membership counts the member.
    secret = started.json()["client_secret"].split("_secret_")[0]
    intent = await stripe_client.v1.payment_intents.confirm_async(
        secret, {"payment_method": "pm_card_visa"}
    )
    assert intent.status == "succeeded"
    await stripe_events.forward()
    paid = await newest(js, tier["id"], held=1, held_until="9999-01-01T00:00:00Z")
    assert paid["revision"] > taken["revision"]

    await publish_domain_event(
        js, MembershipActivated(user_id=member, group_id=group, tier_id=tier["id"])
    )
    counted = await newest(js, tier["id"], held=0, held_until=None)
    assert counted["revision"] > paid["revision"]
    assert revisions_grow(await announced(js, tier["id"]))


async def test_concurrent_checkouts_get_one_revision_each_and_count_every_earlier_hold(
    api: httpx.AsyncClient, js: JetStreamContext
) -> None:
    tier = await create_tier(api, unique("group"), capacity=5)

    answers = await asyncio.gather(*(buy(api, tier["id"]) for _ in range(8)))

    created = [a for a in answers if a.status_code == 201]
    assert len(created) == 5
    await newest(js, tier["id"], revision=5)
    events = await announced(js, tier["id"])
    assert revisions_grow(events)
    assert [e["held"] for e in events] == [1, 2, 3, 4, 5]
    assert at(events[-1]["held_until"]) == max(at(a.json()["expires_at"]) for a in created)


async def test_a_member_renewing_holds_no_other_seat_until_the_membership_ends(
    api: httpx.AsyncClient, js: JetStreamContext
) -> None:
    """A member's own checkout of their tier is not another seat: held counts it only once
    the membership has ended (membership reports it, no checkout change)."""
    group = unique("group")
    tier = await create_tier(api, group, capacity=1, interval="one_time_annual")
    member = unique("user")
    await publish_domain_event(
        js,
        MembershipActivated(user_id=member, group_id=group, tier_id=tier["id"], source="one_time"),
    )
    await consumed(js, DOMAIN.name)
    renewal = await buy(api, tier["id"], member)
    assert renewal.status_code == 201, renewal.text
    await newest(js, tier["id"], held=0, revision=1)

    await publish_domain_event(
        js, MembershipExpired(user_id=member, group_id=group, tier_id=tier["id"], reason="expired")
    )
    held = await newest(js, tier["id"], held=1, revision=2)
    assert at(held["held_until"]) == at(renewal.json()["expires_at"])


async def test_a_tier_without_a_capacity_announces_nothing_until_it_gets_one(
    api: httpx.AsyncClient,
    js: JetStreamContext,
    stripe_client: stripe.StripeClient,
    stripe_events: EmulatorEvents,
) -> None:
    group = unique("group")
    open_tier = await create_tier(api, group)
    kept, ended = await buy(api, open_tier["id"]), await buy(api, open_tier["id"])
    await stripe_client.v1.checkout.sessions.expire_async(ended.json()["session_id"])
    await stripe_events.forward("checkout.session.expired")
    await consumed(js, STRIPE.name)
    # Announced after all of the above: once it is out, they would have been too.
    limited = await create_tier(api, group, capacity=1)
    assert (await buy(api, limited["id"])).status_code == 201
    await newest(js, limited["id"], held=1)
    assert await announced(js, open_tier["id"]) == []

    # Given a capacity, the tier announces the seat its open checkout holds.
    changed = await api.patch(
        f"/tiers/{open_tier['id']}", json={"capacity": 10}, headers=organizer(group)
    )
    assert changed.status_code == 200, changed.text
    now_limited = await newest(js, open_tier["id"], held=1, revision=1)
    assert at(now_limited["held_until"]) == at(kept.json()["expires_at"])
