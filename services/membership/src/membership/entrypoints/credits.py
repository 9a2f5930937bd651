"""Membership credits: spend them (idempotently) and read their history."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Request

from membership.adapters import credits_repo
from membership.domain.credits import SpendRequest
from membership.domain.errors import InsufficientCredits
from membership.domain.model import MembershipKey
from membership.entrypoints.dependencies import UnitOfWorkDep
from membership.entrypoints.schemas import (
    CreditEntryOut,
    CreditHistoryPage,
    SpendIn,
    SpendOut,
)
from membership.service_layer import credits
from tollgate_shared.web.auth import CurrentUser, Principal
from tollgate_shared.web.database import SessionDep
from tollgate_shared.web.errors import Forbidden, error_responses
from tollgate_shared.web.validation import Id

router = APIRouter(tags=["credits"])

MAX_PAGE = 200
KIND_PATTERN = r"^[a-z0-9_-]{1,40}$"
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)]


def _acts_for(principal: Principal, user_id: str) -> bool:
    return principal.user_id == user_id or principal.is_admin or "service" in principal.roles


@router.post(
    "/entitlements/{user_id}/groups/{group_id}/credits/{kind}/spend",
    responses=error_responses(409, 422),  # not a member, or too few credits; key reused
)
async def spend_credits(
    user_id: Id,
    group_id: Id,
    kind: Annotated[str, Path(pattern=KIND_PATTERN)],
    body: SpendIn,
    principal: CurrentUser,
    uow: UnitOfWorkDep,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> SpendOut:
    """Spend credits of an active member; the same `Idempotency-Key` (default: the reference)
    gets the same answer; 409 `insufficient_credits` when the balance is short."""
    if not _acts_for(principal, user_id):
        raise Forbidden("you may spend only your own credits")
    key = MembershipKey(user_id, group_id)
    wanted = SpendRequest(kind=kind, amount=body.amount, reference=body.reference)
    outcome = await credits.spend(
        uow,
        key,
        wanted,
        idempotency_key=idempotency_key or f"reference:{body.reference}",
        grace=request.app.state.settings.grace,
        now=datetime.now(UTC),
    )
    await uow.commit()  # a refused spend is answered the same way again
    if not outcome.spent:
        raise InsufficientCredits(kind, body.amount, outcome.balance)
    return SpendOut.of(key, outcome)


@router.get("/entitlements/{user_id}/groups/{group_id}/credits/history")
async def credit_history(
    user_id: Id,
    group_id: Id,
    principal: CurrentUser,
    session: SessionDep,
    kind: Annotated[str | None, Query(pattern=KIND_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    # an entry id: at most 18 digits, so that it fits a bigint
    cursor: Annotated[str | None, Query(pattern=r"^\d{1,18}$")] = None,
) -> CreditHistoryPage:
    """Allocations, expiries and spends of a member's credits, newest first."""
    if not (_acts_for(principal, user_id) or principal.can_manage(group_id)):
        raise Forbidden("you may read only your own credits or your groups' members'")
    rows = await credits_repo.history(
        session,
        MembershipKey(user_id, group_id),
        kind=kind,
        before=int(cursor) if cursor else None,
        limit=limit + 1,
    )
    items = [CreditEntryOut.model_validate(r._mapping) for r in rows[:limit]]
    next_cursor = str(items[-1].id) if len(rows) > limit else None
    return CreditHistoryPage(items=items, next_cursor=next_cursor)
