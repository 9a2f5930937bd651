"""Trials through the emulator: trialing grants access, converting keeps it without a second
activation, a trial ending without a payment method ends access cleanly — whatever the order
and number of deliveries."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from prometheus_client import REGISTRY

from tollgate_shared.testing import EmulatorEvents, unique

from .conftest import Emulator, ServiceFactory, applied


def _metadata(user: str, group: str) -> dict[str, str]:
    return {
        "user_id": user,
        "group_id": group,
        "tier_id": "gold",
        "purpose": "membership",
        "tier_interval": "month",
    }


async def test_a_trial_grants_access_and_converts_into_the_paid_membership(
    membership_service: ServiceFactory, emulator: Emulator, deliverer: EmulatorEvents
) -> None:
    user, group = unique("user"), unique("group")
    price = await emulator.price()
    async with membership_service() as service:
        session = await emulator.client.v1.checkout.sessions.create_async(
            {  # type: ignore[arg-type]
                "mode": "subscription",
                "line_items": [{"price": price, "quantity": 1}],
                "metadata": _metadata(user, group),
                "customer_email": f"{user}@example.com",
                "subscription_data": {
                    "metadata": _metadata(user, group),
                    "trial_period_days": 14,
                    "trial_settings": {"end_behavior": {"missing_payment_method": "cancel"}},
                },
                "success_url": "https://example.com/ok",
            }
        )
        done = await emulator.control("POST", f"/checkout/sessions/{session.id}/complete", {})
        subscription: str = done["session"]["subscription"]
        await applied(deliverer, service)
        gate = await service.gate(user, group)
        assert (gate["active"], gate["status"], gate["tier_id"]) == (True, "trialing", "gold")
        trial = await emulator.client.v1.subscriptions.retrieve_async(subscription)
        expires = datetime.fromisoformat(gate["expires_at"])
        assert expires == datetime.fromtimestamp(trial.trial_end, UTC)

        await emulator.advance(subscription)
        await applied(deliverer, service)
        gate = await service.gate(user, group)
        assert (gate["active"], gate["status"]) == (True, "active")
        types = await service.event_types(user)
        assert types.count("membership.activated") == 1 and "membership.canceled" not in types


async def test_a_trial_without_a_payment_method_ends_access_cleanly(
    membership_service: ServiceFactory, emulator: Emulator, deliverer: EmulatorEvents
) -> None:
    user, group = unique("user"), unique("group")
    price = await emulator.price()
    async with membership_service() as service:
        customer = await emulator.client.v1.customers.create_async({"email": f"{user}@example.com"})
        params: dict[str, Any] = {
            "customer": customer.id,
            "items": [{"price": price}],
            "metadata": _metadata(user, group),
            "trial_period_days": 7,
            "trial_settings": {"end_behavior": {"missing_payment_method": "cancel"}},
        }
        ended_before = _changes("membership.canceled")
        created = await emulator.client.v1.subscriptions.create_async(params)  # type: ignore[arg-type]
        events = await applied(deliverer, service)
        assert (await service.gate(user, group))["status"] == "trialing"

        await emulator.advance(created.id)
        events += await applied(deliverer, service)
        gate = await service.gate(user, group)
        assert (gate["active"], gate["status"]) == (False, "canceled")
        # Every event again, newest first: nothing changes.
        await deliverer.publish(list(reversed(events)), copy="-again")
        await service.settle()
        assert await service.gate(user, group) == gate
        assert await service.event_types(user) == ["membership.activated", "membership.canceled"]
        assert _changes("membership.canceled") == ended_before + 1  # the churn counter, once


def _changes(change: str) -> float:
    """`tollgate_membership_changes_total` of one type, as this process counted it."""
    return REGISTRY.get_sample_value("tollgate_membership_changes_total", {"type": change}) or 0.0
