"""Duplicated and shuffled delivery ends in the same state as one clean, in-order delivery."""

from __future__ import annotations

import random
from typing import Any

from sqlalchemy import select

from membership.adapters import orm
from tollgate_shared.testing import EmulatorEvents, unique

from .conftest import Emulator, Service, ServiceFactory

MEMBERS = 3


async def _state(service: Service, users: list[str], group: str) -> dict[str, Any]:
    """What the gate answers, what is announced, and what is stored per subscription."""
    gates = {user: await service.gate(user, group) for user in users}
    m, s = orm.memberships, orm.subscriptions
    async with service.engine.connect() as conn:
        announced = (
            await conn.execute(
                select(m.c.user_id, m.c.active, m.c.tier_id, m.c.status, m.c.subscription_id)
                .where(m.c.group_id == group)
                .order_by(m.c.user_id)
            )
        ).all()
        subscriptions = (
            await conn.execute(
                select(s.c.id, s.c.status, s.c.tier_id, s.c.period_end, s.c.cancel_at_period_end)
                .where(s.c.group_id == group)
                .order_by(s.c.id)
            )
        ).all()
    return {"gates": gates, "announced": announced, "subscriptions": subscriptions}


async def test_shuffled_and_duplicated_delivery_matches_clean_delivery(
    membership_service: ServiceFactory, emulator: Emulator, deliverer: EmulatorEvents
) -> None:
    group = unique("group")
    users = [unique("user") for _ in range(MEMBERS)]
    silver, gold = await emulator.price(), await emulator.price(amount=3000)

    async with membership_service() as clean:

        async def step() -> None:
            await deliverer.forward()
            await clean.settle()

        renewing, failing, switching = users
        sub = await emulator.subscribe(renewing, group, "silver", silver)
        await emulator.advance(sub)
        await emulator.advance(sub)
        await step()

        sub = await emulator.subscribe(failing, group, "silver", silver)
        await emulator.advance(sub, card_number="4000000000000002")
        await emulator.advance(sub, card_number="4000000000000002", on_failure="unpaid")
        await step()

        old = await emulator.subscribe(switching, group, "silver", silver)
        await step()
        await emulator.subscribe(switching, group, "gold", gold, previous=old)
        await step()
        await step()  # the cancellation membership asked for
        expected = await _state(clean, users, group)

    events = await deliverer.all()
    ours = [e for e in events if _mentions(e, users)]
    assert len(ours) > 20
    assert expected["gates"][renewing]["active"] is True
    assert expected["gates"][failing]["status"] == "unpaid"
    assert expected["gates"][switching]["tier_id"] == "gold"

    shuffled = [*ours, *random.Random(7).sample(ours, len(ours) // 2), *ours[::-1]]
    random.Random(11).shuffle(shuffled)
    async with membership_service() as replayed:
        for copy, batch in enumerate((shuffled, shuffled[::-1])):
            await deliverer.publish(batch, copy=f"#replay{copy}-{unique('r')}")
        await replayed.settle()
        assert await _state(replayed, users, group) == expected
    assert await emulator.request_count("DELETE", f"/v1/subscriptions/{old}") == 1


def _mentions(event: dict[str, Any], users: list[str]) -> bool:
    text = str(event["data"]["object"])
    return any(user in text for user in users)
