"""What checkout announces of each group (its name, its payout auto-approval thresholds), kept
as of the highest revision seen."""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ledger.adapters import orm
from tollgate_shared.persistence.unit_of_work import UnitOfWork

g = orm.group_settings


async def names(session: AsyncSession, group_ids: Collection[str]) -> dict[str, str]:
    """The names of those of `group_ids` that checkout named."""
    if not group_ids:
        return {}
    rows = await session.execute(select(g.c.group_id, g.c.name).where(g.c.group_id.in_(group_ids)))
    return {group_id: name for group_id, name in rows}


async def thresholds_of(session: AsyncSession, group_id: str) -> dict[str, int]:
    """Per currency, the amount below which the group's scheduled payouts need no admin (the
    currencies with a positive one)."""
    found = await session.scalar(
        select(g.c.payout_auto_approve_below).where(g.c.group_id == group_id)
    )
    return {currency: int(amount) for currency, amount in (found or {}).items() if amount > 0}


class AbstractGroups(Protocol):
    async def apply(
        self, *, group_id: str, name: str, thresholds: dict[str, int], revision: int
    ) -> bool: ...
    async def thresholds(self, group_id: str) -> dict[str, int]: ...


class Groups:
    """The `group_settings` table in one transaction."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def apply(
        self, *, group_id: str, name: str, thresholds: dict[str, int], revision: int
    ) -> bool:
        """Keep the group's settings of `revision` unless a revision as high is kept already
        (a late or repeated announcement changes nothing); whether they were kept."""
        values = {"name": name, "payout_auto_approve_below": thresholds, "revision": revision}
        stmt = insert(g).values(group_id=group_id, **values)
        kept = await self._uow.session.scalar(
            stmt.on_conflict_do_update(
                index_elements=[g.c.group_id],
                set_={**values, "updated_at": func.now()},
                where=g.c.revision < stmt.excluded.revision,
            ).returning(g.c.group_id)
        )
        return kept is not None

    async def thresholds(self, group_id: str) -> dict[str, int]:
        """Per currency, the amount below which the group's scheduled payouts need no admin."""
        return await thresholds_of(self._uow.session, group_id)
