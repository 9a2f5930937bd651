"""The ledger's JSON API: group revenue, payments, refunds, disputes and risk, payouts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Header, Query
from fastapi.responses import Response

from ledger.adapters import payout_requests, queries
from ledger.domain.errors import NotFound
from ledger.domain.payouts import Interval, next_due
from ledger.entrypoints.csv_export import CsvResponse, attachment, entries_csv
from ledger.entrypoints.deps import (
    LedgerDeps,
    Search,
    Sessions,
    parse_instant,
    require_group,
    visible_groups,
)
from ledger.entrypoints.schemas import (
    Balance,
    Currency,
    DisputePage,
    GroupRisk,
    MemberHistory,
    PaymentDetail,
    PaymentPage,
    Payout,
    PayoutBody,
    PayoutPage,
    RefundBody,
    RefundRequested,
    RiskPage,
    Schedule,
    ScheduleBody,
    Summary,
    TransactionPage,
)
from ledger.service_layer import payouts as payout_service
from ledger.service_layer.refunds import RefundRequest, request_refund
from tollgate_shared.persistence.db import transaction
from tollgate_shared.persistence.pagination import Cursor
from tollgate_shared.web.auth import AdminUser, CurrentUser, Principal
from tollgate_shared.web.errors import Forbidden, error_responses
from tollgate_shared.web.validation import Int64
from tollgate_shared.web.validation import ShortId as Id

router = APIRouter(tags=["ledger"])

Limit = Annotated[int, Query(ge=1, le=100)]


@router.get("/groups/{group_id}/summary")
async def group_summary(
    group_id: Id,
    principal: CurrentUser,
    sessions: Sessions,
    start: Annotated[str | None, Query(alias="from")] = None,
    end: Annotated[str | None, Query(alias="to")] = None,
) -> Summary:
    """Gross, refunds, disputes, fees and net per currency for entries in [from, to)."""
    require_group(principal, group_id)
    since, until = parse_instant(start, "from"), parse_instant(end, "to")
    async with sessions() as session:
        totals = await queries.summary(session, group_id, since, until)
    return Summary.model_validate(
        {"group_id": group_id, "from": since, "to": until, "totals": totals}
    )


@router.get("/groups/{group_id}/transactions")
async def group_transactions(
    group_id: Id,
    principal: CurrentUser,
    sessions: Sessions,
    limit: Limit = 50,
    cursor: Annotated[Int64 | None, Query(ge=1)] = None,
) -> TransactionPage:
    """Ledger transactions with their entries, newest first; pass `next_cursor` for more."""
    require_group(principal, group_id)
    async with sessions() as session:
        page, next_cursor = await queries.transactions_page(
            session, group_id, limit=limit, after_id=cursor
        )
    return TransactionPage.model_validate({"data": page, "next_cursor": next_cursor})


@router.get("/groups/{group_id}/transactions.csv", response_class=CsvResponse)
async def export_transactions(
    group_id: Id,
    principal: CurrentUser,
    sessions: Sessions,
    start: Annotated[str | None, Query(alias="from")] = None,
    end: Annotated[str | None, Query(alias="to")] = None,
) -> Response:
    """Every ledger entry of the group in [from, to) as CSV (amounts in minor units)."""
    require_group(principal, group_id)
    async with sessions() as session:
        rows = await queries.export_rows(
            session, group_id, parse_instant(start, "from"), parse_instant(end, "to")
        )
    return CsvResponse(
        entries_csv(rows), headers={"Content-Disposition": attachment(f"ledger-{group_id}.csv")}
    )


@router.get("/groups/{group_id}/risk")
async def group_risk(
    group_id: Id, principal: CurrentUser, sessions: Sessions, limit: Limit = 50
) -> GroupRisk:
    """The group's newest disputes and risk items (early fraud warnings, reviews) with their
    status, `limit` of each; `/disputes?group_id=` and `/risk?group_id=` page through all."""
    require_group(principal, group_id)
    async with sessions() as session:
        disputes, _ = await queries.disputes_list(session, groups=[group_id], limit=limit)
        risk, _ = await queries.risk_list(session, groups=[group_id], limit=limit)
    return GroupRisk.model_validate({"disputes": disputes, "risk": risk})


@router.get("/users/{user_id}/payments")
async def member_history(
    user_id: Id,
    principal: CurrentUser,
    sessions: Sessions,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> MemberHistory:
    """A member's payments (with receipt and invoice links) newest first, and on the first
    page their invoices; pass `next_cursor` for more payments."""
    if principal.user_id != user_id and not principal.is_admin:
        raise Forbidden("you may only see your own payments")
    async with sessions() as session:
        found, next_cursor = await queries.payments_page(
            session, limit=limit, cursor=cursor, user_id=user_id
        )
        invoices = [] if cursor else await queries.invoices_of(session, user_id, limit=limit)
    return MemberHistory.model_validate(
        {"payments": found, "invoices": invoices, "next_cursor": next_cursor}
    )


def _groups_asked(principal: Principal, group_id: str | None) -> list[str] | None:
    """The groups a list shows: `group_id` if given (and managed), else all the caller sees."""
    if group_id is None:
        return visible_groups(principal)
    require_group(principal, group_id)
    return [group_id]


@router.get("/payments")
async def list_payments(
    principal: CurrentUser,
    sessions: Sessions,
    q: Search = None,
    group_id: Id | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> PaymentPage:
    """Payments newest first; `q` searches charge/intent/invoice ids, email, user and group;
    pass `next_cursor` (with the same `q` and `group_id`) for more."""
    async with sessions() as session:
        found, next_cursor = await queries.payments_page(
            session,
            limit=limit,
            cursor=cursor,
            groups=_groups_asked(principal, group_id),
            search=q,
        )
    return PaymentPage.model_validate({"data": found, "next_cursor": next_cursor})


@router.get("/payments/{charge_id}", responses=error_responses(404))
async def payment_detail(
    charge_id: Id, principal: CurrentUser, sessions: Sessions
) -> PaymentDetail:
    """One payment with its ledger transactions, refunds, disputes, risk items and timeline."""
    async with sessions() as session:
        detail = await queries.payment_detail(session, charge_id)
    if detail is None or not principal.can_manage(detail["group_id"]):
        raise NotFound(f"no payment {charge_id}")
    return PaymentDetail.model_validate(detail)


@router.post("/payments/{charge_id}/refunds", status_code=202, responses=error_responses(404, 409))
async def refund_payment(
    charge_id: Id,
    body: RefundBody,
    admin: AdminUser,
    deps: LedgerDeps,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> RefundRequested:
    """Ask Stripe to refund all or part of a payment; it is booked when Stripe confirms."""
    refund = await request_refund(
        deps,
        RefundRequest(
            charge_id=charge_id,
            amount=body.amount,
            reason=body.reason,
            note=body.note,
            requested_by=admin.user_id,
            client_key=idempotency_key,
        ),
    )
    return RefundRequested(
        refund_id=refund.id,
        charge_id=charge_id,
        amount=refund.amount,
        currency=refund.currency,
        status=refund.status,
    )


@router.get("/disputes")
async def list_disputes(
    principal: CurrentUser,
    sessions: Sessions,
    group_id: Id | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> DisputePage:
    """Disputes newest first (organizers: their groups); pass `next_cursor` for more."""
    groups = _groups_asked(principal, group_id)
    async with sessions() as session:
        found, next_cursor = await queries.disputes_list(
            session, groups=groups, limit=limit, cursor=cursor
        )
    return DisputePage.model_validate({"data": found, "next_cursor": next_cursor})


@router.get("/risk")
async def list_risk(
    principal: CurrentUser,
    sessions: Sessions,
    group_id: Id | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> RiskPage:
    """Early fraud warnings and reviews newest first (organizers: their groups); pass
    `next_cursor` for more."""
    groups = _groups_asked(principal, group_id)
    async with sessions() as session:
        found, next_cursor = await queries.risk_list(
            session, groups=groups, limit=limit, cursor=cursor
        )
    return RiskPage.model_validate({"data": found, "next_cursor": next_cursor})


@router.get("/groups/{group_id}/balance")
async def group_balance(
    group_id: Id, currency: Currency, principal: CurrentUser, deps: LedgerDeps
) -> Balance:
    """Payable (net earned - paid out), reserved by pending payout requests, and available."""
    require_group(principal, group_id)
    async with deps.uow() as uow:
        found = await payout_service.balance(uow, group_id, currency)
    return Balance(group_id=group_id, currency=currency, **found)


# Until a schedule is set, the manual default has no currency, account or time of change.
@router.get("/groups/{group_id}/payout-schedule", response_model_exclude_unset=True)
async def get_schedule(group_id: Id, principal: CurrentUser, sessions: Sessions) -> Schedule:
    """The group's payout schedule (manual until set)."""
    require_group(principal, group_id)
    async with sessions() as session:
        found = await payout_requests.get_schedule(session, group_id)
    if found is None:
        return Schedule(group_id=group_id, interval=Interval.MANUAL, minimum_amount=0)
    return Schedule.model_validate(found)


@router.put("/groups/{group_id}/payout-schedule")
async def put_schedule(
    group_id: Id, body: ScheduleBody, principal: CurrentUser, sessions: Sessions
) -> Schedule:
    """Set the schedule; only admins set or change the connected account paid out to. A new
    interval is first due at the start of its next period; the same one keeps its due date."""
    require_group(principal, group_id)
    async with transaction(sessions) as session:
        current = await payout_requests.get_schedule(session, group_id)
        destination = current["destination_account"] if current else None
        kept = current if current and current["interval"] == body.interval.value else None
        due = kept["next_due_at"] if kept else next_due(body.interval, datetime.now(UTC))
        if body.destination_account != destination and body.destination_account is not None:
            if not principal.is_admin:
                raise Forbidden("only admins set the connected account")
            destination = body.destination_account
        saved = await payout_requests.put_schedule(
            session,
            group_id,
            interval=body.interval.value,
            minimum_amount=body.minimum_amount,
            currency=body.currency,
            destination_account=destination,
            next_due_at=due,
        )
    return Schedule.model_validate(saved)


@router.post(
    "/groups/{group_id}/payouts",
    status_code=201,
    responses={
        200: {"model": Payout, "description": "The request an `Idempotency-Key` sent again made"},
        **error_responses(409),
    },
)
async def request_payout(
    group_id: Id,
    body: PayoutBody,
    principal: CurrentUser,
    deps: LedgerDeps,
    response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> Payout:
    """Request a payout of at most the available balance (409 `insufficient_balance` above);
    an `Idempotency-Key` sent again answers its request (200), or 422 `idempotency_key_reused`
    if the amount or currency differ."""
    require_group(principal, group_id)
    created, new = await payout_service.request_payout(
        deps,
        payout_service.PayoutRequest(
            group_id, body.amount, body.currency, principal.user_id, idempotency_key
        ),
    )
    response.status_code = 201 if new else 200
    return Payout.model_validate(created)


@router.get("/groups/{group_id}/payouts")
async def list_payouts(
    group_id: Id,
    principal: CurrentUser,
    sessions: Sessions,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> PayoutPage:
    """Payout requests and disbursements, newest first; pass `next_cursor` for more."""
    require_group(principal, group_id)
    async with sessions() as session:
        found, next_cursor = await payout_requests.list_for_group(
            session, group_id, limit=limit, cursor=cursor
        )
    return PayoutPage.model_validate({"data": found, "next_cursor": next_cursor})


@router.post("/payouts/{payout_id}/approve", responses=error_responses(404, 409))
async def approve_payout(payout_id: Id, admin: AdminUser, deps: LedgerDeps) -> Payout:
    """Approve a requested payout and transfer it to the group's connected account; 409
    `already_decided` once it is rejected, failed or paid; 503 leaves it approved, to retry."""
    approved = await payout_service.approve_payout(deps, payout_id, admin=admin.user_id)
    return Payout.model_validate(approved)


@router.post("/payouts/{payout_id}/reject", responses=error_responses(404, 409))
async def reject_payout(payout_id: Id, admin: AdminUser, deps: LedgerDeps) -> Payout:
    """Turn a requested payout down, releasing what it reserved; 409 `already_decided` once
    another decision was taken."""
    rejected = await payout_service.reject_payout(deps, payout_id, admin=admin.user_id)
    return Payout.model_validate(rejected)
