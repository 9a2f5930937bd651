"""Admin grants: complimentary and legacy memberships with an expiry."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from membership.domain.errors import GrantNotFound
from membership.domain.legacy import BulkResult, LegacyMember, choose_legacy
from membership.domain.model import Entitlement, Grant, MembershipKey
from membership.service_layer.memberships import reconcile
from membership.service_layer.unit_of_work import MembershipUnitOfWork


def _cause(grant: Grant) -> str:
    ends = grant.ends_at.isoformat()
    return f"grant:{grant.tier_id}:{ends}:{grant.grace_months}:{grant.revoked_at is not None}"


async def grant(
    uow: MembershipUnitOfWork, new: Grant, *, granted_by: str, grace: timedelta, now: datetime
) -> Entitlement:
    """Create or replace a user's grant in a group (a repeat of the same grant changes nothing)."""
    key = MembershipKey(new.user_id, new.group_id)
    await uow.memberships.lock(key)
    if new.grace_months is not None:  # the first sign-in stays what it was
        found = await uow.memberships.sources(key)
        seen = found.grant.first_seen_at if found and found.grant else None
        new = replace(new, first_seen_at=seen)
    await uow.memberships.save_grant(new, granted_by=granted_by)
    return await reconcile(uow, key, grace=grace, now=now, cause=_cause(new))


async def revoke(
    uow: MembershipUnitOfWork,
    key: MembershipKey,
    *,
    revoked_by: str,
    grace: timedelta,
    now: datetime,
) -> Grant:
    """Revoke a user's grant in a group; revoking a revoked grant changes nothing."""
    await uow.memberships.lock(key)
    found = await uow.memberships.sources(key)
    if found is None or found.grant is None:
        raise GrantNotFound(f"no grant for {key.user_id} in {key.group_id}")
    if found.grant.revoked_at is not None:
        return found.grant
    revoked = replace(found.grant, revoked_at=now)
    await uow.memberships.save_grant(revoked, granted_by=revoked_by)
    await reconcile(uow, key, grace=grace, now=now, cause=_cause(revoked))
    return revoked


async def bulk_grant(
    uow: MembershipUnitOfWork,
    template: Grant,
    members: Sequence[LegacyMember],
    *,
    cutoff: datetime | None,
    cap: int,
    granted_by: str,
    grace: timedelta,
    now: datetime,
) -> BulkResult:
    """Grant `template` (its tier, kind and expiry) to the legacy members `choose_legacy` picks."""
    chosen = choose_legacy(members, cutoff=cutoff, cap=cap)
    emails = {m.user_id: m.email for m in members}
    for user_id in chosen.granted:
        one = replace(template, user_id=user_id, email=emails[user_id])
        await grant(uow, one, granted_by=granted_by, grace=grace, now=now)
    return chosen


async def first_sign_in(
    uow: MembershipUnitOfWork, key: MembershipKey, *, grace: timedelta, now: datetime
) -> bool:
    """Record the member's first sign-in (`now`) on a grant under the grace rule, once, and
    recompute the membership: its end becomes the months from now, capped at the cut-off."""
    await uow.memberships.lock(key)
    if not await uow.memberships.note_first_sign_in(key, now):
        return False
    await reconcile(uow, key, grace=grace, now=now, cause=f"first-sign-in:{now.isoformat()}")
    return True
