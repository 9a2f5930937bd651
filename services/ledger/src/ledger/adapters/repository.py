"""Reads and writes of the ledger's tables; callers own the transaction."""

from __future__ import annotations

import functools
from collections.abc import Collection, Mapping
from dataclasses import fields
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    String,
    any_,
    bindparam,
    exists,
    false,
    func,
    select,
    text,
    tuple_,
)
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession

from ledger.adapters import orm
from ledger.domain.accounts import Account, Kind
from ledger.domain.attribution import Attribution
from ledger.domain.payments import Payment
from ledger.domain.statuses import status_rank
from ledger.domain.transactions import Transaction
from tollgate_shared.db import DriverStatement, ReadAhead, json_param, json_rows
from tollgate_shared.events.base import DomainEvent
from tollgate_shared.messaging import outbox

_TRANSACTION_COLUMNS = [
    c for c in orm.transactions.columns if c.server_default is None and not c.primary_key
]
_PAYMENT_COLUMNS = [c for c in orm.payments.columns if c.server_default is None]
_ATTRIBUTION_FIELDS = frozenset(f.name for f in fields(Attribution))


@functools.cache
def _booking(*, with_payment: bool, announcing: bool) -> DriverStatement:
    """Transactions and their entries in one statement (data-modifying CTEs), the entries
    only of transactions whose key is new; with the payment they book (unless its charge is
    booked) and an event queued only if the first transaction is new. Returns the keys booked
    now, and whether the event was queued."""
    t, e = orm.transactions, orm.entries
    rows = json_rows("transactions", "r", [(c.name, c.type) for c in _TRANSACTION_COLUMNS])
    names = [c.name for c in _TRANSACTION_COLUMNS]
    booked = (
        insert(t)
        .from_select(names, select(*[rows.c[n] for n in names]).order_by(rows.c.n))
        .on_conflict_do_nothing(index_elements=[t.c.key])
        .returning(t.c.id, t.c.key, t.c.group_id, t.c.occurred_at)
        .cte("booked")
    )
    postings = json_rows(
        "postings",
        "q",
        [
            ("posting_key", String()),
            ("account", String()),
            ("posting_currency", String()),
            ("posting_amount", BigInteger()),
        ],
    )
    entries = (
        select(
            booked.c.id,
            booked.c.group_id,
            postings.c.account,
            postings.c.posting_currency,
            postings.c.posting_amount,
            booked.c.occurred_at,
        )
        .select_from(postings.join(booked, booked.c.key == postings.c.posting_key))
        .order_by(postings.c.n)
    )
    posted = insert(e).from_select(
        ["transaction_id", "group_id", "account", "currency", "amount", "occurred_at"], entries
    )
    statement = select(func.array(select(booked.c.key).scalar_subquery()).label("booked"))
    statement = statement.add_cte(posted.cte("posted"))
    if with_payment:
        p = orm.payments
        paid = insert(p).values(
            {c.name: bindparam(f"payment_{c.name}", type_=c.type) for c in _PAYMENT_COLUMNS}
        )
        statement = statement.add_cte(
            paid.on_conflict_do_nothing(index_elements=[p.c.charge_id]).cte("paid")
        )
    announced: ColumnElement[bool] = false()
    if announcing:
        first_booked = exists().where(booked.c.key == bindparam("first_key", type_=String))
        queued = outbox.insert_once(orm.outbox, when=first_booked).cte("announced")
        announced = exists(select(queued.c.id))
    return DriverStatement.of(statement.add_columns(announced.label("announced")))


async def post(
    session: AsyncSession,
    *transactions: Transaction,
    causation_id: str | None,
    payment: Payment | None = None,
    announce: DomainEvent | None = None,
) -> bool:
    """Write `transactions` and their entries, each unless its key is already booked, in one
    statement; with `payment`, the payment they book (unless its charge is booked), and
    `announce` queued once if the first of them is written now. True if the first is."""
    first = transactions[0]
    rows = [
        {c.name: _column(txn, c.name, causation_id) for c in _TRANSACTION_COLUMNS}
        for txn in transactions
    ]
    postings = [
        {
            "posting_key": txn.key,
            "account": p.account.value,
            "posting_currency": p.currency,
            "posting_amount": p.amount,
        }
        for txn in transactions
        for p in txn.postings
    ]
    params: dict[str, Any] = {"transactions": json_param(rows), "postings": json_param(postings)}
    if payment is not None:
        # Field by field: `asdict` deep-copies, a hot path's cost.
        params |= {
            f"payment_{c.name}": getattr(
                payment.attribution if c.name in _ATTRIBUTION_FIELDS else payment, c.name
            )
            for c in _PAYMENT_COLUMNS
        }
    if announce is not None:
        params |= outbox.driver_rows([announce]) | {"first_key": first.key}
    statement = _booking(with_payment=payment is not None, announcing=announce is not None)
    [row] = await statement.run(session, params)
    if row["announced"]:
        outbox.note_queued(session)
    return first.key in row["booked"]


def _column(txn: Transaction, name: str, causation_id: str | None) -> Any:
    match name:
        case "kind":
            return txn.kind.value
        case "description":
            return (txn.description or "")[:500] or None
        case "causation_id":
            return causation_id
        case "user_id" | "tier_id" | "purpose" | "reference":
            return getattr(txn.attribution, name)
        case _:
            return getattr(txn, name)


async def is_booked(session: AsyncSession, key: str) -> bool:
    """Whether a transaction with this key exists."""
    t = orm.transactions
    return (await session.execute(select(t.c.id).where(t.c.key == key))).first() is not None


async def lock_group(session: AsyncSession, group_id: str) -> None:
    """Serialize balance-changing commands of one group until the transaction ends."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
        {"k": f"ledger.group:{group_id}"},
    )


async def account_balance(
    session: AsyncSession, *, group_id: str, currency: str, account: Account
) -> int:
    """The all-time balance of one account."""
    e = orm.entries
    total = await session.scalar(
        select(func.coalesce(func.sum(e.c.amount), 0)).where(
            e.c.group_id == group_id, e.c.currency == currency, e.c.account == account.value
        )
    )
    return int(total or 0)


async def charge_account_total(session: AsyncSession, charge_id: str, account: Account) -> int:
    """What the ledger holds on `account` for one charge (e.g. its refunds so far)."""
    e, t = orm.entries, orm.transactions
    total = await session.scalar(
        select(func.coalesce(func.sum(e.c.amount), 0))
        .select_from(e.join(t, e.c.transaction_id == t.c.id))
        .where(t.c.charge_id == charge_id, e.c.account == account.value)
    )
    return int(total or 0)


async def booked_amount(session: AsyncSession, *, source_id: str, kind: Kind) -> int:
    """The total amount of the transactions of one kind on one Stripe object."""
    t = orm.transactions
    total = await session.scalar(
        select(func.coalesce(func.sum(t.c.amount), 0)).where(
            t.c.source_id == source_id, t.c.kind == kind.value
        )
    )
    return int(total or 0)


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


_PAYMENTS = DriverStatement.of(
    select(orm.payments).where(
        orm.payments.c.charge_id == any_(bindparam("charge_ids", type_=ARRAY(String)))
    )
)


async def _payments(session: AsyncSession, charge_ids: list[str]) -> dict[str, Payment]:
    rows = await _PAYMENTS.run(session, {"charge_ids": charge_ids})
    return {row["charge_id"]: _payment_of(row) for row in rows}


_AHEAD = ReadAhead("ledger.payments", _payments)


async def read_ahead(session: AsyncSession, charge_ids: Collection[str]) -> None:
    """Read the payments of `charge_ids` in one statement for `get_payment` (see `ReadAhead`:
    a payment is only changed after being read through `get_payment`; an insert of a charge
    booked meanwhile by another transaction does nothing, as without reading ahead)."""
    await _AHEAD.read(session, charge_ids)


async def get_payment(session: AsyncSession, charge_id: str) -> Payment | None:
    """The booked payment of a charge (read ahead by `read_ahead` the first time, if it was)."""
    return await _AHEAD.get(session, charge_id)


async def link_invoice(
    session: AsyncSession,
    charge_id: str,
    *,
    invoice_id: str,
    hosted_url: str | None,
    pdf: str | None,
) -> None:
    """Attach the invoice (and its links) to a payment booked before the invoice was seen."""
    p = orm.payments
    await session.execute(
        p.update()
        .where(p.c.charge_id == charge_id, p.c.invoice_id.is_(None))
        .values(invoice_id=invoice_id, hosted_invoice_url=hosted_url, invoice_pdf=pdf)
    )


async def upsert_status(
    session: AsyncSession, table: Any, key_column: str, values: dict[str, Any], *, status_at: int
) -> bool:
    """Insert a status-tracked row, or update it unless it already has newer news: a later
    event, or one of the same second whose status comes later in the object's life.

    Returns True when the row was inserted now (the first news of the object)."""
    key = getattr(table.c, key_column)
    stmt = insert(table).values(
        **values, status_at=status_at, status_rank=status_rank(values["status"])
    )
    updatable = {k: stmt.excluded[k] for k in values if k != key_column} | {
        "status_at": stmt.excluded.status_at,
        "status_rank": stmt.excluded.status_rank,
    }
    newer = tuple_(table.c.status_at, table.c.status_rank) <= tuple_(
        stmt.excluded.status_at, stmt.excluded.status_rank
    )
    result = await session.execute(
        stmt.on_conflict_do_update(index_elements=[key], set_=updatable, where=newer).returning(
            text("(xmax = 0) AS inserted")
        )
    )
    row = result.first()
    return bool(row and row.inserted)


async def add_timeline(
    session: AsyncSession,
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
    await session.execute(
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


async def upsert_refund(session: AsyncSession, values: dict[str, Any]) -> bool:
    """Record or update a refund; True if it is new."""
    r = orm.refunds
    stmt = insert(r).values(**values)
    changes = {"status": stmt.excluded.status, "reason": stmt.excluded.reason}
    result = await session.execute(
        stmt.on_conflict_do_update(index_elements=[r.c.refund_id], set_=changes).returning(
            text("(xmax = 0) AS inserted")
        )
    )
    row = result.first()
    return bool(row and row.inserted)


async def emit_once(session: AsyncSession, table: Any, event: DomainEvent) -> bool:
    """Queue `event` unless an event with its (deterministic) id was already queued."""
    return await outbox.add_once(session, table, event)
