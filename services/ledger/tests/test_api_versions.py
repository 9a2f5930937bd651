"""Invoices in the shape of API versions before `2025-03-31.basil` (the subscription's metadata
in the invoice's own `subscription_details`) are booked for their member like current ones."""

from __future__ import annotations

from typing import Any

import httpx

from tollgate_shared.testing import (
    PRE_BASIL_API_VERSION,
    StripeWorld,
    pre_basil_invoice,
    publish_stripe_event,
    unique,
    wait_until,
)

from .conftest import auth


async def test_a_pre_basil_invoice_is_listed_among_its_members_payments(
    ledger: httpx.AsyncClient, world: StripeWorld
) -> None:
    group, user = unique("grp"), unique("u")
    price = await world.price(1500, monthly=True)
    member = await world.checkout(price, group_id=group, user_id=user, subscription=True)
    [charge] = await world.charges_of_subscription(member["subscription"])
    intent = (await world.client.v1.charges.retrieve_async(charge)).payment_intent
    # The invoice's events, which name its charge before `basil`, and the charge's own (which
    # tells its amount and balance transaction): no invoice payment is needed to book it.
    events = await world.take()
    invoice_events = [e for e in events if e["type"].startswith("invoice.")]
    for event in invoice_events:
        old = pre_basil_invoice(event["data"]["object"], payment_intent=intent, charge=charge)
        legacy = event | {"api_version": PRE_BASIL_API_VERSION, "data": {"object": old}}
        await publish_stripe_event(world.js, legacy)
    for event in events:
        if event["type"] == "charge.succeeded":
            await publish_stripe_event(world.js, event | {"api_version": PRE_BASIL_API_VERSION})

    async def listed() -> dict[str, Any] | None:
        found = (await ledger.get(f"/users/{user}/payments", headers=auth())).json()
        return found if found["payments"] and found["invoices"] else None

    found = await wait_until(listed, message="payment and invoice listed", timeout=30)
    [invoice_id] = {e["data"]["object"]["id"] for e in invoice_events}
    [payment] = found["payments"]
    assert (payment["charge_id"], payment["invoice_id"], payment["group_id"]) == (
        charge,
        invoice_id,
        group,
    )
    [invoice] = found["invoices"]
    assert (invoice["invoice_id"], invoice["group_id"], invoice["user_id"]) == (
        invoice_id,
        group,
        user,
    )
