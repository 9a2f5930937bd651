"""Recompute a membership from its sources, announce what changed, answer the gate."""

from __future__ import annotations

from datetime import datetime, timedelta

from prometheus_client import Counter, Gauge
from sqlalchemy.ext.asyncio import AsyncSession

from membership.adapters import repository
from membership.domain import rules
from membership.domain.announcements import announce
from membership.domain.model import Entitlement, MembershipKey
from membership.service_layer.unit_of_work import MembershipUnitOfWork

MEMBERSHIP_CHANGES = Counter(
    "tollgate_membership_changes_total",
    "Membership changes announced, once each, by type (membership.activated, .renewed, "
    ".tier_changed, .past_due, .canceled, .expired, .revoked)",
    ["type"],
)
MEMBERSHIPS_ACTIVE = Gauge(
    "tollgate_memberships_active",
    "Memberships active as last announced (refreshed by the sweeper); churn over a period is "
    "the memberships that ended in it over this",
)


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
    for event in events:
        uow.after_commit(MEMBERSHIP_CHANGES.labels(event.type).inc)
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
