"""Group settings: read and set in one place, each change announced whole."""

from __future__ import annotations

from typing import Any

from checkout.adapters import groups_repo
from checkout.domain.settings import GroupSettings
from checkout.service_layer.context import Context, ensure_manager
from tollgate_shared.web.auth import Principal


async def settings_of(ctx: Context, principal: Principal, group_id: str) -> GroupSettings:
    """The group's settings (the defaults until someone sets them)."""
    ensure_manager(principal, group_id)
    async with ctx.sessions() as session:
        return await groups_repo.get(session, group_id)


async def change_settings(
    ctx: Context, principal: Principal, group_id: str, values: dict[str, Any]
) -> GroupSettings:
    """Apply `values` (the fields the caller sent); a change is stored with the next revision
    and announced as `GroupSettingsChanged` in the same transaction, no change announces
    nothing."""
    ensure_manager(principal, group_id)
    async with ctx.uow() as uow:
        current = await uow.groups.get_for_update(group_id)
        changed = current.with_changes(values, by_admin=principal.is_admin)
        if changed is None:
            return current
        await uow.groups.save(changed)
        uow.emit(changed.event())
        await uow.commit()
    return changed
