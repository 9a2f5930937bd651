"""Invoices in the shape of API versions before `2025-03-31.basil` (the subscription's metadata
in the invoice's own `subscription_details`) are applied like current ones, from what they say."""

from __future__ import annotations

from typing import Any

from tollgate_shared.testing import (
    PRE_BASIL_API_VERSION,
    EmulatorEvents,
    pre_basil_invoice,
    unique,
)

from .conftest import Emulator, ServiceFactory


async def test_a_pre_basil_renewal_is_applied_like_a_current_one(
    membership_service: ServiceFactory, emulator: Emulator, deliverer: EmulatorEvents
) -> None:
    group, current, legacy = unique("group"), unique("user"), unique("user")
    price = await emulator.price()
    subs = {
        user: await emulator.subscribe(user, group, "gold", price, credit_allowances="booking=5")
        for user in (current, legacy)
    }
    for sub in subs.values():
        await emulator.advance(sub)
    events = await deliverer.take()

    def shaped(event: dict[str, Any]) -> dict[str, Any]:
        """The legacy member's invoices as an endpoint on the old API version gets them."""
        obj = event["data"]["object"]
        if not event["type"].startswith("invoice.") or legacy not in str(obj):
            return event
        old = pre_basil_invoice(obj)
        return event | {"api_version": PRE_BASIL_API_VERSION, "data": {"object": old}}

    renewals = [
        e
        for e in events
        if e["type"] == "invoice.paid"
        and e["data"]["object"]["billing_reason"] == "subscription_cycle"
    ]
    assert len(renewals) == 2
    async with membership_service() as service:
        await deliverer.publish([shaped(e) for e in events if e not in renewals])
        await service.settle()
        paths = {user: f"/v1/subscriptions/{sub}" for user, sub in subs.items()}
        before = {user: await emulator.request_count("GET", path) for user, path in paths.items()}
        await deliverer.publish([shaped(e) for e in renewals])
        await service.settle()
        reads = {
            user: await emulator.request_count("GET", path) - before[user]
            for user, path in paths.items()
        }
        gates = {user: await service.gate(user, group) for user in subs}
        types = {user: await service.event_types(user) for user in subs}

    # The invoice names its member and its tier's credits, and the subscription's snapshots
    # its state: no read of the subscription, in either shape.
    assert reads == {current: 0, legacy: 0}
    assert types[legacy] == types[current] == ["membership.activated", "membership.renewed"]
    shown = ("active", "status", "tier_id", "source", "credits")
    assert [gates[legacy][k] for k in shown] == [gates[current][k] for k in shown]
    assert [gates[legacy][k] for k in shown] == [
        True,
        "active",
        "gold",
        "subscription",
        {"booking": 5},
    ]
