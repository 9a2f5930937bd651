"""Groups' settings as checkout announces them: what membership applies of them."""

from __future__ import annotations

from membership.domain.model import GroupPolicy
from membership.service_layer.unit_of_work import MembershipUnitOfWork
from tollgate_shared.contracts.checkout import GroupSettingsChanged


async def on_settings_changed(uow: MembershipUnitOfWork, event: GroupSettingsChanged) -> None:
    """Keep the group's proration and one-time switch policy if the event is the newest."""
    policy = GroupPolicy(event.proration_behavior, event.one_time_switch)
    await uow.memberships.apply_group_policy(event.group_id, event.revision, policy)
