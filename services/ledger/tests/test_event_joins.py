"""A payment booked from what Stripe's events carry: a subscription payment's events in every
order, and again, book it once with its amount, group, invoice and (once the fee task ran) fee;
a member's flow makes the ledger read nothing from Stripe but pages of balance transactions."""

from __future__ import annotations

import itertools
from typing import Any

import httpx

from ledger.config import Settings
from tollgate_shared.testing import StripeWorld, unique, wait_until

from .conftest import PAGES, auth, fee_booked, stripe_usage

PARTS = ("invoice.paid", "invoice_payment.paid", "charge.succeeded")
"""The events that together tell a subscription payment (since `basil`)."""


async def _subscribed(world: StripeWorld, price: str, group: str) -> dict[str, Any]:
    """A member's first subscription payment at the emulator, its events taken (not sent)."""
    user = unique("u")
    member = await world.checkout(price, group_id=group, user_id=user, subscription=True)
    events = {e["type"]: e for e in await world.take()}
    [charge] = await world.charges_of_subscription(member["subscription"])
    found = await world.client.v1.charges.retrieve_async(
        charge, {"expand": ["balance_transaction"]}
    )
    return {
        "user": user,
        "charge": charge,
        "fee": found.balance_transaction.fee,
        "invoice": events["invoice.paid"]["data"]["object"]["id"],
        "events": events,
    }


async def test_a_subscription_payment_is_booked_once_whatever_order_its_events_come_in(
    members: StripeWorld, ledger: httpx.AsyncClient
) -> None:
    group = unique("grp")
    price = await members.price(1700, monthly=True)
    orders = list(itertools.permutations(PARTS))
    paid = [await _subscribed(members, price, group) for _ in orders]
    for order, payment in zip(orders, paid, strict=True):
        events = payment["events"]
        sent = [events[t] for t in order]
        await members.publish(sent)
        # Each again as a new delivery, with the invoice's other paid event.
        again = [*reversed(sent), events["invoice.payment_succeeded"]]
        await members.publish(again, copy="_again")

    for payment in paid:
        detail = await fee_booked(ledger, payment["charge"])
        assert (detail["group_id"], detail["user_id"], detail["amount"], detail["currency"]) == (
            group,
            payment["user"],
            1700,
            "usd",
        )
        assert (detail["invoice_id"], detail["fee"]) == (payment["invoice"], payment["fee"])
        assert detail["hosted_invoice_url"] and detail["period_start"] and detail["period_end"]
        kinds = sorted(t["kind"] for t in detail["transactions"])
        assert kinds == ["fee", "payment"]
        history = await ledger.get(f"/users/{payment['user']}/payments", headers=auth())
        assert [p["charge_id"] for p in history.json()["payments"]] == [payment["charge"]]

    async def summed() -> dict[str, Any] | None:
        answer = await ledger.get(f"/groups/{group}/summary", headers=auth())
        [totals] = answer.json()["totals"] or [None]
        return totals if totals and totals["gross"] == 1700 * len(paid) else None

    totals = await wait_until(summed, message="every payment in the summary")
    fees = sum(p["fee"] for p in paid)
    assert (totals["fees"], totals["net"]) == (fees, 1700 * len(paid) - fees)


async def test_a_members_payments_cost_the_ledger_no_stripe_read_but_pages_of_fees(
    members: StripeWorld, ledger: httpx.AsyncClient, settings: Settings
) -> None:
    before = await stripe_usage(members, settings)
    group = unique("grp")
    member = await members.checkout(
        await members.price(2100, monthly=True),
        group_id=group,
        user_id=unique("u"),
        subscription=True,
    )
    await members.control(f"subscriptions/{member['subscription']}/advance")
    bought = await members.checkout(await members.price(900), group_id=group, user_id=unique("u"))
    sent = await members.forward()
    charges = await members.charges_of_subscription(member["subscription"])
    charges.append(await members.charge_of_intent(bought["payment_intent"]))
    for charge in charges:
        await fee_booked(ledger, charge)

    after = await stripe_usage(members, settings)
    called = {k: n - before.get(k, 0) for k, n in after.items() if n != before.get(k, 0)}
    assert set(called) <= {PAGES}, called
    # The fee task lists what was booked since it last ran: a page a round at most here.
    assert 1 <= called.get(PAGES, 0) <= len(charges), (called, len(sent))
