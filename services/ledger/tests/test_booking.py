"""Booking a payment in one statement: each transaction once, its entries with it, the payment
once; whether the first transaction is new decides the announcement. A fetch's payments and
parts read ahead are answered once, what was written since read back."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import ColumnElement, Table, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ledger.adapters import orm
from ledger.domain.attribution import Attribution
from ledger.domain.payments import Payment
from ledger.service_layer.unit_of_work import LedgerUnitOfWork as Unit
from tollgate_shared.testing import sessions_on, unique


def _payment(group_id: str, *, amount: int, fee: int, user_id: str | None = None) -> Payment:
    """A payment of a fresh charge, in NZD."""
    return Payment(
        charge_id=unique("ch"),
        attribution=Attribution(group_id=group_id, user_id=user_id),
        amount=amount,
        fee=fee,
        currency="nzd",
        created_at=datetime(2026, 11, 1, tzinfo=UTC),
    )


async def _count(session: AsyncSession, table: Table, where: ColumnElement[bool]) -> int:
    return int(await session.scalar(select(func.count()).select_from(table).where(where)) or 0)


async def test_a_payment_is_booked_once_with_its_entries(ledger_url: str) -> None:
    async with sessions_on(ledger_url) as sessions:
        group = unique("grp")
        payment = _payment(group, amount=1500, fee=74, user_id=unique("u"))
        payment_txn, fee_txn = payment.transactions()
        t, e = orm.transactions, orm.entries

        written = []
        for _ in range(2):  # a redelivery books nothing more
            async with Unit(sessions) as uow:
                booked = uow.books.post(payment_txn, fee_txn, causation_id="evt_1", payment=payment)
                written.append(await booked)
                await uow.commit()
        assert written == [True, False]

        async with Unit(sessions) as uow:
            session = uow.session
            assert await uow.books.get_payment(payment.charge_id) == payment
            assert await _count(session, t, t.c.charge_id == payment.charge_id) == 2
            entries = (
                await session.execute(
                    select(t.c.kind, e.c.account, e.c.amount, e.c.group_id)
                    .join(e, e.c.transaction_id == t.c.id)
                    .where(t.c.charge_id == payment.charge_id)
                )
            ).all()
            postings = [*payment_txn.postings, *fee_txn.postings]
            assert sorted((a, n) for _, a, n, _ in entries) == sorted(
                (p.account.value, p.amount) for p in postings
            )
            assert {g for *_, g in entries} == {group}
            assert sum(n for _, _, n, _ in entries) == 0


async def test_a_posting_is_new_only_if_its_first_transaction_is(ledger_url: str) -> None:
    """Only a transaction new now gets entries; the posting counts as new (and announces)
    only if its first transaction is."""
    async with sessions_on(ledger_url) as sessions:
        group = unique("grp")
        payment = _payment(group, amount=2000, fee=88)
        payment_txn, fee_txn = payment.transactions()
        t, e = orm.transactions, orm.entries
        async with Unit(sessions) as uow:
            assert await uow.books.post(fee_txn, causation_id="evt_1")
            await uow.commit()
        async with Unit(sessions) as uow:
            assert not await uow.books.post(fee_txn, payment_txn, causation_id="evt_2")
            await uow.commit()
        async with Unit(sessions) as uow:
            session = uow.session
            booked = select(t.c.id).where(t.c.charge_id == payment.charge_id)
            assert await _count(session, t, t.c.charge_id == payment.charge_id) == 2
            assert await _count(session, e, e.c.transaction_id.in_(booked)) == 4


async def test_payments_read_ahead_are_answered_once_then_from_the_database(
    ledger_url: str,
) -> None:
    async with sessions_on(ledger_url) as sessions:
        payment = _payment(unique("grp"), amount=500, fee=0)
        unbooked = unique("ch")
        async with Unit(sessions) as uow:
            await uow.books.read_ahead([payment.charge_id, unbooked])
            # Booked behind `get_payment`'s back: the first read answers from what was read
            # ahead, the next from the database.
            await uow.books.post(*payment.transactions(), causation_id="evt", payment=payment)
            assert await uow.books.get_payment(payment.charge_id) is None
            assert await uow.books.get_payment(payment.charge_id) == payment
            assert await uow.books.get_payment(unbooked) is None


async def test_parts_read_ahead_are_answered_once_and_what_is_put_or_dropped_is_read_back(
    ledger_url: str,
) -> None:
    async with sessions_on(ledger_url) as sessions:
        kept, dropped, put = unique("pi"), unique("pi"), unique("pi")
        async with Unit(sessions) as uow:
            for key in (kept, dropped):
                await uow.parts.put("charge", key, {"id": key}, partner=key)
            await uow.parts.read_ahead(["charge", "checkout"], [kept, dropped, put])
            await uow.parts.drop([("charge", dropped)])
            await uow.parts.put("checkout", put, {"email": "a@example.com"})
            first = await uow.parts.get("charge", kept)
            assert first is not None and (first.partner, first.facts) == (kept, {"id": kept})
            assert await uow.parts.get("charge", kept) == first  # from the database
            assert await uow.parts.get("charge", dropped) is None
            again = await uow.parts.get("checkout", put)
            assert again is not None and again.facts == {"email": "a@example.com"}
            assert await uow.parts.get("checkout", kept) is None
