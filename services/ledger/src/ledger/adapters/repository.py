"""Reads and writes of the ledger's tables (the hand-tuned ones in `statements.py`)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import (
    func,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ledger.adapters import orm
from ledger.adapters.bookings import QUEUED_PAYMENTS, Bookings, book
from ledger.adapters.invoice_news import INVOICE_NEWS
from ledger.adapters.statements import (
    FEES,
    PAYMENTS,
    no_newer_news,
)
from ledger.domain.accounts import Account, Kind
from ledger.domain.attribution import Attribution
from ledger.domain.payments import Payment
from ledger.domain.statuses import news
from ledger.domain.transactions import Transaction
from tollgate_shared.persistence.unit_of_work import Known, UnitOfWork

_LOOKUP_WHERE: dict[str, Callable[[Any, str], Any]] = {
    "charge": lambda c, name: c.charge_id == name,
    "key": lambda c, name: (c.payment_intent_id == name) | (c.charge_id == name),
    "invoice": lambda c, name: c.invoice_id == name,
}
"""How a payment is looked up: by its charge, by its payment intent or charge, by its invoice."""
LOOKUPS = tuple(_LOOKUP_WHERE)


def _payment_of(m: Mapping[str, Any]) -> Payment:
    return Payment(
        charge_id=m["charge_id"],
        attribution=Attribution(
            group_id=m["group_id"],
            user_id=m["user_id"],
            tier_id=m["tier_id"],
            purpose=m["purpose"],
            reference=m["reference"],
        ),
        amount=m["amount"],
        fee=m["fee"],
        currency=m["currency"],
        created_at=m["created_at"],
        payment_intent_id=m["payment_intent_id"],
        invoice_id=m["invoice_id"],
        customer_id=m["customer_id"],
        email=m["email"],
        description=m["description"],
        receipt_url=m["receipt_url"],
        hosted_invoice_url=m["hosted_invoice_url"],
        invoice_pdf=m["invoice_pdf"],
        period_start=m["period_start"],
        period_end=m["period_end"],
    )


class AbstractBooks(Protocol):
    """What the service layer asks of the books: `Books` keeps them in Postgres; the unit tests
    drive the handlers with an in-memory fake of this interface."""

    async def post(
        self,
        *transactions: Transaction,
        causation_id: str | None,
        payment: Payment | None = None,
        causations: Mapping[str, str] | None = None,
    ) -> bool: ...
    async def is_booked(self, key: str) -> bool: ...
    async def lock_group(self, group_id: str) -> None: ...
    async def claim(self, name: str) -> bool: ...
    async def account_balance(self, group_id: str, currency: str, account: Account) -> int: ...
    async def charge_account_total(self, charge_id: str, account: Account) -> int: ...
    async def booked_amount(self, *, source_id: str, kind: Kind) -> int: ...
    async def read_ahead(self, names: Collection[str]) -> None: ...
    async def get_payment(self, charge_id: str) -> Payment | None: ...
    async def link_invoice(
        self, charge_id: str, *, invoice_id: str, hosted_url: str | None, pdf: str | None
    ) -> None: ...
    async def upsert_status(
        self, table: Any, key_column: str, values: dict[str, Any], *, status_at: int
    ) -> bool: ...
    def note_invoice(self, values: dict[str, Any], *, status_at: int) -> None: ...
    async def add_timeline(
        self,
        *,
        event_id: str,
        object_id: str,
        charge_id: str | None,
        event_type: str,
        status: str | None,
        amount: int | None,
        occurred_at: datetime,
    ) -> None: ...
    async def refund_status(self, refund_id: str) -> str | None: ...
    async def payment_by_key(self, key: str) -> Payment | None: ...
    async def payment_by_invoice(self, invoice_id: str) -> Payment | None: ...
    async def payments_without_fee(self, limit: int, *, since: datetime) -> list[Payment]: ...
    async def record_fees(self, fees: Sequence[tuple[Payment, int, str]]) -> int: ...


class Books:
    """The ledger's books as one unit of work reads and writes them: transactions and their
    entries, payments, refunds, statuses and timelines."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
        self._payments: Known[tuple[str, str], Payment] = Known(uow)
        """Booked payments (or None) by how they were looked up: ("charge", charge id), ("key",
        payment intent or charge id), ("invoice", invoice id)."""
        self._statuses: Known[tuple[str, Any], tuple[tuple[int, int], dict[str, Any]]] = Known(uow)
        """Status-tracked rows this transaction wrote: their news and values, by table and key."""

    def _remember(self, payment: Payment) -> None:
        self._payments["charge", payment.charge_id] = payment
        self._payments["key", payment.charge_id] = payment
        if payment.payment_intent_id:
            self._payments["key", payment.payment_intent_id] = payment
        if payment.invoice_id:
            self._payments["invoice", payment.invoice_id] = payment

    def _forget(self, charge_id: str, *names: str | None) -> None:
        """Forget what was known of the payment of `charge_id` and under `names` (it changed)."""
        stale = [
            key for key, known in self._payments.items() if known and known.charge_id == charge_id
        ]
        named = [(how, name) for name in (charge_id, *names) if name for how in LOOKUPS]
        self._payments.forget([*stale, *named])

    async def _payment(self, how: str, name: str) -> Payment | None:
        if (how, name) in self._payments:
            return self._payments[how, name]
        where = _LOOKUP_WHERE[how](orm.payments.c, name)  # built on a miss only
        await self._settled()
        row = (await self._session.execute(select(orm.payments).where(where))).mappings().first()
        self._payments[how, name] = payment = _payment_of(dict(row)) if row else None
        if payment is not None:
            self._remember(payment)
        return payment

    @property
    def _session(self) -> AsyncSession:
        return self._uow.session

    async def post(
        self,
        *transactions: Transaction,
        causation_id: str | None,
        payment: Payment | None = None,
        causations: Mapping[str, str] | None = None,
    ) -> bool:
        """Write `transactions` and their entries, each unless its key is already booked (each
        caused by `causation_id`, or by what `causations` says for its key); with `payment`,
        the payment they book (unless its charge is booked). True if the first of them is
        written now. A payment this transaction knows is not booked is queued instead, written
        with the others before the books are next read or the transaction commits
        (`bookings.py`)."""
        first, causations = transactions[0], causations or {}
        if payment is not None and self._is_new(payment.charge_id):
            queued = self._uow.deferred(QUEUED_PAYMENTS)
            queued.add(transactions, causation_id, causations, payment)
            queued.expected.append(first.key)
            self._remember(payment)
            return True
        bookings = Bookings()
        bookings.add(transactions, causation_id, causations, payment)
        await self._settled()
        booked = first.key in await book(self._uow, bookings)
        if payment is not None:
            self._forget(payment.charge_id, payment.payment_intent_id, payment.invoice_id)
            if booked:  # as written now, its row locked until the commit: no read back
                self._remember(payment)
        return booked

    def _is_new(self, charge_id: str) -> bool:
        """Whether this transaction knows the charge's payment is not booked."""
        key = ("charge", charge_id)
        return key in self._payments and self._payments[key] is None

    async def _settled(self) -> None:
        """Write the queued payments: a statement is about to read or write the books."""
        await self._uow.write_queued(QUEUED_PAYMENTS)

    async def is_booked(self, key: str) -> bool:
        """Whether a transaction with this key exists."""
        await self._settled()
        t = orm.transactions
        return (
            await self._session.execute(select(t.c.id).where(t.c.key == key))
        ).first() is not None

    async def lock_group(self, group_id: str) -> None:
        """Serialize balance-changing commands of one group until the transaction ends."""
        await self._uow.lock(f"ledger.group:{group_id}")

    async def claim(self, name: str) -> bool:
        """Take the lock `name` until the transaction ends if no other transaction holds it."""
        taken = await self._session.scalar(
            text("SELECT pg_try_advisory_xact_lock(hashtextextended(:name, 0))"), {"name": name}
        )
        return bool(taken)

    async def account_balance(self, group_id: str, currency: str, account: Account) -> int:
        """The all-time balance of one account."""
        await self._settled()
        e = orm.entries
        total = await self._session.scalar(
            select(func.coalesce(func.sum(e.c.amount), 0)).where(
                e.c.group_id == group_id, e.c.currency == currency, e.c.account == account.value
            )
        )
        return int(total or 0)

    async def charge_account_total(self, charge_id: str, account: Account) -> int:
        """What the ledger holds on `account` for one charge (e.g. its refunds so far)."""
        await self._settled()
        e, t = orm.entries, orm.transactions
        total = await self._session.scalar(
            select(func.coalesce(func.sum(e.c.amount), 0))
            .select_from(e.join(t, e.c.transaction_id == t.c.id))
            .where(t.c.charge_id == charge_id, e.c.account == account.value)
        )
        return int(total or 0)

    async def booked_amount(self, *, source_id: str, kind: Kind) -> int:
        """The total amount of the transactions of one kind on one Stripe object."""
        await self._settled()
        t = orm.transactions
        total = await self._session.scalar(
            select(func.coalesce(func.sum(t.c.amount), 0)).where(
                t.c.source_id == source_id, t.c.kind == kind.value
            )
        )
        return int(total or 0)

    async def read_ahead(self, names: Collection[str]) -> None:
        """Read the payments booked under `names` (charges, payment intents, invoices) in one
        statement: `get_payment`, `payment_by_key` and `payment_by_invoice` answer them from
        memory for the rest of the transaction (the prefetch holds their locks)."""
        await self._settled()
        rows = await self._uow.execute(PAYMENTS, {"names": list(names)})
        for name in names:
            for how in LOOKUPS:
                self._payments[how, name] = None
        for row in rows:
            self._remember(_payment_of(row))

    async def get_payment(self, charge_id: str) -> Payment | None:
        """The booked payment of a charge."""
        return await self._payment("charge", charge_id)

    async def link_invoice(
        self,
        charge_id: str,
        *,
        invoice_id: str,
        hosted_url: str | None,
        pdf: str | None,
    ) -> None:
        """Attach the invoice (and its links) to a payment booked before the invoice was seen."""
        self._forget(charge_id, invoice_id)
        await self._settled()
        p = orm.payments
        await self._session.execute(
            p.update()
            .where(p.c.charge_id == charge_id, p.c.invoice_id.is_(None))
            .values(invoice_id=invoice_id, hosted_invoice_url=hosted_url, invoice_pdf=pdf)
        )

    async def upsert_status(
        self, table: Any, key_column: str, values: dict[str, Any], *, status_at: int
    ) -> bool:
        """Insert a status-tracked row, or update it unless it already has newer news: a later
        event, or one of the same second whose status comes later in the object's life.

        Returns True when the row was inserted now (the first news of the object). News this
        transaction has already written, or older, is not written again (two events of a fetch
        may tell the same)."""
        told, row_key = news(values["status"], status_at), (table.name, values[key_column])
        if row_key in self._statuses:
            written, was = self._statuses[row_key] or ((0, 0), {})
            if told < written or (told == written and values == was):
                return False
        self._statuses[row_key] = (told, values)
        key = getattr(table.c, key_column)
        stmt = insert(table).values(**values, status_at=told[0], status_rank=told[1])
        updatable = {k: stmt.excluded[k] for k in values if k != key_column} | {
            "status_at": stmt.excluded.status_at,
            "status_rank": stmt.excluded.status_rank,
        }
        newer = no_newer_news(table, stmt.excluded)
        result = await self._session.execute(
            stmt.on_conflict_do_update(index_elements=[key], set_=updatable, where=newer).returning(
                text("(xmax = 0) AS inserted")
            )
        )
        row = result.first()
        return bool(row and row.inserted)

    def note_invoice(self, values: dict[str, Any], *, status_at: int) -> None:
        """`upsert_status` of an invoice's row, before the commit (`invoice_news`)."""
        self._uow.deferred(INVOICE_NEWS).note(values, status_at=status_at)

    async def add_timeline(
        self,
        *,
        event_id: str,
        object_id: str,
        charge_id: str | None,
        event_type: str,
        status: str | None,
        amount: int | None,
        occurred_at: datetime,
    ) -> None:
        """One step of an object's history (a Stripe event), once."""
        await self._session.execute(
            insert(orm.timeline)
            .values(
                event_id=event_id,
                object_id=object_id,
                charge_id=charge_id,
                event_type=event_type,
                status=status,
                amount=amount,
                occurred_at=occurred_at,
            )
            .on_conflict_do_nothing()
        )

    async def refund_status(self, refund_id: str) -> str | None:
        """A refund's status as its newest news has it (`upsert_status`)."""
        r = orm.refunds
        found = await self._session.scalar(select(r.c.status).where(r.c.refund_id == refund_id))
        return str(found) if found is not None else None

    async def payment_by_key(self, key: str) -> Payment | None:
        """The booked payment of a payment intent, or of a charge paid without one."""
        return await self._payment("key", key)

    async def payment_by_invoice(self, invoice_id: str) -> Payment | None:
        """The booked payment of an invoice, if its payment is booked."""
        return await self._payment("invoice", invoice_id)

    async def payments_without_fee(self, limit: int, *, since: datetime) -> list[Payment]:
        """The oldest `limit` payments made `since` then whose fee is not known yet."""
        p = orm.payments
        await self._settled()
        unknown = (p.c.fee.is_(None), p.c.created_at >= since)
        rows = await self._session.execute(
            select(p).where(*unknown).order_by(p.c.created_at).limit(limit)
        )
        return [_payment_of(dict(row)) for row in rows.mappings()]

    async def record_fees(self, fees: Sequence[tuple[Payment, int, str]]) -> int:
        """Book Stripe's fees (payment, fee, balance transaction) in one statement, once each
        (keyed by the charge, caused by the balance transaction), and keep each on its
        payment; how many were not known before."""
        charged = [(payment.fee_transaction(fee, txn), txn) for payment, fee, txn in fees if fee]
        if charged:
            causes = {fee_txn.key: txn for fee_txn, txn in charged}
            await self.post(*(t for t, _ in charged), causation_id=None, causations=causes)
        await self._settled()
        rows = await self._uow.execute(
            FEES,
            {"charge_ids": [p.charge_id for p, _, _ in fees], "fees": [fee for _, fee, _ in fees]},
        )
        for payment, _, _ in fees:
            self._forget(payment.charge_id)
        return len(rows)
