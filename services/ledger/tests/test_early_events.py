"""A refund and a dispute that may come before their payment's events: a subscription payment's
events and a one-off payment's, made at the emulator with a partial refund and a lost dispute,
delivered with the refund's and the dispute's in every relative order (the refund or the
dispute first too), book one payment, one refund and one dispute with Stripe's amounts, and
leave no part; all of them again, newest first, change nothing; the group's summary adds up to
Stripe's objects."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from nats.js import JetStreamContext

from ledger.config import Settings
from tollgate_shared.messaging.streams import STRIPE
from tollgate_shared.testing import StripeWorld, consumer_idle, unique, wait_until

from .conftest import auth, parts_left
from .test_ledger import expected_totals, summary

REFUND = ("charge.refunded", "refund.created")
DISPUTE = ("charge.dispute.created", "charge.dispute.funds_withdrawn", "charge.dispute.closed")
PAYMENT = {
    "subscription": ("invoice.paid", "invoice_payment.paid", "charge.succeeded"),
    "one-off": ("checkout.session.completed", "charge.succeeded"),
}
"""The events that tell each kind of payment, in the order Stripe sends them."""
REFUNDED = 400
KINDS = ["dispute_funds_withdrawn", "fee", "payment", "refund"]


def orders(kind: str) -> list[tuple[tuple[str, ...], ...]]:
    """Every order of the payment's events, its refund's and its dispute's (each kept together):
    a one-off payment's events in either order, a subscription's in Stripe's (their six orders
    are `test_event_joins.py`'s); every other one with the refund's and the dispute's own
    events newest first."""
    payment = [(t,) for t in PAYMENT[kind]]
    found = []
    for order in itertools.permutations([*payment, REFUND, DISPUTE]):
        if kind == "subscription" and [u for u in order if u in payment] != payment:
            continue
        flip = len(found) % 2 == 1
        found.append(tuple(u[::-1] if flip and u in (REFUND, DISPUTE) else u for u in order))
    return found


@dataclass(frozen=True)
class Paid:
    """A payment made at the emulator, refunded in part and lost to a dispute; its events taken
    (not sent)."""

    user: str
    charge: str
    names: list[str]
    """Its charge, payment intent and invoice: what its parts are kept under or name."""
    events: dict[str, dict[str, Any]]


async def _paid(world: StripeWorld, kind: str, price: str, group: str) -> Paid:
    user = unique("u")
    subscription = kind == "subscription"
    done = await world.checkout(price, group_id=group, user_id=user, subscription=subscription)
    if subscription:
        [charge] = await world.charges_of_subscription(done["subscription"])
    else:
        charge = await world.charge_of_intent(done["payment_intent"])
    await world.client.v1.refunds.create_async({"charge": charge, "amount": REFUNDED})
    dispute = await world.control(f"charges/{charge}/dispute", {"reason": "fraudulent"})
    await world.control(f"disputes/{dispute['id']}/close", {"outcome": "lost"})
    events = {e["type"]: e for e in await world.take()}
    paid = events["charge.succeeded"]["data"]["object"]
    names = [charge, paid["payment_intent"]]
    if subscription:
        names.append(events["invoice.paid"]["data"]["object"]["id"])
    return Paid(user, charge, names, events)


async def _settled(ledger: httpx.AsyncClient, paid: Paid) -> dict[str, Any] | None:
    """The payment's detail once its fee, refund and dispute are all booked; None before."""
    answer = await ledger.get(f"/payments/{paid.charge}", headers=auth())
    detail: dict[str, Any] = answer.json() if answer.status_code == 200 else {}
    if not detail or detail["fee"] is None:
        return None
    closed = [d["status"] for d in detail["disputes"]] == ["lost"]
    kinds = sorted(t["kind"] for t in detail["transactions"])
    return detail if closed and kinds == KINDS and detail["refunds"] else None


@pytest.mark.parametrize("kind", ["subscription", "one-off"])
async def test_a_refund_and_a_dispute_in_any_order_with_their_payment_are_booked_once(
    world: StripeWorld,
    ledger: httpx.AsyncClient,
    settings: Settings,
    js: JetStreamContext,
    kind: str,
) -> None:
    group = unique("grp")
    price = await world.price(1700, monthly=kind == "subscription")
    every = orders(kind)
    paid = [await _paid(world, kind, price, group) for _ in every]
    sent = [[p.events[t] for unit in o for t in unit] for o, p in zip(every, paid, strict=True)]
    for events in sent:
        await world.publish(events)
    for payment in paid:
        await wait_until(lambda p=payment: _settled(ledger, p), message=payment.charge)
    await wait_until(lambda: consumer_idle(js, STRIPE.name, "ledger"), message="all applied")
    settled = [await _settled(ledger, payment) for payment in paid]
    # Each again as a new delivery, newest first (a subscription's with its invoice's other
    # paid event): nothing changes.
    for events, payment in zip(sent, paid, strict=True):
        again = [*reversed(events)]
        if kind == "subscription":
            again.append(payment.events["invoice.payment_succeeded"])
        await world.publish(again, copy="_again")
    await wait_until(lambda: consumer_idle(js, STRIPE.name, "ledger"), message="again applied")

    for payment, first in zip(paid, settled, strict=True):
        detail = await _settled(ledger, payment)
        assert detail == first, payment.charge
        assert (detail["group_id"], detail["user_id"], detail["amount"]) == (
            group,
            payment.user,
            1700,
        )
        [refund] = detail["refunds"]
        assert (refund["amount"], refund["status"]) == (REFUNDED, "succeeded")
        [dispute] = detail["disputes"]
        assert (dispute["amount"], dispute["status"]) == (1700, "lost")
        assert {step["event_type"] for step in detail["timeline"]} == {*REFUND, *DISPUTE}
        history = await ledger.get(f"/users/{payment.user}/payments", headers=auth())
        assert [p["charge_id"] for p in history.json()["payments"]] == [payment.charge]
        assert await parts_left(settings, payment.names) == 0, payment.charge

    expected = await expected_totals(world, [p.charge for p in paid], [])
    assert await summary(ledger, group) == expected
    assert expected["usd"]["refunds"] == REFUNDED * len(paid)
    assert expected["usd"]["disputes"] == 1700 * len(paid)
