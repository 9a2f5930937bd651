"""Groups' settings and tiers as checkout announces them: what membership applies of them."""

from __future__ import annotations

from membership.domain.model import GroupPolicy
from membership.service_layer.unit_of_work import MembershipUnitOfWork
from tollgate_shared.contracts.checkout import (
    CatalogEntryChanged,
    GroupSettingsChanged,
    TierSeatsHeld,
)


async def on_settings_changed(uow: MembershipUnitOfWork, event: GroupSettingsChanged) -> None:
    """Keep the group's proration, one-time switch and pause policy if the event is the
    newest."""
    policy = GroupPolicy(event.proration_behavior, event.one_time_switch, event.allow_pause)
    await uow.groups.apply_policy(event.group_id, event.revision, policy)


async def on_entry_changed(uow: MembershipUnitOfWork, event: CatalogEntryChanged) -> None:
    """Keep a tier's capacity if the event is the newest (items are not memberships)."""
    if event.entry_kind == "tier":
        await uow.groups.apply_tier(event.entry_id, event.group_id, event.revision, event.capacity)


async def on_seats_held(uow: MembershipUnitOfWork, event: TierSeatsHeld) -> None:
    """Keep the seats checkout's unpaid checkouts hold on a tier if the event is the newest."""
    await uow.groups.apply_holds(event)
