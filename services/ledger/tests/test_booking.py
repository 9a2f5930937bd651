"""Booking a payment in one statement: each transaction once, its entries with it, the payment
once, and the announcement only with the first transaction."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import ColumnElement, Table, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ledger.adapters import orm
from ledger.adapters import repository as repo
from ledger.domain.attribution import Attribution
from ledger.domain.payments import Payment
from tollgate_shared.db import transaction
from tollgate_shared.events.ledger import PaymentRecorded
from tollgate_shared.messaging import outbox
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


async def test_a_payment_is_booked_once_with_its_entries_and_one_announcement(
    ledger_url: str,
) -> None:
    async with sessions_on(ledger_url) as sessions:
        group = unique("grp")
        payment = _payment(group, amount=1500, fee=74, user_id=unique("u"))
        payment_txn, fee_txn = payment.transactions()
        recorded = PaymentRecorded(group_id=group, amount=1500, currency="nzd")
        t, e, o = orm.transactions, orm.entries, orm.outbox

        written = []
        for _ in range(2):  # a redelivery books nothing more
            async with transaction(sessions) as session:
                written.append(
                    await repo.post(
                        session,
                        payment_txn,
                        fee_txn,
                        causation_id="evt_1",
                        payment=payment,
                        announce=recorded,
                    )
                )
                queued = outbox.queued(session)
            assert queued == written[-1]
        assert written == [True, False]

        async with transaction(sessions) as session:
            assert await repo.get_payment(session, payment.charge_id) == payment
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
            assert await _count(session, o, o.c.message_id == recorded.id) == 1


async def test_the_announcement_waits_for_its_first_transaction(ledger_url: str) -> None:
    """Only a transaction new now gets entries; the event is queued only if the first is."""
    async with sessions_on(ledger_url) as sessions:
        group = unique("grp")
        payment = _payment(group, amount=2000, fee=88)
        payment_txn, fee_txn = payment.transactions()
        first = PaymentRecorded(group_id=group, amount=2000, currency="nzd")
        again = PaymentRecorded(group_id=group, amount=2000, currency="nzd")
        t, e, o = orm.transactions, orm.entries, orm.outbox
        async with transaction(sessions) as session:
            assert await repo.post(session, fee_txn, causation_id="evt_1", announce=first)
        async with transaction(sessions) as session:
            booked_now = await repo.post(
                session, fee_txn, payment_txn, causation_id="evt_2", announce=again
            )
            assert not booked_now and not outbox.queued(session)
        async with transaction(sessions) as session:
            assert await _count(session, o, o.c.message_id.in_([first.id, again.id])) == 1
            assert await _count(session, o, o.c.message_id == first.id) == 1
            booked = select(t.c.id).where(t.c.charge_id == payment.charge_id)
            assert await _count(session, t, t.c.charge_id == payment.charge_id) == 2
            assert await _count(session, e, e.c.transaction_id.in_(booked)) == 4


async def test_payments_read_ahead_are_answered_once_then_from_the_database(
    ledger_url: str,
) -> None:
    async with sessions_on(ledger_url) as sessions:
        payment = _payment(unique("grp"), amount=500, fee=0)
        unbooked = unique("ch")
        async with transaction(sessions) as session:
            await repo.read_ahead(session, [payment.charge_id, unbooked])
            # Booked behind `get_payment`'s back: the first read answers from what was read
            # ahead, the next from the database.
            await repo.post(session, *payment.transactions(), causation_id="evt", payment=payment)
            assert await repo.get_payment(session, payment.charge_id) is None
            assert await repo.get_payment(session, payment.charge_id) == payment
            assert await repo.get_payment(session, unbooked) is None
