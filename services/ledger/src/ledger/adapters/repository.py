"""Reads and writes of the ledger's tables; callers own the transaction."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Row,
    String,
    bindparam,
    column,
    func,
    select,
    text,
    true,
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
from tollgate_shared.db import DriverStatement
from tollgate_shared.events.base import DomainEvent
from tollgate_shared.messaging.outbox import add_once

_ADD_PAYMENT = insert(orm.payments).on_conflict_do_nothing(
    index_elements=[orm.payments.c.charge_id]
)


def _post() -> DriverStatement:
    """A transaction and its entries in one statement (a data-modifying CTE): the entries are
    inserted only if the transaction's key was new; returns its id then, else no row."""
    t, e = orm.transactions, orm.entries
    columns = [c.name for c in t.columns if c.server_default is None and not c.primary_key]
    booked = (
        insert(t)
        .from_select(columns, select(*[bindparam(c, type_=t.c[c].type) for c in columns]))
        .on_conflict_do_nothing(index_elements=[t.c.key])
        .returning(t.c.id)
        .cte("booked")
    )
    postings = (
        func.unnest(
            bindparam("accounts", type_=ARRAY(String)),
            bindparam("currencies", type_=ARRAY(String)),
            bindparam("amounts", type_=ARRAY(BigInteger)),
        )
        .table_valued(
            column("account", String), column("currency", String), column("amount", BigInteger)
        )
        .render_derived(name="p")
    )
    entries = select(
        booked.c.id,
        bindparam("group_id", type_=String),
        postings.c.account,
        postings.c.currency,
        postings.c.amount,
        bindparam("occurred_at", type_=t.c.occurred_at.type),
    ).select_from(booked.join(postings, true()))
    posted = insert(e).from_select(
        ["transaction_id", "group_id", "account", "currency", "amount", "occurred_at"], entries
    )
    return DriverStatement.of(select(booked.c.id).add_cte(posted.cte("posted")))


_POST = _post()


async def post(session: AsyncSession, txn: Transaction, *, causation_id: str | None) -> bool:
    """Write `txn` and its entries unless its key is already booked; True if written now."""
    booked = await _POST.run(
        session,
        dict(
            key=txn.key,
            kind=txn.kind.value,
            group_id=txn.group_id,
            currency=txn.currency,
            amount=txn.amount,
            source_id=txn.source_id,
            charge_id=txn.charge_id,
            invoice_id=txn.invoice_id,
            balance_transaction_id=txn.balance_transaction_id,
            description=(txn.description or "")[:500] or None,
            causation_id=causation_id,
            occurred_at=txn.occurred_at,
            user_id=txn.attribution.user_id,
            tier_id=txn.attribution.tier_id,
            purpose=txn.attribution.purpose,
            reference=txn.attribution.reference,
            accounts=[p.account.value for p in txn.postings],
            currencies=[p.currency for p in txn.postings],
            amounts=[p.amount for p in txn.postings],
        ),
    )
    return bool(booked)


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


def _payment_of(row: Row[Any]) -> Payment:
    m = row._mapping
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


_PAYMENT = select(orm.payments).where(orm.payments.c.charge_id == bindparam("charge_id"))


async def get_payment(session: AsyncSession, charge_id: str) -> Payment | None:
    """The booked payment of a charge."""
    row = (await session.execute(_PAYMENT, {"charge_id": charge_id})).first()
    return _payment_of(row) if row else None


async def add_payment(session: AsyncSession, payment: Payment) -> None:
    """Record a payment (a concurrent insert of the same charge wins; this one is dropped)."""
    values = {
        k: v
        for k, v in asdict(payment).items()
        if k not in ("attribution", "balance_transaction_id")
    }
    await session.execute(_ADD_PAYMENT, {**values, **asdict(payment.attribution)})


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


async def emit_once(session: AsyncSession, outbox: Any, event: DomainEvent) -> bool:
    """Queue `event` unless an event with its (deterministic) id was already queued."""
    return await add_once(session, outbox, event)
