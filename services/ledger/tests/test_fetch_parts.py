"""The parts of a payment a fetch puts are written once, before its commit: a payment whose
parts all come in one fetch is booked without keeping any of them, in whatever order they come;
parts left waiting are kept in one statement and met by a later fetch.

A trigger on the test's own database counts the statements that write `payment_parts`."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select

from ledger.adapters import orm
from ledger.config import Settings
from ledger.entrypoints.consumers import HANDLERS
from ledger.service_layer import Deps, fetches
from tollgate_shared.contracts.stripe import StripeEvent
from tollgate_shared.infra.service import Service
from tollgate_shared.testing import StripeWorld, count_writes, sessions_on, unique, writes

PARTS = ("invoice.paid", "invoice_payment.paid", "charge.succeeded")
"""The events that together tell a subscription payment (since `basil`)."""


async def _paid(world: StripeWorld, price: str, group: str) -> dict[str, dict[str, Any]]:
    """A member's first subscription payment at the emulator, its events taken (not sent)."""
    await world.checkout(price, group_id=group, user_id=unique("u"), subscription=True)
    return {e["type"]: e for e in await world.take()}


async def _fetch(service: Service[Settings, Deps], events: Sequence[dict[str, Any]]) -> None:
    """Apply `events` as the ledger applies a fetch: one transaction, the prefetch, then each
    handler in order."""
    parsed = [StripeEvent.model_validate(event) for event in events]
    async with service.deps.uow() as uow:
        await fetches.prepare(uow, parsed)
        for event in parsed:
            await HANDLERS[event.type](service.deps, uow, event)
        await uow.commit()


async def test_a_payment_whose_parts_come_in_one_fetch_keeps_none_of_them(
    world: StripeWorld, service: Service[Settings, Deps], own_database: str
) -> None:
    group = unique("grp")
    price = await world.price(1500, monthly=True)
    orders = list(itertools.permutations(PARTS))
    paid = [await _paid(world, price, group) for _ in orders]
    async with sessions_on(own_database) as sessions:
        await count_writes(sessions, "payment_parts")

        for order, events in zip(orders, paid, strict=True):
            await _fetch(service, [events[t] for t in order])

        async with sessions() as session:
            payments = select(orm.payments.c.group_id, func.count()).group_by("group_id")
            assert dict((await session.execute(payments)).all()) == {group: len(orders)}
            left = select(func.count()).select_from(orm.payment_parts)
            assert await session.scalar(left) == 0
        assert await writes(sessions, "payment_parts") == {}


async def test_parts_left_waiting_are_kept_in_one_statement_and_met_later(
    world: StripeWorld, service: Service[Settings, Deps], own_database: str
) -> None:
    group = unique("grp")
    price = await world.price(1500, monthly=True)
    first, second = await _paid(world, price, group), await _paid(world, price, group)
    async with sessions_on(own_database) as sessions:
        await count_writes(sessions, "payment_parts")

        # Both payments' invoices and invoice payments, then (in another fetch) their charges.
        await _fetch(service, [e[t] for e in (first, second) for t in PARTS[:2]])
        async with sessions() as session:
            kept = select(orm.payment_parts.c.kind, func.count()).group_by("kind")
            assert dict((await session.execute(kept)).all()) == {"invoice": 2, "invoice_payment": 2}
        assert await writes(sessions, "payment_parts") == {"INSERT": 1}

        await _fetch(service, [first["charge.succeeded"], second["charge.succeeded"]])
        async with sessions() as session:
            payments = select(orm.payments.c.group_id, func.count()).group_by("group_id")
            assert dict((await session.execute(payments)).all()) == {group: 2}
            assert await session.scalar(select(func.count()).select_from(orm.payment_parts)) == 0
        assert await writes(sessions, "payment_parts") == {"INSERT": 1, "DELETE": 1}
