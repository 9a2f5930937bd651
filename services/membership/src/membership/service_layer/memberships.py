"""Recompute a membership from its sources, announce what changed, answer the gate."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from membership.adapters import repository
from membership.domain import rules
from membership.domain.announcements import announce
from membership.domain.model import Entitlement, MembershipKey
from membership.service_layer.unit_of_work import MembershipUnitOfWork


async def reconcile(
    uow: MembershipUnitOfWork,
    key: MembershipKey,
    *,
    grace: timedelta,
    now: datetime,
    cause: str,
    causation_id: str | None = None,
    state: repository.MemberState | None = None,
) -> Entitlement:
    """Recompute `key`'s membership, emit the events its change announces, store it; from
    `state` when the caller has just read it under the member's lock, else read now."""
    await uow.memberships.lock(key)
    found, before, email = state or await uow.memberships.member_state(key)
    after = rules.entitlement(key, found, grace=grace, now=now, email=email)
    events = announce(before, after, cause=cause, causation_id=causation_id)
    await uow.memberships.save_membership(after, announcing=events)
    return after


async def entitlements(
    session: AsyncSession,
    user_id: str,
    *,
    grace: timedelta,
    now: datetime,
    group_id: str | None = None,
) -> list[Entitlement]:
    """A user's memberships computed from their sources at `now` (one group, or every group)."""
    found = await repository.sources(session, user_id=user_id, group_id=group_id)
    return [
        rules.entitlement(MembershipKey(user_id, group), sources, grace=grace, now=now)
        for group, sources in sorted(found.items())
    ]
