"""A group's settings: its display name, contact and policies (organizers and admins)."""

from __future__ import annotations

from fastapi import APIRouter

from checkout.entrypoints.catalog_schemas import GroupSettingsIn, GroupSettingsOut
from checkout.entrypoints.dependencies import ContextDep
from checkout.service_layer import groups
from tollgate_shared.web.auth import CurrentUser
from tollgate_shared.web.validation import ShortId as Id

router = APIRouter(tags=["groups"])


@router.get("/groups/{group_id}/settings", response_model=GroupSettingsOut)
async def get_settings(ctx: ContextDep, user: CurrentUser, group_id: Id) -> GroupSettingsOut:
    """The group's settings: the defaults (named by its id) until someone sets them."""
    return GroupSettingsOut.of(await groups.settings_of(ctx, user, group_id))


@router.put("/groups/{group_id}/settings", response_model=GroupSettingsOut)
async def put_settings(
    ctx: ContextDep, user: CurrentUser, group_id: Id, body: GroupSettingsIn
) -> GroupSettingsOut:
    """Set the group's settings (the fields sent; the others keep their value). Each change is
    announced as `checkout.group.settings_changed` with the next revision; only admins change
    `payout_auto_approve_below` (403 `admin_only_setting`)."""
    return GroupSettingsOut.of(await groups.change_settings(ctx, user, group_id, body.changes()))
