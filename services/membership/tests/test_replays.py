"""Finished histories applied in order (a backlog, a rewind), one event at a time or all at once,
never show a membership older than one already shown, and announce nothing that live delivery
did not (no spurious activation, no end in the middle of a tier switch)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tollgate_shared.testing import EmulatorEvents, unique, wait_until

from .conftest import Emulator, Service, ServiceFactory

DECLINED = "4000000000000002"

Shown = tuple[Any, ...]


Step = Callable[["Scenario"], Awaitable[Any]]


@dataclass
class Scenario:
    """One member's history: a step per round (each round starts in a new Stripe second)."""

    name: str
    steps: list[Step]
    user: str = field(default_factory=lambda: unique("user"))
    ids: dict[str, Any] = field(default_factory=dict)


def _scenarios(emulator: Emulator, group: str, prices: dict[str, str]) -> list[Scenario]:
    async def subscribe(s: Scenario) -> None:
        s.ids["silver"] = await emulator.subscribe(s.user, group, "silver", prices["silver"])

    def advance(**body: Any) -> Step:
        return lambda s: emulator.advance(s.ids["silver"], **body)

    async def cancel_at_period_end(s: Scenario) -> None:
        await emulator.client.v1.subscriptions.update_async(
            s.ids["silver"], {"cancel_at_period_end": True}
        )

    async def switch(s: Scenario) -> None:
        old = await emulator.client.v1.subscriptions.retrieve_async(s.ids["silver"])
        s.ids["gold"] = await emulator.subscribe(
            s.user, group, "gold", prices["gold"], previous=old.id, customer=old.customer
        )

    def buy(n: int) -> Step:
        async def step(s: Scenario) -> None:
            s.ids[n] = await emulator.buy_annual(s.user, group, "annual", prices["annual"])

        return step

    def refund(n: int) -> Step:
        return lambda s: emulator.client.v1.refunds.create_async(
            {"payment_intent": s.ids[n]["payment_intent"]}
        )

    async def lose_dispute(s: Scenario) -> None:
        charges = await emulator.client.v1.charges.list_async(
            {"payment_intent": s.ids[1]["payment_intent"]}
        )
        dispute = await emulator.control(
            "POST", f"/charges/{charges.data[0].id}/dispute", {"reason": "fraudulent"}
        )
        await emulator.control("POST", f"/disputes/{dispute['id']}/close", {"outcome": "lost"})

    declined = advance(card_number=DECLINED)
    return [
        Scenario("new", [subscribe]),
        Scenario("renewals", [subscribe, advance(), advance()]),
        Scenario("failed renewal, then recovery", [subscribe, declined, advance()]),
        Scenario(
            "failed renewal, then canceled",
            [subscribe, declined, advance(card_number=DECLINED, on_failure="canceled")],
        ),
        Scenario(
            "failed renewal, then unpaid",
            [subscribe, declined, advance(card_number=DECLINED, on_failure="unpaid")],
        ),
        Scenario("cancel at period end", [subscribe, cancel_at_period_end, advance()]),
        Scenario("tier switch", [subscribe, switch]),
        Scenario("one-time annual, renewed", [buy(1), buy(2)]),
        Scenario("one-time annual, refunded", [buy(1), buy(2), refund(2), refund(1)]),
        Scenario("one-time annual, dispute lost", [buy(1), lose_dispute]),
    ]


def _shown(gate: dict[str, Any]) -> Shown:
    """What the gate shows of a membership (a past_due grace runs from when it was seen)."""
    expires = None if gate["status"] == "past_due" else gate["expires_at"]
    keys = ("active", "status", "tier_id", "source", "subscription_id", "cancel_at_period_end")
    return (*(gate[k] for k in keys), expires)


async def _announced(service: Service, user: str) -> list[Shown]:
    return [(e["type"], e["tier_id"], e["source"]) for e in await service.events(user)]


def _distinct(items: Sequence[Shown]) -> list[Shown]:
    return [item for n, item in enumerate(items) if n == 0 or items[n - 1] != item]


def _in_order_within(seen: Sequence[Shown], truth: Sequence[Shown]) -> bool:
    """Whether `seen` is `truth` with some states left out: it never goes back."""
    remaining = iter(_distinct(truth))
    return all(any(state == t for t in remaining) for state in _distinct(seen))


def _users_of(event: dict[str, Any], users: list[str]) -> list[str]:
    """The member an event is about, or everyone when it does not say (a dispute)."""
    text = str(event["data"]["object"])
    return [user for user in users if user in text] or users


async def test_in_order_replays_never_show_an_older_membership(
    membership_service: ServiceFactory, emulator: Emulator, deliverer: EmulatorEvents
) -> None:
    group = unique("group")
    prices = {
        "silver": await emulator.price(),
        "gold": await emulator.price(amount=3000),
        "annual": await emulator.price(interval=None, amount=9900),
    }
    scenarios = _scenarios(emulator, group, prices)
    users = [s.user for s in scenarios]
    history: list[dict[str, Any]] = []

    async with membership_service() as live:
        truth = {user: [_shown(await live.gate(user, group))] for user in users}
        for round_ in range(max(len(s.steps) for s in scenarios)):
            for s in scenarios:
                if round_ < len(s.steps):
                    await s.steps[round_](s)
            # until what membership itself asked of Stripe (a superseded cancellation) is in too;
            # one event at a time, so that the truth has every state the gate showed
            while pending := await deliverer.pending():
                for event in pending:
                    await deliverer.publish([event])
                    deliverer.taken.add(event["id"])
                    history.append(event)
                    await live.settle()
                    for user in _users_of(event, users):
                        truth[user].append(_shown(await live.gate(user, group)))
            last = max(e["created"] for e in history)
            await wait_until(lambda last=last: time.time() >= last + 1, message="a new second")
        live_announced = {user: await _announced(live, user) for user in users}

    switched = next(s for s in scenarios if s.name == "tier switch")
    assert truth[switched.user][-1][2] == "gold"
    assert all(any(shown[0] for shown in states) for states in truth.values())

    async with membership_service() as one_by_one:
        shown = {user: [_shown(await one_by_one.gate(user, group))] for user in users}
        for event in history:
            await deliverer.publish([event], copy="#one-by-one")
            await one_by_one.settle()
            for user in _users_of(event, users):
                shown[user].append(_shown(await one_by_one.gate(user, group)))
        replayed = {user: await _announced(one_by_one, user) for user in users}
    for s in scenarios:
        assert _in_order_within(shown[s.user], truth[s.user]), (s.name, shown[s.user])
        assert _in_order_within(replayed[s.user], live_announced[s.user]), (
            s.name,
            replayed[s.user],
        )
        assert shown[s.user][-1] == truth[s.user][-1], s.name

    await deliverer.publish(history, copy="#backlog")
    async with membership_service() as backlog:
        await backlog.settle()
        for s in scenarios:
            announced = await _announced(backlog, s.user)
            assert _in_order_within(announced, live_announced[s.user]), (s.name, announced)
            assert _shown(await backlog.gate(s.user, group)) == truth[s.user][-1], s.name
    old = switched.ids["silver"]
    assert await emulator.request_count("DELETE", f"/v1/subscriptions/{old}") == 1
