"""Group settings in the database."""

from __future__ import annotations

import dataclasses

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from checkout.adapters.catalog_repo import to_entity
from checkout.adapters.orm import group_settings
from checkout.domain.settings import GroupSettings
from tollgate_shared.persistence.unit_of_work import UnitOfWork


async def get(session: AsyncSession, group_id: str) -> GroupSettings:
    """The group's settings, or the defaults of a group nobody has set up."""
    query = select(group_settings).where(group_settings.c.group_id == group_id)
    row = (await session.execute(query)).first()
    return to_entity(GroupSettings, row) if row else GroupSettings.defaults(group_id)


class Groups:
    """Groups' settings, in a unit of work."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def get_for_update(self, group_id: str) -> GroupSettings:
        """The group's settings, changes of them serialized until the transaction ends (also
        for a group without a row yet)."""
        await self._uow.lock(f"settings:{group_id}")
        return await get(self._uow.session, group_id)

    async def save(self, settings: GroupSettings) -> None:
        """Write the settings as they are now."""
        values = dataclasses.asdict(settings)
        changed = {k: v for k, v in values.items() if k != "group_id"}
        await self._uow.session.execute(
            insert(group_settings)
            .values(**values)
            .on_conflict_do_update(
                index_elements=["group_id"], set_={**changed, "updated_at": func.now()}
            )
        )
