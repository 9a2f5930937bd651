"""What membership keeps of checkout's announcements: each group's policy (proration, what a
one-time term does to a subscription, pausing) and each tier's capacity and held seats, newest
revision first."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Table, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from membership.adapters import orm
from membership.domain.model import GroupPolicy
from tollgate_shared.contracts.checkout import TierSeatsHeld
from tollgate_shared.persistence.unit_of_work import UnitOfWork


async def policies(session: AsyncSession, group_ids: Iterable[str]) -> dict[str, GroupPolicy]:
    """The groups' policies as checkout last announced them (a group never announced is
    missing)."""
    t = orm.group_settings
    rows = await session.execute(
        select(t.c.group_id, t.c.proration_behavior, t.c.one_time_switch, t.c.allow_pause).where(
            t.c.group_id.in_(list(group_ids))
        )
    )
    return {row.group_id: GroupPolicy(*row[1:]) for row in rows}


async def policy(session: AsyncSession, group_id: str) -> GroupPolicy | None:
    """The group's policy as checkout last announced it (None: never announced)."""
    return (await policies(session, [group_id])).get(group_id)


async def tier_room(session: AsyncSession, tier_id: str, *, now: datetime) -> int | None:
    """How many more members the tier takes: its capacity as checkout announced it, less its
    active members and the seats checkout's unpaid checkouts hold (until they lapse); None for
    a tier without a limit."""
    t, m = orm.tiers, orm.memberships
    row = (
        await session.execute(
            select(t.c.capacity, t.c.held, t.c.held_until).where(t.c.tier_id == tier_id)
        )
    ).first()
    if row is None or row.capacity is None:
        return None
    taken = await session.scalar(
        select(func.count()).select_from(m).where(m.c.tier_id == tier_id, m.c.active)
    )
    held = row.held if row.held_until is not None and row.held_until > now else 0
    return int(row.capacity) - int(taken or 0) - held


class Groups:
    """Groups' policies and tiers' capacities as one unit of work reads and writes them."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def _keep_newest(
        self, table: Table, values: dict[str, Any], revision: str, kept: Iterable[str]
    ) -> bool:
        """Insert the row, or update its `kept` columns if its `revision` is newer than the
        stored one's; False when not kept (late or repeated)."""
        key = table.primary_key.columns[0]
        stmt = insert(table).values(values)
        done = await self._uow.session.execute(
            stmt.on_conflict_do_update(
                index_elements=[key],
                set_={**{k: stmt.excluded[k] for k in kept}, "updated_at": func.now()},
                where=table.c[revision] < stmt.excluded[revision],
            ).returning(key)
        )
        return done.first() is not None

    async def apply_policy(self, group_id: str, revision: int, policy: GroupPolicy) -> bool:
        """Keep the group's policy of `revision` unless a newer one is stored."""
        values = {"group_id": group_id, "revision": revision, **dataclasses.asdict(policy)}
        return await self._keep_newest(orm.group_settings, values, "revision", values)

    async def apply_tier(
        self, tier_id: str, group_id: str, revision: int, capacity: int | None
    ) -> bool:
        """Keep the tier's capacity of `revision` unless a newer one is stored."""
        values = {"tier_id": tier_id, "group_id": group_id, "revision": revision}
        values["capacity"] = capacity
        return await self._keep_newest(orm.tiers, values, "revision", values)

    async def apply_holds(self, event: TierSeatsHeld) -> bool:
        """Keep the seats held on the tier as of the event's revision unless a newer count is
        stored (a tier checkout has not described yet is kept without a capacity)."""
        held = {"held": event.held, "held_until": event.held_until}
        values = {"tier_id": event.tier_id, "group_id": event.group_id, "revision": 0}
        values |= {"holds_revision": event.revision, **held}
        return await self._keep_newest(
            orm.tiers, values, "holds_revision", [*held, "holds_revision"]
        )

    async def policy(self, group_id: str) -> GroupPolicy | None:
        """The group's policy as checkout last announced it (None: never announced)."""
        return await policy(self._uow.session, group_id)
