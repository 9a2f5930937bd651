"""Memberships started in an app's own card form (Stripe Elements): a `default_incomplete`
subscription grants nothing while `incomplete` (its first invoice open, declined, or waiting on
3-D Secure), is announced once when that invoice is paid through its intent, whatever order
its events come in, and ends nothing when it expires incomplete; a tier switch started this
way cancels the superseded subscription once it is paid, not before. None of it reads Stripe."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator

import httpx
import pytest
from nats.js import JetStreamContext

from tollgate_shared.testing import StripeWorld, unique

from .conftest import STRIPE_KEY, Emulator, Service, ServiceFactory


@pytest.fixture
async def world(
    stripe_emulator_url: str, js: JetStreamContext, emulator: Emulator
) -> AsyncIterator[StripeWorld]:
    """Members paying at the emulator; their events put on STRIPE as the gateway would."""
    async with httpx.AsyncClient() as http:
        world = StripeWorld(stripe_emulator_url, js, emulator.client, http)
        await world.take()
        yield world


async def _applied(world: StripeWorld, service: Service) -> None:
    await world.forward()
    await service.settle()


async def _stripe_reads(emulator: Emulator) -> int:
    """Membership's requests to Stripe so far."""
    counts = await emulator.control("GET", "/requests", params={"api_key": STRIPE_KEY})
    return sum(int(c["count"]) for c in counts)


async def test_a_card_form_subscription_grants_access_only_once_its_first_invoice_is_paid(
    membership_service: ServiceFactory, emulator: Emulator, world: StripeWorld
) -> None:
    user, group = unique("user"), unique("group")
    price = await emulator.price()
    reads = await _stripe_reads(emulator)
    async with membership_service() as service:
        subscription, intent = await world.incomplete_subscription(
            price, group_id=group, user_id=user
        )
        await _applied(world, service)
        gate = await service.gate(user, group)
        assert (gate["active"], gate["status"]) == (False, "incomplete"), gate

        assert await world.confirm(intent, "pm_card_chargeDeclined") == "requires_payment_method"
        assert await world.confirm(intent, "pm_card_authenticationRequired") == "requires_action"
        await _applied(world, service)
        assert (await service.gate(user, group))["active"] is False

        await world.authenticate(intent)
        await _applied(world, service)
        gate = await service.gate(user, group)
        assert (gate["active"], gate["status"], gate["subscription_id"]) == (
            True,
            "active",
            subscription,
        )
        assert await service.event_types(user) == ["membership.activated"]
    assert await _stripe_reads(emulator) == reads


async def test_a_card_form_sign_ups_events_in_any_order_announce_it_once(
    membership_service: ServiceFactory, emulator: Emulator, world: StripeWorld
) -> None:
    group = unique("group")
    price = await emulator.price()
    reads = await _stripe_reads(emulator)
    async with membership_service() as service:
        users = [unique("user") for _ in range(3)]
        taken = []
        for user in users:
            _, intent = await world.incomplete_subscription(price, group_id=group, user_id=user)
            assert await world.confirm(intent) == "succeeded"
            taken.append(await world.take())
        shuffle = random.Random(len(users))
        for n, events in enumerate(taken):
            # Newest first, shuffled, as sent; then all again as new deliveries.
            order = [events[::-1], shuffle.sample(events, len(events)), events][n]
            await world.publish(order)
            await world.publish(events[::-1], copy="_again")
        await service.settle()

        for user in users:
            gate = await service.gate(user, group)
            assert (gate["active"], gate["status"]) == (True, "active"), (user, gate)
            assert await service.event_types(user) == ["membership.activated"]
    assert await _stripe_reads(emulator) == reads


async def test_a_card_form_subscription_left_incomplete_expires_ending_nothing(
    membership_service: ServiceFactory, emulator: Emulator, world: StripeWorld
) -> None:
    user, group = unique("user"), unique("group")
    price = await emulator.price()
    async with membership_service() as service:
        subscription, intent = await world.incomplete_subscription(
            price, group_id=group, user_id=user
        )
        assert await world.confirm(intent, "pm_card_threeDSecure2Required") == "requires_action"
        await world.authenticate(intent, succeed=False)
        await _applied(world, service)
        assert (await service.gate(user, group))["active"] is False

        expired = await emulator.advance(subscription)
        assert expired["status"] == "incomplete_expired", expired
        await _applied(world, service)
        gate = await service.gate(user, group)
        assert (gate["active"], gate["status"]) == (False, "incomplete_expired"), gate
        assert await service.event_types(user) == []


async def test_a_tier_switch_in_a_card_form_cancels_the_old_subscription_once_paid(
    membership_service: ServiceFactory, emulator: Emulator, world: StripeWorld
) -> None:
    user, group = unique("user"), unique("group")
    silver, gold = await emulator.price(), await emulator.price(amount=3000)
    async with membership_service() as service:
        old = await emulator.subscribe(user, group, "silver", silver)
        await _applied(world, service)
        new, intent = await world.incomplete_subscription(
            gold, group_id=group, user_id=user, tier_id="gold", previous_subscription_id=old
        )
        assert await world.confirm(intent, "pm_card_chargeDeclined") == "requires_payment_method"
        await _applied(world, service)
        gate = await service.gate(user, group)
        assert (gate["active"], gate["tier_id"], gate["subscription_id"]) == (True, "silver", old)
        assert await emulator.request_count("DELETE", f"/v1/subscriptions/{old}") == 0

        assert await world.confirm(intent) == "succeeded"
        await _applied(world, service)
        await _applied(world, service)  # the old subscription's cancellation
        gate = await service.gate(user, group)
        assert (gate["active"], gate["tier_id"], gate["subscription_id"]) == (True, "gold", new)
        assert await emulator.request_count("DELETE", f"/v1/subscriptions/{old}") == 1
        assert await service.event_types(user) == [
            "membership.activated",
            "membership.tier_changed",
        ]
