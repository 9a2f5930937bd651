"""Subscription lifecycles driven through the emulator end in the right gate answer."""

from __future__ import annotations

import time
from datetime import datetime

from tollgate_shared.testing import EmulatorEvents, unique, wait_until

from .conftest import Emulator, Service, ServiceFactory


async def test_renewals_past_due_grace_and_lapse(
    membership_service: ServiceFactory, emulator: Emulator, deliverer: EmulatorEvents
) -> None:
    user, group = unique("user"), unique("group")
    price = await emulator.price()
    async with membership_service(membership_grace_seconds=4) as service:
        sub = await emulator.subscribe(user, group, "gold", price)
        await deliverer.forward()
        await service.settle()
        gate = await service.gate(user, group)
        assert gate["active"] is True
        assert (gate["tier_id"], gate["status"], gate["source"]) == (
            "gold",
            "active",
            "subscription",
        )
        first_end = gate["expires_at"]

        await emulator.advance(sub)
        await deliverer.forward()
        await service.settle()
        gate = await service.gate(user, group)
        assert gate["active"] is True and gate["expires_at"] > first_end

        await emulator.advance(sub, card_number="4000000000000002")
        await deliverer.forward()
        await service.settle()
        gate = await service.gate(user, group)
        assert gate["status"] == "past_due"
        assert gate["grace_until"] is not None

        async def lapsed() -> bool:
            return (await service.gate(user, group))["active"] is False

        await wait_until(lapsed, timeout=20, message="grace period over")
        await wait_until(
            lambda: _has(service, user, "membership.expired"), message="expiry announced"
        )
        types = await service.event_types(user)
        assert types == [
            "membership.activated",
            "membership.renewed",
            "membership.past_due",
            "membership.expired",
        ]
        ended = (await service.events(user))[-1]
        assert ended["reason"] == "payment_failed" and ended["email"] == f"{user}@example.com"


async def _has(service: Service, user: str, event_type: str) -> bool:
    return event_type in await service.event_types(user)


async def test_tier_switch_cancels_the_old_subscription_once_under_redelivery(
    membership_service: ServiceFactory,
    emulator: Emulator,
    deliverer: EmulatorEvents,
    webhook_gateway: str,
) -> None:
    user, group = unique("user"), unique("group")
    silver, gold = await emulator.price(), await emulator.price(amount=3000)
    await emulator.control("POST", "/delivery", {"mode": "duplicate", "endpoint": webhook_gateway})

    async def quiet() -> bool:
        delivered = all(e["pending_webhooks"] == 0 for e in await deliverer.pending())
        return delivered and await service.drained()

    async with membership_service() as service:
        old = await emulator.subscribe(user, group, "silver", silver)
        await wait_until(quiet, message="checkout delivered and consumed")
        assert (await service.gate(user, group))["tier_id"] == "silver"

        new = await emulator.subscribe(user, group, "gold", gold, previous=old)
        await wait_until(quiet, message="switch delivered and consumed")
        await wait_until(quiet, message="cancellation delivered and consumed")
        events = await deliverer.take()
        assert f"customer.subscription.deleted:{old}" in {
            f"{e['type']}:{e['data']['object']['id']}" for e in events
        }
        for copy in ("#2", "#3"):
            await deliverer.publish(events, copy=copy)
        await service.settle()

        assert await emulator.request_count("DELETE", f"/v1/subscriptions/{old}") == 1
        assert await emulator.request_count("DELETE", f"/v1/subscriptions/{new}") == 0
        gate = await service.gate(user, group)
        assert (gate["active"], gate["tier_id"], gate["subscription_id"]) == (True, "gold", new)
        assert await service.event_types(user) == [
            "membership.activated",
            "membership.tier_changed",
        ]
        changed = (await service.events(user))[-1]
        assert changed["previous_tier_id"] == "silver"
        assert changed["previous_subscription_id"] == old


async def test_tier_switch_without_metadata_is_found_by_member_and_group(
    membership_service: ServiceFactory, emulator: Emulator, deliverer: EmulatorEvents
) -> None:
    user, group = unique("user"), unique("group")
    silver, gold = await emulator.price(), await emulator.price(amount=3000)
    async with membership_service() as service:
        old = await emulator.subscribe(user, group, "silver", silver)
        created = (await emulator.client.v1.subscriptions.retrieve_async(old)).created
        await wait_until(lambda: int(time.time()) > created, message="a newer second")
        new = await emulator.subscribe(user, group, "gold", gold)
        await deliverer.forward()
        await service.settle()
        await deliverer.forward()
        await service.settle()

        assert await emulator.request_count("DELETE", f"/v1/subscriptions/{old}") == 1
        gate = await service.gate(user, group)
        assert (gate["tier_id"], gate["subscription_id"]) == ("gold", new)
        old_now = await emulator.client.v1.subscriptions.retrieve_async(old)
        assert old_now.status == "canceled"


async def test_cancel_at_period_end_keeps_access_until_the_period_ends(
    membership_service: ServiceFactory, emulator: Emulator, deliverer: EmulatorEvents
) -> None:
    user, group = unique("user"), unique("group")
    price = await emulator.price()
    async with membership_service() as service:
        sub = await emulator.subscribe(user, group, "gold", price)
        await emulator.client.v1.subscriptions.update_async(sub, {"cancel_at_period_end": True})
        await deliverer.forward()
        await service.settle()
        gate = await service.gate(user, group)
        assert (gate["active"], gate["cancel_at_period_end"]) == (True, True)
        period_end = (await emulator.client.v1.subscriptions.retrieve_async(sub))["items"].data[0]
        assert _epoch(gate["expires_at"]) == period_end.current_period_end

        await emulator.advance(sub)
        await deliverer.forward()
        await service.settle()
        gate = await service.gate(user, group)
        assert (gate["active"], gate["status"]) == (False, "canceled")
        events = await service.events(user)
        assert [e["type"] for e in events] == ["membership.activated", "membership.canceled"]
        assert events[-1]["reason"] == "canceled"


def _epoch(iso: str) -> int:
    return int(datetime.fromisoformat(iso).timestamp())
