"""What membership asks Stripe while it applies a member's events (README "What membership reads
from Stripe"): nothing for a sign-up through Checkout, a renewal or the events of a tier switch
in Stripe's order but the switch's guarded cancellation, nothing for a sign-up's events in any
order, and only the documented re-read where Stripe's ordering cannot place a snapshot."""

from __future__ import annotations

import itertools
import time
from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import select

from membership.adapters import orm
from membership.entrypoints.consumers import HANDLERS
from tollgate_shared.testing import EmulatorEvents, unique, wait_until

from .conftest import STRIPE_KEY, Emulator, Service, ServiceFactory

DECLINED = "4000000000000002"
CREDITS = {"credit_allowances": "booking=3"}

Requests = Counter[tuple[str, str]]


class StripeRequests:
    """The emulator's `/v1` requests made while membership applies events the test publishes
    (its own key's: the test's and other services' calls are not counted): the total
    `GET /_emulator/usage` counts, and by method and path."""

    def __init__(self, emulator: Emulator, service: Service, deliverer: EmulatorEvents) -> None:
        self.emulator, self.service, self.deliverer = emulator, service, deliverer
        self.events = 0

    async def _counts(self) -> tuple[int, Requests]:
        usage = await self.emulator.control("GET", "/usage", params={"api_key": STRIPE_KEY})
        counts = await self.emulator.control("GET", "/requests", params={"api_key": STRIPE_KEY})
        by_path = Counter(
            {(c["method"], c["path"]): c["count"] for c in counts if c["path"].startswith("/v1/")}
        )
        return int(usage["requests"]), by_path

    async def applying(self, events: list[dict[str, Any]]) -> Requests:
        """Publish `events` in order, wait until membership applied them; its requests."""
        total_before, before = await self._counts()
        await self.deliverer.publish(events)
        await self.service.settle()
        total_after, after = await self._counts()
        made = after - before
        assert total_after - total_before == sum(made.values()), (total_before, total_after, made)
        self.events += len(events)
        return made


def handled(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events membership's durable asks for."""
    return [e for e in events if e["type"] in HANDLERS]


async def _next_second() -> None:
    """Wait for a new Stripe second: a member's next step (a renewal, a switch) comes later."""
    now = int(time.time())
    await wait_until(lambda: int(time.time()) > now, message="a new second")


async def test_sign_up_renewal_and_tier_switch_in_stripes_order_read_nothing(
    membership_service: ServiceFactory, emulator: Emulator, deliverer: EmulatorEvents
) -> None:
    user, group = unique("user"), unique("group")
    silver, gold = await emulator.price(), await emulator.price(amount=3000)
    async with membership_service() as service:
        stripe = StripeRequests(emulator, service, deliverer)
        old = await emulator.subscribe(user, group, "silver", silver, **CREDITS)
        signed_up = await stripe.applying(await deliverer.take())
        gate = await service.gate(user, group)
        assert (gate["active"], gate["tier_id"], gate["credits"]) == (
            True,
            "silver",
            {"booking": 3},
        )

        await _next_second()
        await emulator.advance(old)
        renewed = await stripe.applying(await deliverer.take())
        assert await service.event_types(user) == ["membership.activated", "membership.renewed"]

        await _next_second()
        customer = (await emulator.client.v1.subscriptions.retrieve_async(old)).customer
        new = await emulator.subscribe(
            user, group, "gold", gold, previous=old, customer=customer, **CREDITS
        )
        switched = await stripe.applying(await deliverer.take())
        cancelled = await stripe.applying(await deliverer.take())  # the cancellation's events
        gate = await service.gate(user, group)
        assert (gate["active"], gate["tier_id"], gate["subscription_id"]) == (True, "gold", new)

    assert (signed_up, renewed, cancelled) == (Counter(), Counter(), Counter())
    # A switch cancels the subscription it replaces once: the one call it needs, guarded by
    # one read of what Stripe still bills (the stored state may lag Stripe's).
    old_path = f"/v1/subscriptions/{old}"
    assert switched == Counter({("GET", old_path): 1, ("DELETE", old_path): 1})
    assert stripe.events > 20


async def test_a_sign_ups_events_in_any_order_read_nothing_and_end_active(
    membership_service: ServiceFactory, emulator: Emulator, deliverer: EmulatorEvents
) -> None:
    group = unique("group")
    price = await emulator.price()
    members: dict[str, list[dict[str, Any]]] = {}
    for _ in range(6):
        user = unique("user")
        await emulator.subscribe(user, group, "silver", price, **CREDITS)
        members[user] = handled(await deliverer.take())
    kinds = sorted({e["type"] for events in members.values() for e in events})
    assert kinds == ["checkout.session.completed", "customer.subscription.created", "invoice.paid"]
    orders = list(itertools.permutations(range(3)))
    async with membership_service() as service:
        stripe = StripeRequests(emulator, service, deliverer)
        made: Requests = Counter()
        for (user, events), order in zip(members.items(), orders, strict=True):
            for n in order:
                made += await stripe.applying([events[n]])
                gate = await service.gate(user, group)
                # Until its snapshot arrives the subscription is not known, never wrongly so.
                assert gate["active"] is False or gate["tier_id"] == "silver", gate
            made += await stripe.applying(events)  # and every one again
            gate = await service.gate(user, group)
            assert (gate["active"], gate["status"], gate["tier_id"], gate["credits"]) == (
                True,
                "active",
                "silver",
                {"booking": 3},
            ), (order, gate)
            assert await service.event_types(user) == ["membership.activated"]
        emails = await _emails(service, group)

    assert made == Counter()
    assert emails == {user: f"{user}@example.com" for user in members}


async def _emails(service: Service, group: str) -> dict[str, str | None]:
    s = orm.subscriptions
    async with service.engine.connect() as conn:
        rows = await conn.execute(select(s.c.user_id, s.c.email).where(s.c.group_id == group))
    return {row.user_id: row.email for row in rows}


async def test_snapshots_of_one_second_out_of_order_are_re_read_once(
    membership_service: ServiceFactory, emulator: Emulator, deliverer: EmulatorEvents
) -> None:
    """A declined renewal's two snapshots (period moved, then past_due) share a second: in
    Stripe's order the newer applies; the other way round neither the second nor the statuses
    place them, so the subscription is read (and, past_due not entitling, its customer's)."""
    user, group = unique("user"), unique("group")
    price = await emulator.price()
    async with membership_service() as service:
        stripe = StripeRequests(emulator, service, deliverer)
        sub = await emulator.subscribe(user, group, "silver", price)
        assert await stripe.applying(await deliverer.take()) == Counter()

        await _next_second()
        await emulator.advance(sub, card_number=DECLINED)
        declined = handled(await deliverer.take())
        snapshots = [e for e in declined if e["type"] == "customer.subscription.updated"]
        assert [s["data"]["object"]["status"] for s in snapshots] == ["active", "past_due"]
        assert len({s["created"] for s in snapshots}) == 1
        made = await stripe.applying(declined[::-1])
        gate = await service.gate(user, group)

    assert (gate["active"], gate["status"]) == (True, "past_due")
    assert made == Counter(
        {("GET", f"/v1/subscriptions/{sub}"): 1, ("GET", "/v1/subscriptions"): 1}
    )


async def _signed_up_and_renewed_in_one_second(
    emulator: Emulator, deliverer: EmulatorEvents, user: str, group: str, price: str
) -> tuple[list[dict[str, Any]], int]:
    """A member who signs up and is renewed in the same Stripe second (as the emulator renews at
    once, where Stripe renews a period later): the events membership handles, and the renewed
    period's end. Tried again from a new second if the second ran out in between."""
    for _ in range(3):
        await _next_second()
        sub = await emulator.subscribe(user, group, "silver", price, **CREDITS)
        await emulator.advance(sub)
        events = handled(await deliverer.take())
        seconds = {e["created"] for e in events if e["type"].startswith("customer.subscription.")}
        if len(seconds) == 1:
            renewed = await emulator.client.v1.subscriptions.retrieve_async(sub)
            return events, renewed["items"].data[0].current_period_end
        user = unique("user")
    raise AssertionError("no sign-up and renewal in one second")


async def test_a_sign_up_and_its_renewal_in_one_second_are_placed_by_their_periods(
    membership_service: ServiceFactory, emulator: Emulator, deliverer: EmulatorEvents
) -> None:
    """The sign-up's snapshot and the renewal's share a second and both show `active`: the
    renewal's period starts later, so it is the newer one in either order, and nothing is
    read."""
    group = unique("group")
    price = await emulator.price()
    async with membership_service() as service:
        stripe = StripeRequests(emulator, service, deliverer)
        made: Requests = Counter()
        for order in ("stripe's", "newest first"):
            user = unique("user")
            events, period_end = await _signed_up_and_renewed_in_one_second(
                emulator, deliverer, user, group, price
            )
            snapshots = [e for e in events if e["type"].startswith("customer.subscription.")]
            assert [e["type"] for e in snapshots] == [
                "customer.subscription.created",
                *["customer.subscription.updated"] * 2,
            ]
            made += await stripe.applying(events if order == "stripe's" else events[::-1])
            gate = await service.gate(user, group)
            expires_at = int(datetime.fromisoformat(gate["expires_at"]).timestamp())
            assert (gate["active"], gate["status"], expires_at) == (True, "active", period_end)

    assert made == Counter()
