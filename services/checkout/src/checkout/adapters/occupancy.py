"""Occupancy: who holds a seat on which tier, as membership last said, written at once or
queued during a consumer's transaction and written at its end in one statement.

Under load a fetch of membership events is applied in one transaction, and a statement per
event was the checkout consumer's main cost. Inside `deferred(session)` the reports are
queued instead: per member only the newest is kept (what applying them one by one would have
left), and per user and tier the latest time up to which their paid sessions stop holding a
seat. Outside the block, `report` writes at once through the same statement.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, String, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from checkout.adapters.orm import checkout_sessions, members
from checkout.domain.checkout import Member
from tollgate_shared.db import Deferred, DriverStatement, json_param, json_rows

_COLUMNS = [*(f.name for f in fields(Member)), "event_at"]


@dataclass
class Occupancy:
    """The membership reports of one transaction, reduced to what they leave behind."""

    members: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    """The newest report per (user, group); of two as new, the later one."""
    holds: dict[tuple[str, str], datetime] = field(default_factory=dict)
    """Per (user, tier): their paid sessions created up to this time stop holding a seat."""

    def report(self, member: Member, *, event_at: datetime, release_holds: bool) -> None:
        """Queue what membership said about `member` at `event_at`."""
        key = (member.user_id, member.group_id)
        known = self.members.get(key)
        if known is None or known["event_at"] <= event_at:
            self.members[key] = {**vars(member), "event_at": event_at}
        if release_holds and member.tier_id is not None:
            held = (member.user_id, member.tier_id)
            self.holds[held] = max(event_at, self.holds.get(held, event_at))


def _save_all() -> DriverStatement:
    given = json_rows("members", "given", [(c, members.c[c].type) for c in _COLUMNS])
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
    rows = select(*[given.c[c] for c in _COLUMNS]).order_by(given.c.user_id, given.c.group_id)
    stmt = insert(members).from_select(_COLUMNS, rows)
    upsert = stmt.on_conflict_do_update(
        index_elements=["user_id", "group_id"],
        set_={c: stmt.excluded[c] for c in _COLUMNS if c not in ("user_id", "group_id")},
        where=members.c.event_at <= stmt.excluded.event_at,
    )
    return DriverStatement.of(upsert.add_cte(released.cte("released")))


# Built once, the rows bound as one JSON parameter per table.
_SAVE_ALL = _save_all()


async def write(session: AsyncSession, occupancy: Occupancy) -> None:
    """Upsert the members unless a newer event already described them (out-of-order safe)
    and, in the same statement, release the paid sessions membership now counts."""
    if not occupancy.members:
        return
    holds = [
        {"user_id": user_id, "tier_id": tier_id, "up_to": at}
        for (user_id, tier_id), at in occupancy.holds.items()
    ]
    params = {"members": json_param(list(occupancy.members.values())), "holds": json_param(holds)}
    await _SAVE_ALL.run(session, params)


_DEFERRED = Deferred("checkout.occupancy", Occupancy, write)
deferred = _DEFERRED.block
"""Queue the block's reports; write them when it ends without an error."""


async def report(
    session: AsyncSession, member: Member, *, event_at: datetime, release_holds: bool
) -> None:
    """Record what membership said about `member` at `event_at`; with `release_holds`,
    membership now counts the user on the tier, so their paid sessions of it created up to
    `event_at` no longer hold a seat. Queued inside `deferred`, else written at once."""
    queue = _DEFERRED.queue(session)
    if queue is not None:
        queue.report(member, event_at=event_at, release_holds=release_holds)
        return
    single = Occupancy()
    single.report(member, event_at=event_at, release_holds=release_holds)
    await write(session, single)
