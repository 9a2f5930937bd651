"""Two fetches applied side by side over the same payments, in opposite orders: neither
deadlocks (so neither is applied again one message at a time), and every effect happens once.

The first fetch is parked, holding its first payment, on a row the test keeps locked, until
the second fetch is waiting too: had the handlers taken their locks as they went, the second
would now hold the invoice the first needs next, and the first would hold the one it waits
for — a deadlock every time. With the locks taken up front in one order, the second waits for
the first to commit.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ledger import bootstrap
from ledger.adapters import orm
from ledger.config import Settings
from ledger.main import MIGRATIONS
from ledger.testing import StripeWorld
from tollgate_shared.messaging.consumer import IdempotentConsumer, Incoming
from tollgate_shared.messaging.streams import STRIPE
from tollgate_shared.testing import (
    durable_from_now,
    publish_stripe_event,
    sessions_on,
    unique,
    wait_until,
)

PAID = ("invoice.paid", "invoice.payment_succeeded")


@pytest.fixture
def own_database(migrated_database: Callable[[Path], str]) -> str:
    """A ledger database of this test's own: the session's running ledger never touches the
    rows it locks and counts."""
    return migrated_database(MIGRATIONS)


@pytest.fixture
async def consumer(settings: Settings, own_database: str) -> AsyncIterator[IdempotentConsumer]:
    """The ledger's STRIPE consumer, as its bootstrap builds it, on `own_database`."""
    runtime, _ = bootstrap.build(settings.model_copy(update={"service_database_url": own_database}))
    [found] = runtime.consumers
    yield found
    assert runtime.engine is not None
    await runtime.engine.dispose()


async def _subscription_paid(world: StripeWorld, price: str, group: str) -> dict[str, Any]:
    """A member's first subscription payment at the emulator: its invoice's paid events."""
    await world.checkout(price, group_id=group, user_id=unique("u"), subscription=True)
    return {e["type"]: e for e in await world.take() if e["type"] in PAID}


async def _fetch(
    nc: NatsClient, js: JetStreamContext, durable: str, events: list[dict[str, Any]]
) -> list[tuple[Msg, Incoming]]:
    """`events` published to STRIPE in this order and fetched back as one fetch."""
    for event in events:
        await publish_stripe_event(js, event)
    sub = await js.pull_subscribe_bind(durable, stream=STRIPE.name)
    msgs = await sub.fetch(len(events), timeout=10)
    await sub.unsubscribe()
    assert [m.headers["Nats-Msg-Id"] for m in msgs if m.headers] == [e["id"] for e in events]
    return [(msg, Incoming.from_msg(msg)) for msg in msgs]


async def _waiting_on_locks(sessions: async_sessionmaker[AsyncSession]) -> int:
    """Backends of the consumer's database (not this one) waiting for a lock."""
    async with sessions() as session:
        found = await session.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            )
        )
    return int(found or 0)


async def _deadlocks(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        found = await session.scalar(
            text("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
        )
    return int(found or 0)


async def _count(sessions: async_sessionmaker[AsyncSession], statement: Any) -> dict[str, int]:
    async with sessions() as session:
        return {str(key): int(n) for key, n in (await session.execute(statement)).all()}


async def test_fetches_over_the_same_payments_in_opposite_orders_do_not_deadlock(
    world: StripeWorld,
    consumer: IdempotentConsumer,
    own_database: str,
    nats_client: NatsClient,
    js: JetStreamContext,
) -> None:
    group = unique("grp")
    price = await world.price(1500, monthly=True)
    a, b, c = [await _subscription_paid(world, price, group) for _ in range(3)]
    durable = unique("ledger_fetches")
    await durable_from_now(js, dataclasses.replace(consumer.spec, durable=durable))
    try:
        first = await _fetch(
            nats_client, js, durable, [a["invoice.paid"], c["invoice.paid"], b["invoice.paid"]]
        )
        second = await _fetch(
            nats_client,
            js,
            durable,
            [b["invoice.payment_succeeded"], a["invoice.payment_succeeded"]],
        )
    finally:
        await js.delete_consumer(STRIPE.name, durable)

    async with sessions_on(own_database) as sessions:
        deadlocks = await _deadlocks(sessions)
        # The test holds c's invoice row (an uncommitted insert of its key), so the first
        # fetch, having booked a's payment, waits there before it reaches b's invoice.
        holder = sessions()
        try:
            await holder.execute(
                insert(orm.invoices).values(
                    invoice_id=c["invoice.paid"]["data"]["object"]["id"],
                    amount_due=0,
                    amount_paid=0,
                    created_at=datetime.now(UTC),
                    status_at=0,
                    status_rank=0,
                )
            )
            applying_first = asyncio.create_task(consumer.apply_batch(first))
            await wait_until(lambda: _locks_awaited(sessions, 1), message="first fetch waits")
            applying_second = asyncio.create_task(consumer.apply_batch(second))
            await wait_until(lambda: _locks_awaited(sessions, 2), message="second fetch waits")
        finally:
            await holder.rollback()
            await holder.close()
        batches = await asyncio.gather(applying_first, applying_second)

        assert [len(batch.failed) for batch in batches] == [0, 0]
        assert [[fresh for _, fresh in batch.done] for batch in batches] == [[True] * 3, [True] * 2]
        assert await _deadlocks(sessions) == deadlocks
        p, t, o, i = orm.payments, orm.transactions, orm.outbox, orm.invoices
        payments = await _count(sessions, select(p.c.group_id, func.count()).group_by(p.c.group_id))
        assert payments == {group: 3}
        kinds = select(t.c.kind, func.count()).where(t.c.group_id == group).group_by(t.c.kind)
        assert await _count(sessions, kinds) == {"payment": 3, "fee": 3}
        announced = select(o.c.subject, func.count()).group_by(o.c.subject)
        assert await _count(sessions, announced) == {"ledger.payment_recorded": 3}
        statuses = select(i.c.status, func.count()).group_by(i.c.status)
        assert await _count(sessions, statuses) == {"paid": 3}


async def _locks_awaited(sessions: async_sessionmaker[AsyncSession], n: int) -> bool:
    return await _waiting_on_locks(sessions) >= n
