"""Checkout's hand-tuned statements, compiled once for the driver (rows bound as JSON), and the
clauses they share with the repository."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    DateTime,
    Label,
    String,
    and_,
    any_,
    bindparam,
    case,
    exists,
    func,
    or_,
    select,
    union,
    update,
)
from sqlalchemy.dialects.postgresql import insert

from checkout.adapters.orm import checkout_sessions, customers, members, tiers
from checkout.domain.checkout import Member
from tollgate_shared.persistence.db import DriverStatement, json_rows

S = checkout_sessions
OCCUPANCY_COLUMNS = [*(f.name for f in fields(Member)), "event_at"]


def holding() -> ColumnElement[bool]:
    """Checkouts that hold what they sell: open and unexpired, being paid, or paid (without
    IN lists, which a `DriverStatement` cannot expand)."""
    return or_(
        S.c.status == "processing",
        S.c.status == "paid",
        and_(or_(S.c.status == "pending", S.c.status == "open"), S.c.expires_at > func.now()),
    )


def limited_tier(tier_id: Any = S.c.tier_id) -> Label[str]:
    """For a write's RETURNING: the checkout's tier (the column, or the id an INSERT gives) if
    it has a capacity (its seat holds are announced), else NULL. Asked in the write's own
    statement: a checkout of a tier without a capacity costs no round trip."""
    limited = select(tiers.c.id).where(tiers.c.id == tier_id, tiers.c.capacity.is_not(None))
    return limited.scalar_subquery().label("limited_tier")


def _moved(paid: bool, release: bool, if_member: bool) -> DriverStatement:
    """A checkout's status set (`to_status`), stamped paid and its seat released as `move`
    is told, answering `limited_tier()`."""
    values: dict[str, Any] = {"status": bindparam("to_status")}
    if paid:
        values["paid_at"] = func.coalesce(S.c.paid_at, func.now())
    if release:
        released = func.coalesce(S.c.released_at, func.now())
        counted = exists().where(
            members.c.user_id == S.c.user_id,
            members.c.tier_id == S.c.tier_id,
            members.c.active,
            members.c.event_at >= S.c.created_at,
        )
        values["released_at"] = (
            case((counted, released), else_=S.c.released_at) if if_member else released
        )
    moved = update(S).where(S.c.id == bindparam("checkout_id")).values(**values)
    return DriverStatement.of(moved.returning(limited_tier()))


MOVES = {
    (paid, release, if_member): _moved(paid, release, if_member)
    for paid in (False, True)
    for release in (False, True)
    for if_member in (False, True)
    if release or not if_member
}
"""`move`'s statements, by (paid, release, if_member): compiled once."""


def _lock_known() -> DriverStatement:
    recorded = customers.c.stripe_customer_id.is_not(None).label("customer_recorded")
    return DriverStatement.of(
        select(S, recorded)
        .outerjoin(customers, customers.c.user_id == S.c.user_id)
        .where(
            or_(
                S.c.id == any_(bindparam("checkout_ids", type_=ARRAY(String))),
                S.c.stripe_id == any_(bindparam("stripe_ids", type_=ARRAY(String))),
            )
        )
        .order_by(S.c.id)
        .with_for_update(of=S)
    )


LOCK_KNOWN = _lock_known()
"""The checkouts with any of `checkout_ids` or `stripe_ids`, locked in id order, each with
whether its user's Stripe customer is recorded (`customer_recorded`)."""


def _save_occupancy() -> DriverStatement:
    reports = json_rows("members", "reports", [(c, members.c[c].type) for c in OCCUPANCY_COLUMNS])
    given = select(reports).cte("given")  # read more than once, parsed once
    holds = json_rows(
        "holds",
        "holds",
        [("user_id", String()), ("tier_id", String()), ("up_to", DateTime(timezone=True))],
    )
    held = select(holds).cte("held")
    released = (
        update(S)
        .where(
            S.c.user_id == held.c.user_id,
            S.c.tier_id == held.c.tier_id,
            S.c.status == "paid",
            S.c.released_at.is_(None),
            S.c.created_at <= held.c.up_to,
        )
        .values(released_at=func.now())
    )
    # In key order: two transactions upserting the same members lock them in the same order.
    rows = select(*[given.c[c] for c in OCCUPANCY_COLUMNS]).order_by(
        given.c.user_id, given.c.group_id
    )
    stmt = insert(members).from_select(OCCUPANCY_COLUMNS, rows)
    upsert = stmt.on_conflict_do_update(
        index_elements=["user_id", "group_id"],
        set_={c: stmt.excluded[c] for c in OCCUPANCY_COLUMNS if c not in ("user_id", "group_id")},
        where=members.c.event_at <= stmt.excluded.event_at,
    )
    # The seats held on a tier change when one of its holders' holds is released or their
    # membership of it begins or ends (the tier they leave included): of the users and tiers
    # reported, and those they were on, the tiers with a capacity they hold a seat on. Read
    # before the writes above (one snapshot), so holds released here are found too.
    reported = union(
        select(given.c.user_id, given.c.tier_id),
        select(held.c.user_id, held.c.tier_id),
        select(members.c.user_id, members.c.tier_id).join(
            given,
            and_(members.c.user_id == given.c.user_id, members.c.group_id == given.c.group_id),
        ),
    ).cte("reported")
    holds_changed = (
        select(S.c.tier_id)
        .distinct()
        .join(reported, and_(S.c.user_id == reported.c.user_id, S.c.tier_id == reported.c.tier_id))
        .join(tiers, and_(tiers.c.id == S.c.tier_id, tiers.c.capacity.is_not(None)))
        .where(S.c.purpose == "membership", S.c.released_at.is_(None), holding())
    )
    return DriverStatement.of(
        holds_changed.add_cte(released.cte("released")).add_cte(upsert.cte("upserted"))
    )


SAVE_OCCUPANCY = _save_occupancy()
"""Members upserted unless a newer event described them (`members`: one JSON parameter of
rows), and in the same statement the paid sessions membership now counts released
(`holds`: user, tier, up to when); answers the tiers with a capacity whose seat holds this
may change (`tier_id` rows)."""
