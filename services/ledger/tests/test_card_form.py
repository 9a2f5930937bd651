"""Payments made in an app's own card form (Stripe Elements): purchases through a PaymentIntent
and the first invoice of a `default_incomplete` subscription, confirmed at the emulator with
Stripe's test payment methods (after a decline or a 3-D Secure challenge), their events
delivered shuffled and each twice. Each is booked once with its group, member, invoice and
Stripe's fee, whose a purchase is told by its intent even when its charge carries no metadata;
declined and unauthenticated attempts book nothing; another app's intents cost the ledger no
Stripe request and keep nothing."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import httpx
from nats.js import JetStreamContext

from ledger.config import Settings
from tollgate_shared.messaging.streams import STRIPE
from tollgate_shared.testing import StripeWorld, consumer_idle, unique, wait_until

from .conftest import PAGES, auth, fee_booked, parts_left, stripe_usage

FIRST_TRIES = ("pm_card_chargeDeclined", "pm_card_authenticationRequired", None)
"""Before paying with `pm_card_visa`: a decline, a failed 3-D Secure challenge, nothing."""


@dataclass(frozen=True)
class Paid:
    """A payment made in a card form at the emulator; its events taken (not sent)."""

    user: str
    charge: str
    failed: list[str]
    """The charges of the declined attempts."""
    names: list[str]
    """What its parts are kept under or name: its charge, intent (and invoice)."""
    events: list[dict[str, Any]]


async def _pay(world: StripeWorld, intent: str, first: str | None) -> None:
    """Pay `intent` with `pm_card_visa`, after `first` was declined or failed its challenge."""
    if first is not None:
        status = await world.confirm(intent, first)
        if status == "requires_action":
            await world.authenticate(intent, succeed=False)
    assert await world.confirm(intent) == "succeeded"


async def _failed_charges(world: StripeWorld, intent: str) -> list[str]:
    charges = await world.client.v1.charges.list_async({"payment_intent": intent})
    return [c.id for c in charges.data if c.status == "failed"]


async def _delivered_shuffled_twice(world: StripeWorld, paid: list[Paid]) -> None:
    """Every payment's events shuffled, then all again shuffled otherwise as new deliveries."""
    shuffle = random.Random(len(paid))
    for copy in ("", "_again"):
        for payment in paid:
            events = list(payment.events)
            shuffle.shuffle(events)
            await world.publish(events, copy=copy)


async def _booked_once(
    ledger: httpx.AsyncClient, world: StripeWorld, paid: Paid, *, group: str, amount: int
) -> dict[str, Any]:
    """The payment's detail once its fee is booked: the group's, the member's only payment,
    with Stripe's fee, gross and fee once each; its declined attempts unbooked."""
    detail = await fee_booked(ledger, paid.charge)
    assert (detail["group_id"], detail["user_id"], detail["amount"]) == (group, paid.user, amount)
    charge = await world.client.v1.charges.retrieve_async(
        paid.charge, {"expand": ["balance_transaction"]}
    )
    assert detail["fee"] == charge.balance_transaction.fee
    assert sorted(t["kind"] for t in detail["transactions"]) == ["fee", "payment"]
    history = await ledger.get(f"/users/{paid.user}/payments", headers=auth())
    assert [p["charge_id"] for p in history.json()["payments"]] == [paid.charge]
    for failed in paid.failed:
        missing = await ledger.get(f"/payments/{failed}", headers=auth())
        assert missing.status_code == 404, missing.text
    return detail


async def _nothing_kept(js: JetStreamContext, settings: Settings, paid: list[Paid]) -> None:
    """Once every delivery is applied, no part of the payments is left."""
    await wait_until(lambda: consumer_idle(js, STRIPE.name, "ledger"), message="all applied")
    for payment in paid:
        assert await parts_left(settings, payment.names) == 0, payment.charge


async def test_a_purchase_paid_in_a_card_form_is_booked_once_by_its_intent(
    world: StripeWorld, ledger: httpx.AsyncClient, settings: Settings, js: JetStreamContext
) -> None:
    group = unique("grp")
    paid = []
    for stripped in (False, True):
        for first in FIRST_TRIES:
            user = unique("u")
            intent = await world.purchase_intent(2300, group_id=group, user_id=user)
            await _pay(world, intent, first)
            charge = await world.charge_of_intent(intent)
            events = await world.take()
            if stripped:  # as if Stripe had not copied the intent's metadata onto its charge
                for event in events:
                    if event["data"]["object"]["object"] == "charge":
                        event["data"]["object"]["metadata"] = {}
            failed = await _failed_charges(world, intent)
            paid.append(Paid(user, charge, failed, [charge, intent], events))
    await _delivered_shuffled_twice(world, paid)

    for payment in paid:
        await _booked_once(ledger, world, payment, group=group, amount=2300)
    await _nothing_kept(js, settings, paid)


async def test_a_card_form_subscriptions_first_invoice_paid_through_its_intent_is_booked_once(
    world: StripeWorld, ledger: httpx.AsyncClient, settings: Settings, js: JetStreamContext
) -> None:
    group = unique("grp")
    price = await world.price(1900, monthly=True)
    paid = []
    for first in FIRST_TRIES:
        user = unique("u")
        subscription, intent = await world.incomplete_subscription(
            price, group_id=group, user_id=user
        )
        await _pay(world, intent, first)
        charge = await world.charge_of_intent(intent)
        found = await world.client.v1.subscriptions.retrieve_async(subscription)
        assert found.status == "active"
        invoice = str(found.latest_invoice)
        failed = await _failed_charges(world, intent)
        paid.append(Paid(user, charge, failed, [charge, intent, invoice], await world.take()))
    await _delivered_shuffled_twice(world, paid)

    for payment in paid:
        detail = await _booked_once(ledger, world, payment, group=group, amount=1900)
        assert detail["invoice_id"] == payment.names[2]
        assert detail["hosted_invoice_url"] and detail["period_start"] and detail["period_end"]
    await _nothing_kept(js, settings, paid)
    for payment in paid:
        history = await ledger.get(f"/users/{payment.user}/payments", headers=auth())
        [invoice] = history.json()["invoices"]
        assert (invoice["invoice_id"], invoice["status"]) == (payment.names[2], "paid")


async def test_another_apps_intents_cost_the_ledger_no_stripe_request_and_keep_nothing(
    members: StripeWorld, ledger: httpx.AsyncClient, settings: Settings, js: JetStreamContext
) -> None:
    before = await stripe_usage(members, settings)
    names = []
    for metadata in ({}, {"order_id": unique("order")}):
        intent = await members.client.v1.payment_intents.create_async(
            {
                "amount": 1500,
                "currency": "usd",
                "metadata": metadata,
                "automatic_payment_methods": {"enabled": True, "allow_redirects": "never"},
            }
        )
        assert await members.confirm(intent.id, "pm_card_chargeDeclined") != "succeeded"
        assert await members.confirm(intent.id) == "succeeded"
        names += [intent.id, await members.charge_of_intent(intent.id)]
    assert await members.forward()
    await wait_until(lambda: consumer_idle(js, STRIPE.name, "ledger"), message="all applied")

    for charge in names[1::2]:
        missing = await ledger.get(f"/payments/{charge}", headers=auth())
        assert missing.status_code == 404, missing.text
    # Only the charges wait, as any subscription charge does until its invoice tells.
    assert await parts_left(settings, names) == 2
    after = await stripe_usage(members, settings)
    called = {k: n - before.get(k, 0) for k, n in after.items() if n != before.get(k, 0)}
    assert set(called) <= {PAGES}, called
