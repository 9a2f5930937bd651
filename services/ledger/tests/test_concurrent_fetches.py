"""Two fetches applied side by side over the same payments, in opposite orders: neither
deadlocks (so neither is applied again one message at a time), and every effect happens once.

The first fetch is parked, holding its first payment, on a row the test keeps locked, until
the second fetch is waiting too: had the handlers taken their locks as they went, the second
would now hold the invoice the first needs next, and the first the invoice the second waits
for — a deadlock every time. With the locks taken up front in one order, the second waits for
the first to commit. Likewise a purchase's intent and its charge, each of which keeps a part
of the payment.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from nats.js import JetStreamContext
from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ledger.adapters import orm
from ledger.config import Settings
from ledger.entrypoints.consumers import HANDLERS, STRIPE_CONSUMER
from ledger.service_layer import Deps, fetches
from tollgate_shared.contracts.stripe import StripeEvent
from tollgate_shared.infra.service import Service
from tollgate_shared.testing import (
    StripeWorld,
    as_fetches,
    crossing_fetches,
    publish_stripe_event,
    sessions_on,
    unique,
    wait_until,
)

PAID = ("invoice.paid", "invoice.payment_succeeded")
PARTS = ("charge.succeeded", "invoice_payment.paid")


async def _subscription_paid(
    world: StripeWorld, price: str, group: str, service: Service[Settings, Deps]
) -> dict[str, Any]:
    """A member's first subscription payment at the emulator: its invoice's paid events, the
    parts its charge and invoice payment told already applied."""
    await world.checkout(price, group_id=group, user_id=unique("u"), subscription=True)
    events = {e["type"]: e for e in await world.take()}
    for event_type in PARTS:
        async with service.deps.uow() as uow:
            event = StripeEvent.model_validate(events[event_type])
            await HANDLERS[event_type](service.deps, uow, event)
            await uow.commit()
    return {t: events[t] for t in PAID}


async def _count(sessions: async_sessionmaker[AsyncSession], statement: Any) -> dict[str, int]:
    async with sessions() as session:
        return {str(key): int(n) for key, n in (await session.execute(statement)).all()}


async def test_fetches_over_the_same_payments_in_opposite_orders_do_not_deadlock(
    world: StripeWorld, service: Service[Settings, Deps], own_database: str, js: JetStreamContext
) -> None:
    [consumer] = [c for c in service.runtime.consumers if c.spec == STRIPE_CONSUMER]
    group = unique("grp")
    price = await world.price(1500, monthly=True)
    a, b, c = [await _subscription_paid(world, price, group, service) for _ in range(3)]
    fetches = (
        [a["invoice.paid"], c["invoice.paid"], b["invoice.paid"]],
        [b["invoice.payment_succeeded"], a["invoice.payment_succeeded"]],
    )
    first, second = await as_fetches(
        js, consumer.spec, lambda event: publish_stripe_event(js, event), *fetches
    )
    assert [[i.message_id for _, i in f] for f in (first, second)] == [
        [e["id"] for e in events] for events in fetches
    ]

    # c's invoice row held by the test: the first fetch, having booked a's payment, waits
    # there before it reaches b's invoice, which the second fetch takes first.
    hold = insert(orm.invoices).values(
        invoice_id=c["invoice.paid"]["data"]["object"]["id"],
        amount_due=0,
        amount_paid=0,
        created_at=datetime.now(UTC),
        status_at=0,
        status_rank=0,
    )
    async with sessions_on(own_database) as sessions:
        batches = await crossing_fetches(consumer, sessions, first, second, hold=hold)

        assert [[fresh for _, fresh in batch.done] for batch in batches] == [[True] * 3, [True] * 2]
        assert [batch.failed for batch in batches] == [[], []]
        p, t, o, i = orm.payments, orm.transactions, orm.outbox, orm.invoices
        payments = select(p.c.group_id, func.count()).group_by(p.c.group_id)
        assert await _count(sessions, payments) == {group: 3}
        kinds = select(t.c.kind, func.count()).where(t.c.group_id == group).group_by(t.c.kind)
        assert await _count(sessions, kinds) == {"payment": 3}  # fees: the fee task's
        announced = select(o.c.subject, func.count()).group_by(o.c.subject)
        assert await _count(sessions, announced) == {"ledger.payment_recorded": 3}
        statuses = select(i.c.status, func.count()).group_by(i.c.status)
        assert await _count(sessions, statuses) == {"paid": 3}


async def _waiting_on_a_lock(sessions: async_sessionmaker[AsyncSession]) -> bool:
    """Whether a transaction on this database waits for an advisory lock another holds."""
    waiting = text(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    )
    async with sessions() as session:
        return bool((await session.execute(waiting)).scalar_one())


async def test_a_purchases_intent_and_charge_in_fetches_side_by_side_meet(
    world: StripeWorld, service: Service[Settings, Deps], own_database: str
) -> None:
    """`payment_intent.succeeded` and a `charge.succeeded` without metadata (as if Stripe had
    not copied it) each keep a part of one payment: in two transactions side by side, the later
    waits on the intent the first locked up front and so sees its part: booked once."""
    intent = await world.purchase_intent(1200, group_id=unique("grp"), user_id=unique("u"))
    await world.confirm(intent)
    events = {e["type"]: e for e in await world.take()}
    charge = events["charge.succeeded"]
    charge["data"]["object"]["metadata"] = {}

    holding, release = asyncio.Event(), asyncio.Event()

    async def applied(event: dict[str, Any], *, park: bool = False) -> None:
        async with service.deps.uow() as uow:
            parsed = StripeEvent.model_validate(event)
            await fetches.prepare(uow, [parsed])
            await HANDLERS[parsed.type](service.deps, uow, parsed)
            if park:
                holding.set()
                await release.wait()
            await uow.commit()

    first = asyncio.create_task(applied(events["payment_intent.succeeded"], park=True))
    await holding.wait()
    async with sessions_on(own_database) as sessions:
        second = asyncio.create_task(applied(charge))
        await wait_until(lambda: _waiting_on_a_lock(sessions), message="the charge waits")
        release.set()
        await asyncio.gather(first, second)

        p, parts = orm.payments, orm.payment_parts
        booked = select(p.c.charge_id, func.count()).group_by(p.c.charge_id)
        assert await _count(sessions, booked) == {charge["data"]["object"]["id"]: 1}
        left = select(parts.c.kind, func.count()).group_by(parts.c.kind)
        assert await _count(sessions, left) == {}
