"""Occupancy: who holds a seat on which tier, as membership last said, queued in a unit of
work and written before it commits in one statement.

Under load a fetch of membership events is applied in one transaction, and a statement per
event was the checkout consumer's main cost. Reports are queued instead: per member only the
newest is kept (what applying them one by one would have left), and per user and tier the
latest time up to which their paid sessions stop holding a seat.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from checkout.adapters.seats import SEATS_HELD
from checkout.adapters.statements import SAVE_OCCUPANCY
from checkout.domain.checkout import Member
from tollgate_shared.persistence.db import json_param
from tollgate_shared.persistence.unit_of_work import Deferred, UnitOfWork


@dataclass
class Occupancy:
    """The membership reports of one transaction, reduced to what they leave behind."""

    members: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    """The newest report per (user, group); of two as new, the later one."""
    holds: dict[tuple[str, str], datetime] = field(default_factory=dict)
    """Per (user, tier): their paid sessions created up to this time stop holding a seat."""

    def report(self, member: Member, *, event_at: datetime, release_holds: bool) -> None:
        """Queue what membership said about `member` at `event_at`; with `release_holds`,
        membership now counts the user on the tier, so their paid sessions of it created up
        to `event_at` no longer hold a seat."""
        key = (member.user_id, member.group_id)
        known = self.members.get(key)
        if known is None or known["event_at"] <= event_at:
            self.members[key] = {**vars(member), "event_at": event_at}
        if release_holds and member.tier_id is not None:
            held = (member.user_id, member.tier_id)
            self.holds[held] = max(event_at, self.holds.get(held, event_at))


async def write(uow: UnitOfWork, occupancy: Occupancy) -> None:
    """Upsert the members unless a newer event already described them (out-of-order safe)
    and, in the same statement, release the paid sessions membership now counts; the tiers
    with a capacity whose seat holds this changes are announced (`SEATS_HELD`)."""
    if not occupancy.members:
        return
    holds = [
        {"user_id": user_id, "tier_id": tier_id, "up_to": at}
        for (user_id, tier_id), at in occupancy.holds.items()
    ]
    params = {"members": json_param(list(occupancy.members.values())), "holds": json_param(holds)}
    changed = await uow.execute(SAVE_OCCUPANCY, params)
    if changed:
        uow.deferred(SEATS_HELD).update(row["tier_id"] for row in changed)


OCCUPANCY = Deferred(Occupancy, write)
"""The occupancy reports of a unit of work (`uow.deferred(OCCUPANCY).report(...)`)."""
