"""Members manage their own memberships; the group's organizers and admins may act for them."""

from __future__ import annotations

from fastapi import APIRouter, Request

from membership.domain.model import MembershipKey
from membership.entrypoints.self_service_schemas import (
    CancelIn,
    CancelOut,
    MemberMembershipOut,
    MemberMembershipsOut,
    PauseIn,
    RefundOut,
    SwitchIn,
    SwitchOut,
    SwitchPreviewOut,
)
from membership.service_layer.self_service import SelfService
from tollgate_shared.web.auth import CurrentUser, Principal
from tollgate_shared.web.database import SessionDep
from tollgate_shared.web.errors import Forbidden, error_responses
from tollgate_shared.web.validation import Id

router = APIRouter(tags=["self-service"])

CHANGES = error_responses(403, 404, 409, 502, 503)
"""Not allowed; no membership; no running subscription; Stripe refused or did not answer."""


def _self_service(request: Request) -> SelfService:
    service: SelfService = request.app.state.deps.self_service
    return service


def _may_act(principal: Principal, user_id: str, group_id: str) -> None:
    if principal.user_id != user_id and not principal.can_manage(group_id):
        raise Forbidden("only the member, the group's organizers and admins may do this")


@router.get("/members/{user_id}/memberships")
async def memberships(
    user_id: Id, principal: CurrentUser, session: SessionDep, request: Request
) -> MemberMembershipsOut:
    """The member's memberships in every group: tier, status, period end, what renews and at
    what price, credits, and what can be done next (organizers see the groups they manage,
    and get 403 for a user who holds none of them)."""
    if principal.user_id != user_id and not {"admin", "organizer"} & set(principal.roles):
        raise Forbidden("you may read only your own memberships")
    views = await _self_service(request).memberships(session, user_id)
    everything = principal.user_id == user_id or principal.is_admin
    visible = [v for v in views if everything or principal.can_manage(v.entitlement.key.group_id)]
    if not everything and not visible:
        raise Forbidden("the member holds no membership of a group you organize")
    return MemberMembershipsOut(
        user_id=user_id, memberships=[MemberMembershipOut.of(v) for v in visible]
    )


@router.get("/members/{user_id}/memberships/{group_id}", responses=error_responses(403, 404))
async def membership(
    user_id: Id, group_id: Id, principal: CurrentUser, session: SessionDep, request: Request
) -> MemberMembershipOut:
    """One group's membership, as in the list."""
    _may_act(principal, user_id, group_id)
    view = await _self_service(request).membership(session, MembershipKey(user_id, group_id))
    return MemberMembershipOut.of(view)


@router.post("/members/{user_id}/memberships/{group_id}/cancel", responses=CHANGES)
async def cancel(
    user_id: Id,
    group_id: Id,
    principal: CurrentUser,
    session: SessionDep,
    request: Request,
    body: CancelIn | None = None,
) -> CancelOut:
    """End the membership at its period end (the default: access lasts until then), or now
    (`at_period_end: false`, organizers and admins only) with an optional prorated refund of
    the last payment's unused part. Asking again answers the same and changes nothing."""
    _may_act(principal, user_id, group_id)
    wanted = body or CancelIn()
    key, service = MembershipKey(user_id, group_id), _self_service(request)
    if wanted.at_period_end:
        view = await service.end_at_period_end(session, key)
        return CancelOut(**MemberMembershipOut.of(view).model_dump())
    if not principal.can_manage(group_id):
        raise Forbidden("only the group's organizers and admins may end a membership now")
    view, refunded = await service.cancel_now(
        session, key, refund=wanted.refund == "prorated", by=principal.user_id
    )
    refund = (
        RefundOut(refund_id=refunded.id, amount=refunded.amount, currency=refunded.currency)
        if refunded
        else None
    )
    return CancelOut(**MemberMembershipOut.of(view).model_dump(), refund=refund)


@router.post("/members/{user_id}/memberships/{group_id}/resume", responses=CHANGES)
async def resume(
    user_id: Id, group_id: Id, principal: CurrentUser, session: SessionDep, request: Request
) -> MemberMembershipOut:
    """Take back an end at period end before the period ends, and a pause of payment
    collection: the subscription renews again. After a renewal a member's pause left unpaid,
    the period restarts now and is charged at once. Resuming a renewing one answers the same
    and changes nothing."""
    _may_act(principal, user_id, group_id)
    view = await _self_service(request).resume(session, MembershipKey(user_id, group_id))
    return MemberMembershipOut.of(view)


@router.post("/members/{user_id}/memberships/{group_id}/pause", responses=CHANGES)
async def pause(
    user_id: Id,
    group_id: Id,
    principal: CurrentUser,
    session: SessionDep,
    request: Request,
    body: PauseIn | None = None,
) -> MemberMembershipOut:
    """Pause the subscription's payment collection, where the group's organizers allow it
    (403 `pause_not_allowed` otherwise; they and admins may always). The subscription stays
    on; renewals while paused are not charged (`void`) and access lasts until the paid
    period ends; `resumes_at` resumes it by itself, `POST …/resume` at once. Organizers and
    admins may instead give a grace that keeps access (`mark_uncollectible`, `keep_as_draft`).
    Asking again for the same changes nothing."""
    _may_act(principal, user_id, group_id)
    wanted = body or PauseIn()
    manager = principal.can_manage(group_id)
    if wanted.behavior != "void" and not manager:
        raise Forbidden("only the group's organizers and admins may pause with access kept")
    view = await _self_service(request).pause(
        session,
        MembershipKey(user_id, group_id),
        wanted.behavior,
        wanted.resumes_at,
        by_organizer=manager,
    )
    return MemberMembershipOut.of(view)


@router.get(
    "/members/{user_id}/memberships/{group_id}/switch-preview",
    responses=error_responses(403, 404, 409, 502, 503),
)
async def switch_preview(
    user_id: Id,
    group_id: Id,
    tier_id: Id,
    principal: CurrentUser,
    session: SessionDep,
    request: Request,
) -> SwitchPreviewOut:
    """What switching to `tier_id` costs: paid now and at the next renewal, from Stripe's
    invoice preview with the service's proration setting."""
    _may_act(principal, user_id, group_id)
    plan = await _self_service(request).switch_preview(
        session, MembershipKey(user_id, group_id), tier_id, segment=principal.segment
    )
    return SwitchPreviewOut.of(plan)


@router.post("/members/{user_id}/memberships/{group_id}/switch", responses=CHANGES)
async def switch(
    user_id: Id,
    group_id: Id,
    body: SwitchIn,
    principal: CurrentUser,
    session: SessionDep,
    request: Request,
) -> SwitchOut:
    """Switch the subscription to another tier of the group in place: its price changes now,
    prorated by the group's setting, and the tier's credits per cycle go with it. Billed now
    (`always_invoice`), the switch waits for its payment when the card asks for 3-D Secure or
    declines: the answer still shows the current tier, with `switch_status: "requires_payment"`
    and the invoice's `client_secret` for Stripe.js to confirm; once paid, Stripe applies the
    switch. Another group's tier is 403 `foreign_tier`; a one-time or other-interval tier 409
    `tier_not_switchable` (buy it through checkout). Repeating it changes nothing."""
    _may_act(principal, user_id, group_id)
    view, switched = await _self_service(request).switch(
        session, MembershipKey(user_id, group_id), body.tier_id, segment=principal.segment
    )
    return SwitchOut.of(view, switched)
