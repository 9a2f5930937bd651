"""Booking a payment in one statement: each transaction once, its entries with it, the payment
once; whether the first transaction is new decides the announcement, and payments known new
are booked together. A fetch's payments and parts read ahead, and what it writes, are answered
from memory until a savepoint rolls back."""

from __future__ import annotations

import contextlib
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sqlalchemy import ColumnElement, Table, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ledger.adapters import orm
from ledger.adapters.bookings import BookedMeanwhile
from ledger.domain.accounts import Account
from ledger.domain.attribution import Attribution
from ledger.domain.payments import Payment
from ledger.service_layer.unit_of_work import LedgerUnitOfWork as Unit
from tollgate_shared.testing import count_writes, sessions_on, unique, writes


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


async def test_payments_read_ahead_answer_every_lookup_and_what_is_booked_is_read_back(
    ledger_url: str,
) -> None:
    async with sessions_on(ledger_url) as sessions:
        group = unique("grp")
        booked = _payment(group, amount=700, fee=0)
        booked = replace(booked, payment_intent_id=unique("pi"), invoice_id=unique("in"))
        payment = replace(_payment(group, amount=500, fee=0), payment_intent_id=unique("pi"))
        unbooked = unique("ch")
        async with Unit(sessions) as uow:
            await uow.books.post(*booked.transactions(), causation_id="evt", payment=booked)
            await uow.commit()
        names = [booked.charge_id, booked.invoice_id, payment.charge_id, unbooked]
        async with Unit(sessions) as uow:
            await uow.books.read_ahead([*names, payment.payment_intent_id])
            # Booked by another transaction after the read: not seen (its locks keep that
            # from happening in a fetch).
            async with Unit(sessions) as other:
                await other.books.post(*payment.transactions(), causation_id="e", payment=payment)
                await other.commit()
            assert await uow.books.get_payment(booked.charge_id) == booked
            assert await uow.books.payment_by_key(booked.payment_intent_id) == booked
            assert await uow.books.payment_by_invoice(booked.invoice_id) == booked
            assert await uow.books.get_payment(payment.charge_id) is None
            assert await uow.books.get_payment(unbooked) is None
        async with Unit(sessions) as uow:
            await uow.books.read_ahead([payment.charge_id, payment.payment_intent_id, unbooked])
            assert await uow.books.payment_by_key(payment.payment_intent_id) == payment
            invoice = unique("in")
            await uow.books.link_invoice(
                payment.charge_id, invoice_id=invoice, hosted_url=None, pdf=None
            )
            linked = await uow.books.payment_by_invoice(invoice)  # its own write, read back
            assert linked is not None and linked.charge_id == payment.charge_id
            assert (await uow.books.payment_by_key(payment.payment_intent_id)) == linked


async def test_parts_read_ahead_and_what_is_put_or_dropped_are_answered_from_memory(
    ledger_url: str,
) -> None:
    async with sessions_on(ledger_url) as sessions:
        kept, dropped, put = unique("pi"), unique("pi"), unique("pi")
        async with Unit(sessions) as uow:
            for key in (kept, dropped):
                await uow.parts.put("charge", key, {"id": key}, partner=key)
            await uow.commit()
        async with Unit(sessions) as uow:
            await uow.parts.read_ahead(["charge", "checkout"], [kept, dropped, put])
            await uow.parts.drop([("charge", dropped)])
            await uow.parts.put("checkout", put, {"email": "a@example.com"})
            first = await uow.parts.get("charge", kept)
            assert first is not None and (first.partner, first.facts) == (kept, {"id": kept})
            assert await uow.parts.get("charge", dropped) is None
            again = await uow.parts.get("checkout", put)
            assert again is not None and again.facts == {"email": "a@example.com"}
            assert await uow.parts.get("checkout", kept) is None
            await uow.commit()
        async with Unit(sessions) as uow:  # what the memory said is what was committed
            assert await uow.parts.get("charge", kept) == first
            assert await uow.parts.get("charge", dropped) is None
            assert await uow.parts.get("checkout", put) == again


async def test_what_a_rolled_back_savepoint_wrote_is_read_again(ledger_url: str) -> None:
    async with sessions_on(ledger_url) as sessions:
        key = unique("pi")
        async with Unit(sessions) as uow:
            await uow.parts.read_ahead(["charge"], [key])
            with contextlib.suppress(RuntimeError):
                async with uow.savepoint():
                    await uow.parts.put("charge", key, {"id": key})
                    assert await uow.parts.get("charge", key) is not None
                    raise RuntimeError("rolled back")
            assert await uow.parts.get("charge", key) is None


async def test_parts_read_by_partner_follow_what_the_transaction_puts_and_drops(
    ledger_url: str,
) -> None:
    async with sessions_on(ledger_url) as sessions:
        charge, other = unique("ch"), unique("ch")
        first, second = unique("evt"), unique("evt")
        async with Unit(sessions) as uow:
            await uow.parts.put("early", first, {"n": 1}, partner=charge)
            await uow.commit()
        async with Unit(sessions) as uow:
            await uow.parts.read_partnered(["early"], [charge, other])
            assert [p.key for p in await uow.parts.partnered("early", charge)] == [first]
            assert await uow.parts.partnered("early", other) == []
            await uow.parts.put("early", second, {"n": 2}, partner=charge)
            assert {p.key for p in await uow.parts.partnered("early", charge)} == {first, second}
            await uow.parts.put("early", first, {"n": 1}, partner=other)  # told again, moved
            assert [p.key for p in await uow.parts.partnered("early", charge)] == [second]
            assert [p.key for p in await uow.parts.partnered("early", other)] == [first]
            await uow.parts.drop([("early", second)])
            assert await uow.parts.partnered("early", charge) == []


async def test_dropping_parts_known_absent_writes_nothing(own_database: str) -> None:
    async with sessions_on(own_database) as sessions:
        await count_writes(sessions, "payment_parts")
        kept, absent = unique("pi"), unique("pi")
        async with Unit(sessions) as uow:
            await uow.parts.put("charge", kept, {"id": kept})
            await uow.commit()
        async with Unit(sessions) as uow:
            await uow.parts.read_ahead(["charge"], [kept, absent])
            await uow.parts.drop([("charge", absent)])
            await uow.commit()
        assert await writes(sessions, "payment_parts") == {"INSERT": 1}
        async with Unit(sessions) as uow:
            await uow.parts.read_ahead(["charge"], [kept, absent])
            await uow.parts.drop([("charge", kept), ("charge", absent)])
            await uow.commit()
        assert await writes(sessions, "payment_parts") == {"INSERT": 1, "DELETE": 1}
        async with Unit(sessions) as uow:
            assert await uow.parts.get("charge", kept) is None


async def test_invoice_news_is_written_once_per_transaction_newest_first(own_database: str) -> None:
    invoice = unique("in")
    common = {"invoice_id": invoice, "amount_due": 1500, "created_at": datetime.now(UTC)}
    row = select(orm.invoices.c.status, orm.invoices.c.amount_paid).where(
        orm.invoices.c.invoice_id == invoice
    )
    async with sessions_on(own_database) as sessions:
        async with Unit(sessions) as uow:  # paid, then older news of it: paid stays
            uow.books.note_invoice({**common, "status": "paid", "amount_paid": 1500}, status_at=10)
            uow.books.note_invoice({**common, "status": "open", "amount_paid": 0}, status_at=9)
            await uow.commit()
        async with Unit(sessions) as uow:  # older than what the database holds: unchanged
            uow.books.note_invoice({**common, "status": "open", "amount_paid": 0}, status_at=9)
            await uow.commit()
        async with sessions() as session:
            assert (await session.execute(row)).one() == ("paid", 1500)
        async with Unit(sessions) as uow:  # newer: replaces it
            uow.books.note_invoice({**common, "status": "void", "amount_paid": 0}, status_at=11)
            await uow.commit()
        async with sessions() as session:
            assert (await session.execute(row)).one() == ("void", 0)


async def test_payments_known_new_are_booked_together_before_the_books_are_read(
    own_database: str,
) -> None:
    """A fetch's payments are written in one statement, before the commit or before a
    statement reads the books: what was posted is there to read, once each."""
    async with sessions_on(own_database) as sessions:
        await count_writes(sessions, "payments")
        group = unique("grp")
        first, second, third = (_payment(group, amount=n, fee=0) for n in (1000, 2000, 3000))
        charges = [p.charge_id for p in (first, second, third)]
        async with Unit(sessions) as uow:
            await uow.books.read_ahead(charges)
            for payment in (first, second):
                assert await uow.books.post(
                    *payment.transactions(), causation_id="evt", payment=payment
                )
            assert await uow.books.get_payment(first.charge_id) == first  # from memory
            assert await writes(sessions, "payments") == {}
            held = await uow.books.account_balance(group, "nzd", Account.PAYABLE_TO_ORGANIZER)
            assert held == 3000  # both written before the balance was read
            assert await uow.books.post(*third.transactions(), causation_id="evt", payment=third)
            await uow.commit()
        assert await writes(sessions, "payments") == {"INSERT": 2}
        async with Unit(sessions) as uow:
            for payment in (first, second, third):
                assert await uow.books.get_payment(payment.charge_id) == payment
            held = await uow.books.account_balance(group, "nzd", Account.PAYABLE_TO_ORGANIZER)
            assert held == 6000


async def test_a_queued_payment_booked_meanwhile_rolls_its_transaction_back(
    ledger_url: str,
) -> None:
    """A payment queued as not booked that another transaction booked after all (its locks
    keep that from happening in a fetch) fails the commit, writing nothing: the fetch is
    applied again and sees it booked."""
    async with sessions_on(ledger_url) as sessions:
        group = unique("grp")
        payment, other_payment = (_payment(group, amount=n, fee=0) for n in (800, 900))
        async with Unit(sessions) as uow:
            await uow.books.read_ahead([payment.charge_id, other_payment.charge_id])
            async with Unit(sessions) as other:
                await other.books.post(*payment.transactions(), causation_id="e", payment=payment)
                await other.commit()
            for each in (payment, other_payment):
                assert await uow.books.post(*each.transactions(), causation_id="evt", payment=each)
            with pytest.raises(BookedMeanwhile):
                await uow.commit()
        async with Unit(sessions) as uow:
            assert await uow.books.get_payment(payment.charge_id) == payment
            assert await uow.books.get_payment(other_payment.charge_id) is None
