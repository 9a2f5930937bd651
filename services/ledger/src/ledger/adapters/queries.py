"""The read side: summaries, listings and a payment's full story, straight from the tables."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ledger.adapters import orm
from ledger.domain.accounts import Account
from tollgate_shared.persistence.pagination import keyset_page, split_page

t, e, p = orm.transactions, orm.entries, orm.payments


def _period(column: Any, start: datetime | None, end: datetime | None) -> list[Any]:
    return [c for c in (start and column >= start, end and column < end) if c is not None]


def totals(by_account: dict[str, int]) -> dict[str, int]:
    """Gross, refunds, disputes, fees and net from account sums (credits are negative)."""
    gross = -by_account.get(Account.GROSS_REVENUE, 0)
    refunds = by_account.get(Account.REFUNDS, 0)
    disputes = by_account.get(Account.DISPUTES, 0)
    fees = by_account.get(Account.STRIPE_FEES, 0)
    return {
        "gross": gross,
        "refunds": refunds,
        "disputes": disputes,
        "fees": fees,
        "net": gross - refunds - disputes - fees,
        "paid_out": by_account.get(Account.PAID_OUT, 0),
    }


async def summary(
    session: AsyncSession, group_id: str, start: datetime | None, end: datetime | None
) -> list[dict[str, Any]]:
    """Totals per currency for entries that occurred in [start, end)."""
    rows = await session.execute(
        select(e.c.currency, e.c.account, func.sum(e.c.amount))
        .where(e.c.group_id == group_id, *_period(e.c.occurred_at, start, end))
        .group_by(e.c.currency, e.c.account)
    )
    per_currency: dict[str, dict[str, int]] = defaultdict(dict)
    for currency, account, amount in rows:
        per_currency[currency][account] = int(amount)
    return [{"currency": c, **totals(a)} for c, a in sorted(per_currency.items())]


async def revenue_series(
    session: AsyncSession, group_id: str, *, bucket: str = "day", since: datetime | None = None
) -> list[dict[str, Any]]:
    """Totals per currency and `bucket` (day/week/month, in UTC) of the periods that moved money
    (from `since` on, if given), oldest first, for charts."""
    period = func.date_trunc(bucket, e.c.occurred_at, "UTC").label("period")
    rows = await session.execute(
        select(period, e.c.currency, e.c.account, func.sum(e.c.amount))
        .where(e.c.group_id == group_id, *_period(e.c.occurred_at, since, None))
        .group_by(period, e.c.currency, e.c.account)
        .order_by(period)
    )
    points: dict[tuple[datetime, str], dict[str, int]] = defaultdict(dict)
    for at, currency, account, amount in rows:
        points[(at, currency)][account] = int(amount)
    return [{"period": at, "currency": c, **totals(a)} for (at, c), a in points.items()]


async def transactions_page(
    session: AsyncSession, group_id: str, *, limit: int, after_id: int | None
) -> tuple[list[dict[str, Any]], int | None]:
    """Newest first, and the cursor of the next page (the last id of this one; None on the
    last page); `after_id` is the cursor of the previous page."""
    query = select(t).where(t.c.group_id == group_id)
    if after_id is not None:
        query = query.where(t.c.id < after_id)
    found = await session.execute(query.order_by(t.c.id.desc()).limit(limit + 1))
    rows, last = split_page([dict(r._mapping) for r in found], limit)
    return await _with_entries(session, rows), last["id"] if last else None


async def _with_entries(session: AsyncSession, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not rows:
        return rows
    found = await session.execute(
        select(e.c.transaction_id, e.c.account, e.c.currency, e.c.amount)
        .where(e.c.transaction_id.in_([r["id"] for r in rows]))
        .order_by(e.c.id)
    )
    by_txn: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for txn_id, account, currency, amount in found:
        by_txn[txn_id].append({"account": account, "currency": currency, "amount": amount})
    for row in rows:
        row["entries"] = by_txn[row["id"]]
    return rows


async def export_rows(
    session: AsyncSession, group_id: str, start: datetime | None, end: datetime | None
) -> list[dict[str, Any]]:
    """Every entry of the group in the period with its transaction, oldest first (for CSV)."""
    rows = await session.execute(
        select(
            t.c.id.label("transaction_id"),
            t.c.occurred_at,
            t.c.kind,
            t.c.key,
            t.c.charge_id,
            t.c.invoice_id,
            t.c.user_id,
            t.c.tier_id,
            t.c.reference,
            e.c.account,
            e.c.currency,
            e.c.amount,
        )
        .select_from(e.join(t, e.c.transaction_id == t.c.id))
        .where(e.c.group_id == group_id, *_period(e.c.occurred_at, start, end))
        .order_by(t.c.occurred_at, t.c.id, e.c.id)
    )
    return [dict(r._mapping) for r in rows]


def _payment_columns() -> list[Any]:
    refunded = (
        select(func.coalesce(func.sum(e.c.amount), 0).cast(BigInteger))
        .select_from(e.join(t, e.c.transaction_id == t.c.id))
        .where(t.c.charge_id == p.c.charge_id, e.c.account == Account.REFUNDS.value)
        .scalar_subquery()
    )
    disputed = (
        select(func.coalesce(func.sum(e.c.amount), 0).cast(BigInteger))
        .select_from(e.join(t, e.c.transaction_id == t.c.id))
        .where(t.c.charge_id == p.c.charge_id, e.c.account == Account.DISPUTES.value)
        .scalar_subquery()
    )
    return [*p.c, refunded.label("refunded"), disputed.label("disputed")]


def payment_status(row: dict[str, Any]) -> str:
    """`paid`, `partially_refunded`, `refunded` or `disputed` (money held by a dispute)."""
    if row["disputed"] > 0:
        return "disputed"
    if row["refunded"] >= row["amount"]:
        return "refunded"
    return "partially_refunded" if row["refunded"] > 0 else "paid"


def _payment(row: Any) -> dict[str, Any]:
    found = dict(row._mapping)
    found["status"] = payment_status(found)
    return found


async def payments_page(
    session: AsyncSession,
    *,
    limit: int,
    cursor: str | None = None,
    groups: list[str] | None = None,
    user_id: str | None = None,
    search: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Payments newest first (by `created_at`, then charge id), and the cursor of the next page
    (None on the last page); `groups` limits to those groups, `search` matches ids and email."""
    query = select(*_payment_columns())
    if groups is not None:
        query = query.where(p.c.group_id.in_(groups))
    if user_id is not None:
        query = query.where(p.c.user_id == user_id)
    if search:
        like = f"%{search.strip()}%"
        query = query.where(
            or_(
                *(
                    c.ilike(like)
                    for c in (p.c.charge_id, p.c.email, p.c.user_id, p.c.invoice_id, p.c.group_id)
                ),
                p.c.payment_intent_id == search.strip(),
            )
        )
    rows, next_cursor = await keyset_page(
        session, query, (p.c.created_at, p.c.charge_id), limit=limit, cursor=cursor
    )
    return [_payment(r) for r in rows], next_cursor


async def payment_detail(session: AsyncSession, charge_id: str) -> dict[str, Any] | None:
    """A payment with its ledger transactions, refunds, disputes, risk items and timeline."""
    row = (
        await session.execute(select(*_payment_columns()).where(p.c.charge_id == charge_id))
    ).first()
    if row is None:
        return None
    detail = _payment(row)
    txns = [
        dict(r._mapping)
        for r in await session.execute(select(t).where(t.c.charge_id == charge_id).order_by(t.c.id))
    ]
    detail["transactions"] = await _with_entries(session, txns)
    for name, table in (
        ("refunds", orm.refunds),
        ("disputes", orm.disputes),
        ("risk", orm.risk_items),
    ):
        found = await session.execute(
            select(table).where(table.c.charge_id == charge_id).order_by(table.c.created_at)
        )
        detail[name] = [dict(r._mapping) for r in found]
    tl = orm.timeline
    steps = await session.execute(
        select(tl).where(tl.c.charge_id == charge_id).order_by(tl.c.occurred_at, tl.c.event_id)
    )
    detail["timeline"] = [dict(r._mapping) for r in steps]
    return detail


async def invoices_of(session: AsyncSession, user_id: str, *, limit: int) -> list[dict[str, Any]]:
    """A member's invoices, newest first."""
    i = orm.invoices
    rows = await session.execute(
        select(i).where(i.c.user_id == user_id).order_by(i.c.created_at.desc()).limit(limit)
    )
    return [dict(r._mapping) for r in rows]


async def disputes_list(
    session: AsyncSession, *, groups: list[str] | None, limit: int, cursor: str | None = None
) -> tuple[list[dict[str, Any]], str | None]:
    """Disputes newest first (optionally of some groups only), and the next page's cursor."""
    d = orm.disputes
    query = select(d, p.c.user_id, p.c.email).select_from(
        d.outerjoin(p, p.c.charge_id == d.c.charge_id)
    )
    if groups is not None:
        query = query.where(d.c.group_id.in_(groups))
    rows, next_cursor = await keyset_page(
        session, query, (d.c.created_at, d.c.dispute_id), limit=limit, cursor=cursor
    )
    return [dict(r._mapping) for r in rows], next_cursor


async def risk_list(
    session: AsyncSession, *, groups: list[str] | None, limit: int, cursor: str | None = None
) -> tuple[list[dict[str, Any]], str | None]:
    """Early fraud warnings and reviews newest first (optionally of some groups only), and the
    next page's cursor."""
    k = orm.risk_items
    query = select(k, p.c.email, p.c.amount, p.c.currency).select_from(
        k.outerjoin(p, p.c.charge_id == k.c.charge_id)
    )
    if groups is not None:
        query = query.where(k.c.group_id.in_(groups))
    rows, next_cursor = await keyset_page(
        session, query, (k.c.created_at, k.c.risk_id), limit=limit, cursor=cursor
    )
    return [dict(r._mapping) for r in rows], next_cursor


async def ledger_for_balance_transactions(
    session: AsyncSession, txn_ids: list[str]
) -> dict[str, int]:
    """What the ledger moved on the payable account for each Stripe balance transaction."""
    rows = await session.execute(
        select(t.c.balance_transaction_id, func.sum(e.c.amount))
        .select_from(e.join(t, e.c.transaction_id == t.c.id))
        .where(
            t.c.balance_transaction_id.in_(txn_ids),
            e.c.account == literal(Account.PAYABLE_TO_ORGANIZER.value),
        )
        .group_by(t.c.balance_transaction_id)
    )
    return {bt: int(total) for bt, total in rows}


async def ledger_balance_transactions_in(
    session: AsyncSession, start: datetime, end: datetime
) -> list[str]:
    """Balance transaction ids the ledger booked movements for in [start, end)."""
    rows = await session.execute(
        select(t.c.balance_transaction_id)
        .where(t.c.balance_transaction_id.is_not(None), *_period(t.c.occurred_at, start, end))
        .distinct()
    )
    return [r[0] for r in rows]
