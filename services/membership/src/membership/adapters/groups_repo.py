"""What membership keeps of checkout's announcements: each group's policy (proration, what a
one-time term does to a subscription) and each tier's capacity, newest revision first."""

from __future__ import annotations

import dataclasses

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from membership.adapters import orm
from membership.domain.model import GroupPolicy
from tollgate_shared.persistence.unit_of_work import UnitOfWork


async def policy(session: AsyncSession, group_id: str) -> GroupPolicy | None:
    """The group's policy as checkout last announced it (None: never announced)."""
    t = orm.group_settings
    row = (
        await session.execute(
            select(t.c.proration_behavior, t.c.one_time_switch).where(t.c.group_id == group_id)
        )
    ).first()
    return GroupPolicy(row.proration_behavior, row.one_time_switch) if row else None


async def tier_room(session: AsyncSession, tier_id: str) -> int | None:
    """How many more members the tier takes (its capacity as checkout announced it, less its
    active members); None for a tier without a limit."""
    t, m = orm.tiers, orm.memberships
    capacity = await session.scalar(select(t.c.capacity).where(t.c.tier_id == tier_id))
    if capacity is None:
        return None
    taken = await session.scalar(
        select(func.count()).select_from(m).where(m.c.tier_id == tier_id, m.c.active)
    )
    return int(capacity) - int(taken or 0)


class Groups:
    """Groups' policies and tiers' capacities as one unit of work reads and writes them."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def apply_policy(self, group_id: str, revision: int, policy: GroupPolicy) -> bool:
        """Keep the group's policy of `revision` unless a newer one is stored; False if not
        kept (late or repeated)."""
        t = orm.group_settings
        values = {"group_id": group_id, "revision": revision, **dataclasses.asdict(policy)}
        stmt = insert(t).values(values)
        done = await self._uow.session.execute(
            stmt.on_conflict_do_update(
                index_elements=[t.c.group_id],
                set_={**{k: stmt.excluded[k] for k in values}, "updated_at": func.now()},
                where=t.c.revision < stmt.excluded.revision,
            ).returning(t.c.group_id)
        )
        return done.first() is not None

    async def apply_tier(
        self, tier_id: str, group_id: str, revision: int, capacity: int | None
    ) -> bool:
        """Keep the tier's capacity of `revision` unless a newer one is stored."""
        t = orm.tiers
        values = {
            "tier_id": tier_id,
            "group_id": group_id,
            "revision": revision,
            "capacity": capacity,
        }
        stmt = insert(t).values(values)
        done = await self._uow.session.execute(
            stmt.on_conflict_do_update(
                index_elements=[t.c.tier_id],
                set_={**{k: stmt.excluded[k] for k in values}, "updated_at": func.now()},
                where=t.c.revision < stmt.excluded.revision,
            ).returning(t.c.tier_id)
        )
        return done.first() is not None

    async def policy(self, group_id: str) -> GroupPolicy | None:
        """The group's policy as checkout last announced it (None: never announced)."""
        return await policy(self._uow.session, group_id)
