"""The ledger books a mix of Stripe money movements exactly once, balanced, and its group
summary equals what the Stripe objects themselves add up to."""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Any

import httpx
from sqlalchemy import text

from ledger.adapters import orm
from ledger.config import Settings
from tollgate_shared.persistence.db import make_engine
from tollgate_shared.testing import StripeWorld, publish_stripe_event, unique, wait_until

from .conftest import auth


async def expected_totals(
    world: StripeWorld, charges: list[str], transfers: list[str]
) -> dict[str, dict[str, int]]:
    """The group's totals computed independently, from Stripe's own objects."""
    v1 = world.client.v1
    totals: dict[str, dict[str, int]] = defaultdict(
        lambda: dict.fromkeys(("gross", "refunds", "disputes", "fees", "net", "paid_out"), 0)
    )
    for charge_id in charges:
        charge = await v1.charges.retrieve_async(charge_id, {"expand": ["balance_transaction"]})
        t = totals[charge.currency]
        t["gross"] += charge.amount
        t["fees"] += charge.balance_transaction.fee
        for refund in (await v1.refunds.list_async({"charge": charge_id})).data:
            t["refunds"] += refund.amount
        for dispute in (await v1.disputes.list_async({"charge": charge_id})).data:
            for bt in dispute.balance_transactions:
                t["disputes"] -= bt["amount"]
                t["fees"] += bt["fee"]
    for transfer_id in transfers:
        transfer = await v1.transfers.retrieve_async(transfer_id)
        totals[transfer.currency]["paid_out"] += transfer.amount
    for t in totals.values():
        t["net"] = t["gross"] - t["refunds"] - t["disputes"] - t["fees"]
    return totals


async def summary(ledger: httpx.AsyncClient, group_id: str) -> dict[str, dict[str, int]]:
    answer = await ledger.get(f"/groups/{group_id}/summary", headers=auth())
    assert answer.status_code == 200, answer.text
    return {t.pop("currency"): t for t in answer.json()["totals"]}


async def snapshot(settings: Settings, group_id: str) -> list[tuple[Any, ...]]:
    """The group's ledger as data: every transaction by key with its entries."""
    engine = make_engine(settings.sqlalchemy_url, pool_size=1)
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT t.key, t.kind, t.currency, t.amount, t.source_id, t.charge_id,"
                " t.balance_transaction_id, t.user_id, t.tier_id, t.occurred_at,"
                " e.account, e.amount FROM ledger_transactions t"
                " JOIN ledger_entries e ON e.transaction_id = t.id"
                " WHERE t.group_id = :g ORDER BY t.key, e.account"
            ),
            {"g": group_id},
        )
        found = [tuple(r) for r in rows]
    await engine.dispose()
    return found


async def unbalanced(settings: Settings) -> list[Any]:
    engine = make_engine(settings.sqlalchemy_url, pool_size=1)
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                f"SELECT transaction_id, currency, sum(amount) FROM {orm.entries.name}"
                " GROUP BY transaction_id, currency HAVING sum(amount) <> 0"
            )
        )
        found = list(rows)
    await engine.dispose()
    return found


async def test_a_mix_of_movements_balances_and_matches_stripe(
    world: StripeWorld, ledger: httpx.AsyncClient, settings: Settings
) -> None:
    group = unique("grp")
    one_off = await world.price(5000)
    monthly = await world.price(1500, monthly=True)
    euro = await world.price(2000, "eur")

    paid = [await world.checkout(one_off, group_id=group, user_id=unique("u")) for _ in range(3)]
    charges = [await world.charge_of_intent(s["payment_intent"]) for s in paid]
    member = await world.checkout(monthly, group_id=group, user_id=unique("u"), subscription=True)
    await world.control(f"subscriptions/{member['subscription']}/advance")
    charges += await world.charges_of_subscription(member["subscription"])
    euro_paid = await world.checkout(euro, group_id=group, user_id=unique("u"))
    charges.append(await world.charge_of_intent(euro_paid["payment_intent"]))

    # A partial refund through the ledger's admin API, a full one directly at Stripe.
    partial = await ledger.post(
        f"/payments/{charges[0]}/refunds",
        json={"amount": 1200, "reason": "requested_by_customer"},
        headers=auth(),
    )
    assert partial.status_code in (202, 404), partial.text  # 404 until the payment is booked
    await world.forward()
    await wait_until(lambda: _booked(ledger, charges), message="payments booked", timeout=30)
    if partial.status_code == 404:
        partial = await ledger.post(
            f"/payments/{charges[0]}/refunds",
            json={"amount": 1200, "reason": "requested_by_customer"},
            headers=auth(),
        )
    assert partial.status_code == 202, partial.text
    await world.client.v1.refunds.create_async({"charge": charges[1]})
    lost = await world.control(f"charges/{charges[2]}/dispute", {"reason": "fraudulent"})
    await world.control(f"disputes/{lost['id']}/close", {"outcome": "lost"})
    won = await world.control(f"charges/{charges[3]}/dispute", {"reason": "fraudulent"})
    await world.control(f"disputes/{won['id']}/close", {"outcome": "won"})
    await world.forward()

    # A payout: the admin sets the connected account, the organizer asks, the admin approves.
    organizer = auth(sub=unique("org"), roles=("organizer",), groups=(group,))
    schedule = await ledger.put(
        f"/groups/{group}/payout-schedule",
        json={"interval": "manual", "currency": "usd", "destination_account": "acct_test"},
        headers=auth(),
    )
    assert schedule.status_code == 200, schedule.text
    expected = await expected_totals(world, charges, [])
    await wait_until(
        lambda: _summary_is(ledger, group, expected), message="summary settles", timeout=30
    )
    requested = await ledger.post(
        f"/groups/{group}/payouts", json={"amount": 3000, "currency": "usd"}, headers=organizer
    )
    assert requested.status_code == 201, requested.text
    approved = await ledger.post(
        f"/payouts/{requested.json()['payout_id']}/approve", headers=auth()
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "paid"
    await world.forward()

    expected = await expected_totals(world, charges, [approved.json()["transfer_id"]])
    await wait_until(
        lambda: _summary_is(ledger, group, expected), message="summary with payout", timeout=30
    )
    assert await unbalanced(settings) == []
    usd = expected["usd"]
    balance = await ledger.get(f"/groups/{group}/balance?currency=usd", headers=organizer)
    assert balance.json()["payable"] == usd["net"] - usd["paid_out"]

    # Redeliver every event of the scenario three times, shuffled, as new messages.
    before = await snapshot(settings, group)
    events = [e for e in await world.all() if e["id"] in world.taken]
    replay = [(e, f"{e['id']}:again:{n}") for e in events for n in range(3)]
    random.Random(7).shuffle(replay)
    for event, msg_id in replay:
        await publish_stripe_event(world.js, event, msg_id=msg_id)
    marker = await world.checkout(one_off, group_id=unique("grp"), user_id=unique("u"))
    await world.forward()
    await wait_until(
        lambda: _booked(ledger, [marker["payment_intent"]], by="q"),
        message="replay consumed",
        timeout=60,
    )
    assert await snapshot(settings, group) == before
    assert await summary(ledger, group) == {c: dict(t) for c, t in expected.items()}


async def _booked(ledger: httpx.AsyncClient, ids: list[str], by: str = "charge") -> bool:
    for found_id in ids:
        path = f"/payments/{found_id}" if by == "charge" else f"/payments?q={found_id}"
        answer = await ledger.get(path, headers=auth())
        if answer.status_code != 200 or (by == "q" and not answer.json()["data"]):
            return False
    return True


async def _summary_is(
    ledger: httpx.AsyncClient, group: str, expected: dict[str, dict[str, int]]
) -> bool:
    return await summary(ledger, group) == {c: dict(t) for c, t in expected.items()}
