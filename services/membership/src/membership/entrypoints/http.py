"""Membership's HTTP API: the membership gate, organizers' member lists, admin grants."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request

from membership.adapters import repository
from membership.config import Settings
from membership.domain.legacy import LegacyMember
from membership.domain.model import Grant, MembershipKey
from membership.entrypoints.dependencies import UnitOfWorkDep
from membership.entrypoints.gate import answer, reads_all_groups
from membership.entrypoints.schemas import (
    BulkGrantIn,
    BulkGrantOut,
    EntitlementsOut,
    GateOut,
    GrantIn,
    GrantOut,
    MemberOut,
    MembershipOut,
    MembersPage,
)
from membership.service_layer import grants
from membership.service_layer.memberships import entitlements
from tollgate_shared.persistence.pagination import Cursor
from tollgate_shared.web.auth import AdminUser, CurrentUser
from tollgate_shared.web.database import SessionDep
from tollgate_shared.web.errors import Forbidden, error_responses
from tollgate_shared.web.validation import Id, Offset

router = APIRouter(tags=["membership"])

MAX_PAGE = 200


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _now() -> datetime:
    return datetime.now(UTC)


@router.get("/entitlements/{user_id}")
async def list_entitlements(
    user_id: Id, principal: CurrentUser, session: SessionDep, request: Request
) -> EntitlementsOut:
    """A user's memberships in every group (organizers see the groups they manage)."""
    everything = reads_all_groups(principal, user_id)
    if not everything and "organizer" not in principal.roles:
        raise Forbidden("you may read only your own entitlements")
    found = await entitlements(session, user_id, grace=_settings(request).grace, now=_now())
    visible = [e for e in found if everything or principal.can_manage(e.key.group_id)]
    return EntitlementsOut(user_id=user_id, memberships=[MembershipOut.of(e) for e in visible])


@router.get("/entitlements/{user_id}/groups/{group_id}")
async def gate(user_id: Id, group_id: Id, principal: CurrentUser, request: Request) -> GateOut:
    """The membership gate: is the user an active member of the group, and at which tier?
    (Mostly answered by `gate.GateFastPath` before the app's middleware: see `gate`.)"""
    return await answer(request.app.state, principal, user_id, group_id)


@router.get("/groups/{group_id}/members")
async def list_members(
    group_id: Id,
    principal: CurrentUser,
    session: SessionDep,
    active: bool | None = None,
    tier_id: Id | None = None,
    source: Annotated[str | None, Query(pattern="^(subscription|one_time|grant)$")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    offset: Offset = 0,
    cursor: Cursor = None,
) -> MembersPage:
    """A group's members by user id, filtered by `active`, `tier_id`, `source`; with active
    counts per tier. Page with `cursor` (`next_cursor` of the previous page, with the same
    filters: every member once, whoever joins meanwhile) or `offset`."""
    if not principal.can_manage(group_id):
        raise Forbidden("only the group's organizers and admins may list its members")
    rows, next_cursor, total, counts = await repository.members(
        session,
        group_id=group_id,
        active=active,
        tier_id=tier_id,
        source=source,
        limit=limit,
        offset=offset,
        cursor=cursor,
    )
    items = [
        MemberOut(
            user_id=r.user_id,
            email=r.email,
            tier_id=r.tier_id,
            source=r.source,
            status=r.status,
            active=r.active_now,
            expires_at=r.expires_at,
        )
        for r in rows
    ]
    return MembersPage(
        items=items,
        total=total,
        limit=limit,
        offset=offset,
        next_cursor=next_cursor,
        active_per_tier=counts,
    )


@router.put("/groups/{group_id}/grants/{user_id}")
async def put_grant(
    group_id: Id,
    user_id: Id,
    body: GrantIn,
    admin: AdminUser,
    uow: UnitOfWorkDep,
    request: Request,
) -> GrantOut:
    """Grant (or change) a complimentary or legacy membership; repeating it changes nothing."""
    new = Grant(
        user_id=user_id,
        group_id=group_id,
        tier_id=body.tier_id,
        kind=body.kind,
        expires_at=body.expires_at,
        reason=body.reason,
        email=body.email,
        grace_months=body.grace_months,
    )
    await grants.grant(
        uow, new, granted_by=admin.user_id, grace=_settings(request).grace, now=_now()
    )
    await uow.commit()
    return GrantOut.of(new)


@router.delete("/groups/{group_id}/grants/{user_id}", responses=error_responses(404))
async def revoke_grant(
    group_id: Id, user_id: Id, admin: AdminUser, uow: UnitOfWorkDep, request: Request
) -> GrantOut:
    """Revoke a grant (access ends now); revoking it again answers the same."""
    revoked = await grants.revoke(
        uow,
        MembershipKey(user_id, group_id),
        revoked_by=admin.user_id,
        grace=_settings(request).grace,
        now=_now(),
    )
    await uow.commit()
    return GrantOut.of(revoked)


@router.post("/groups/{group_id}/grants/bulk")
async def bulk_grant(
    group_id: Id, body: BulkGrantIn, admin: AdminUser, uow: UnitOfWorkDep, request: Request
) -> BulkGrantOut:
    """Grant legacy memberships to members of an older system, at most `cap` of them (the
    longest-standing first): by the grace rule — `months` (6 by default) from each member's
    first sign-in, capped at `cutoff` (a past cut-off is 422) — or until a fixed `expires_at`
    to those who joined by `cutoff`. The same request repeated grants the same members and
    nothing more (a first sign-in already seen stays)."""
    grace_months = body.grace_months
    ends = body.expires_at or body.cutoff
    assert ends is not None  # the body's validator asks for one of them
    template = Grant(
        user_id="",
        group_id=group_id,
        tier_id=body.tier_id,
        kind="legacy",
        expires_at=ends,
        reason=body.reason,
        grace_months=grace_months,
    )
    members = [LegacyMember(m.user_id, m.email, m.member_since) for m in body.members]
    result = await grants.bulk_grant(
        uow,
        template,
        members,
        cutoff=body.cutoff if grace_months is None else None,
        cap=body.cap,
        granted_by=admin.user_id,
        grace=_settings(request).grace,
        now=_now(),
    )
    await uow.commit()
    return BulkGrantOut(granted=result.granted, skipped=result.skipped)
