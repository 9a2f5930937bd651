"""Checkout's hand-tuned statements: compiled once for the driver, rows bound as JSON."""

from __future__ import annotations

from dataclasses import fields

from sqlalchemy import DateTime, String, func, select, update
from sqlalchemy.dialects.postgresql import insert

from checkout.adapters.orm import checkout_sessions, members
from checkout.domain.checkout import Member
from tollgate_shared.persistence.db import DriverStatement, json_rows

OCCUPANCY_COLUMNS = [*(f.name for f in fields(Member)), "event_at"]


def _save_occupancy() -> DriverStatement:
    given = json_rows("members", "given", [(c, members.c[c].type) for c in OCCUPANCY_COLUMNS])
    held = json_rows(
        "holds",
        "held",
        [("user_id", String()), ("tier_id", String()), ("up_to", DateTime(timezone=True))],
    )
    S = checkout_sessions
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
    return DriverStatement.of(upsert.add_cte(released.cte("released")))


SAVE_OCCUPANCY = _save_occupancy()
"""Members upserted unless a newer event described them (`members`: one JSON parameter of
rows), and in the same statement the paid sessions membership now counts released
(`holds`: user, tier, up to when)."""
