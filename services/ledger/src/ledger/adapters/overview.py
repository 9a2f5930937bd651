"""The console's read side beyond the JSON API's: the groups the ledger knows with their totals,
a group's members (its payers), its declined and failed payments, payouts awaiting approval."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import exists, func, literal, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from ledger.adapters import orm
from ledger.adapters.queries import totals
from ledger.domain.payouts import PayoutStatus
from tollgate_shared.persistence.pagination import decode_cursor, encode_cursor, keyset_page

t, e, p, g = orm.transactions, orm.entries, orm.payments, orm.group_settings


async def groups_page(
    session: AsyncSession, *, limit: int, cursor: str | None, search: str | None = None
) -> tuple[list[str], str | None]:
    """Groups that booked money, by id, after `cursor`; `search` matches part of the id or of
    the name checkout gave the group. Read off the transactions' (group, id) index, so a page
    reads the transactions of its groups only."""
    query = select(t.c.group_id).distinct()
    if search:
        part = search.strip()
        named = select(g.c.group_id).where(g.c.name.icontains(part, autoescape=True))
        query = query.where(
            or_(t.c.group_id.icontains(part, autoescape=True), t.c.group_id.in_(named))
        )
    if cursor:
        (after,) = decode_cursor(cursor, str)
        query = query.where(t.c.group_id > after)
    found = list((await session.execute(query.order_by(t.c.group_id).limit(limit + 1))).scalars())
    page = found[:limit]
    return page, encode_cursor(page[-1]) if len(found) > limit else None


async def group_totals(session: AsyncSession, groups: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Totals per currency of each of `groups` (as the summary has them), and each group's
    payable balance per currency."""
    rows = await session.execute(
        select(e.c.group_id, e.c.currency, e.c.account, func.sum(e.c.amount))
        .where(e.c.group_id.in_(groups))
        .group_by(e.c.group_id, e.c.currency, e.c.account)
    )
    sums: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    for group_id, currency, account, amount in rows:
        sums[(group_id, currency)][account] = int(amount)
    found: dict[str, list[dict[str, Any]]] = {g: [] for g in groups}
    for (group_id, currency), accounts in sorted(sums.items()):
        found[group_id].append({"currency": currency, **totals(accounts)})
    return found


async def group_known(session: AsyncSession, group_id: str) -> bool:
    """Whether the ledger has anything of the group: money booked, a failed payment, a payout
    request or schedule."""
    tables = (t, orm.payment_failures, orm.payout_requests, orm.payout_schedules)
    known = union_all(
        *(select(literal(1)).where(table.c.group_id == group_id).limit(1) for table in tables)
    )
    return bool((await session.execute(select(exists(known.subquery())))).scalar())


def _payer() -> Any:
    return func.coalesce(p.c.user_id, p.c.email, "").label("payer")


async def members_page(
    session: AsyncSession, group_id: str, *, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """The group's payers (by user id, else email) in order, each with their email, and per
    currency how many payments, how much and when they last paid; the next page's cursor."""
    payer = _payer()
    keys = select(payer).where(p.c.group_id == group_id).distinct()
    if cursor:
        (after,) = decode_cursor(cursor, str)
        keys = keys.where(payer > after)
    found = list((await session.execute(keys.order_by(payer).limit(limit + 1))).scalars())
    page = found[:limit]
    payer = _payer()
    rows = await session.execute(
        select(
            payer,
            func.max(p.c.email).label("email"),
            func.max(p.c.user_id).label("user_id"),
            p.c.currency,
            func.count().label("payments"),
            func.sum(p.c.amount).label("paid"),
            func.max(p.c.created_at).label("last_paid"),
        )
        .where(p.c.group_id == group_id, payer.in_(page))
        .group_by(payer, p.c.currency)
        .order_by(payer, p.c.currency)
    )
    members: dict[str, dict[str, Any]] = {}
    for row in rows:
        member = members.setdefault(
            row.payer, {"payer": row.payer, "user_id": row.user_id, "email": row.email, "by": []}
        )
        member["email"] = member["email"] or row.email
        member["by"].append(
            {
                "currency": row.currency,
                "payments": row.payments,
                "paid": int(row.paid),
                "last_paid": row.last_paid,
            }
        )
    return list(members.values()), encode_cursor(page[-1]) if len(found) > limit else None


async def failures_page(
    session: AsyncSession, group_id: str, *, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """The group's declined and failed payments, newest first, and the next page's cursor."""
    f = orm.payment_failures
    rows, next_cursor = await keyset_page(
        session,
        select(f).where(f.c.group_id == group_id),
        (f.c.failed_at, f.c.failure_id),
        limit=limit,
        cursor=cursor,
    )
    return [dict(r._mapping) for r in rows], next_cursor


async def awaiting_approval(
    session: AsyncSession, groups: list[str] | None, *, limit: int
) -> list[dict[str, Any]]:
    """Payout requests no admin has decided yet (of `groups`, or all), oldest first."""
    r = orm.payout_requests
    query = select(r).where(
        or_(r.c.status == PayoutStatus.REQUESTED, r.c.status == PayoutStatus.APPROVED)
    )
    if groups is not None:
        query = query.where(r.c.group_id.in_(groups))
    rows = await session.execute(query.order_by(r.c.created_at, r.c.payout_id).limit(limit))
    return [dict(row._mapping) for row in rows]
