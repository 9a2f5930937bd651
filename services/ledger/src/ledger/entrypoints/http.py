"""The ledger's JSON API: group revenue, payments, refunds, disputes and risk, payouts."""

from __future__ import annotations

import csv
import io
import re
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Header, Query
from fastapi.responses import ORJSONResponse, Response
from pydantic import BaseModel, Field

from ledger.adapters import payout_requests, queries
from ledger.domain.errors import NotFound
from ledger.domain.payouts import Interval
from ledger.entrypoints.deps import (
    LedgerDeps,
    Search,
    Sessions,
    parse_instant,
    require_group,
    visible_groups,
)
from ledger.service_layer import payouts as payout_service
from ledger.service_layer.refunds import RefundRequest, request_refund
from tollgate_shared.auth import AdminUser, CurrentUser, Principal
from tollgate_shared.db import transaction
from tollgate_shared.errors import Forbidden, error_responses
from tollgate_shared.pagination import Cursor
from tollgate_shared.validation import Int64, Text
from tollgate_shared.validation import ShortId as Id

router = APIRouter(tags=["ledger"])

Limit = Annotated[int, Query(ge=1, le=100)]
Currency = Annotated[str, Field(pattern=r"^[a-z]{3}$")]


@router.get("/groups/{group_id}/summary")
async def group_summary(
    group_id: Id,
    principal: CurrentUser,
    sessions: Sessions,
    start: Annotated[str | None, Query(alias="from")] = None,
    end: Annotated[str | None, Query(alias="to")] = None,
) -> dict[str, Any]:
    """Gross, refunds, disputes, fees and net per currency for entries in [from, to)."""
    require_group(principal, group_id)
    since, until = parse_instant(start, "from"), parse_instant(end, "to")
    async with sessions() as session:
        totals = await queries.summary(session, group_id, since, until)
    return {"group_id": group_id, "from": since, "to": until, "totals": totals}


@router.get("/groups/{group_id}/transactions")
async def group_transactions(
    group_id: Id,
    principal: CurrentUser,
    sessions: Sessions,
    limit: Limit = 50,
    cursor: Annotated[Int64 | None, Query(ge=1)] = None,
) -> dict[str, Any]:
    """Ledger transactions with their entries, newest first; pass `next_cursor` for more."""
    require_group(principal, group_id)
    async with sessions() as session:
        page, next_cursor = await queries.transactions_page(
            session, group_id, limit=limit, after_id=cursor
        )
    return {"data": page, "next_cursor": next_cursor}


CSV_COLUMNS = [
    "transaction_id",
    "occurred_at",
    "kind",
    "key",
    "account",
    "currency",
    "amount",
    "charge_id",
    "invoice_id",
    "user_id",
    "tier_id",
    "reference",
]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


def attachment(filename: str) -> str:
    """A `Content-Disposition` offering `filename` for download: in ASCII (other characters as
    `_`) for every client, and exactly, percent-encoded, in `filename*` (RFC 6266)."""
    plain = re.sub(r"[^A-Za-z0-9._-]", "_", filename)
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(filename, safe='')}"


def csv_cell(value: Any) -> Any:
    """A cell a spreadsheet shows as text: a string that would start a formula (a member
    chooses `reference`) is prefixed with `'`; numbers and dates are kept."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


@router.get("/groups/{group_id}/transactions.csv", response_class=Response)
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
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows({key: csv_cell(value) for key, value in row.items()} for row in rows)
    return Response(
        out.getvalue(),
        media_type="text/csv",
        headers={"Content-Disposition": attachment(f"ledger-{group_id}.csv")},
    )


@router.get("/groups/{group_id}/risk")
async def group_risk(
    group_id: Id, principal: CurrentUser, sessions: Sessions, limit: Limit = 50
) -> dict[str, Any]:
    """The group's newest disputes and risk items (early fraud warnings, reviews) with their
    status, `limit` of each; `/disputes?group_id=` and `/risk?group_id=` page through all."""
    require_group(principal, group_id)
    async with sessions() as session:
        disputes, _ = await queries.disputes_list(session, groups=[group_id], limit=limit)
        risk, _ = await queries.risk_list(session, groups=[group_id], limit=limit)
    return {"disputes": disputes, "risk": risk}


@router.get("/users/{user_id}/payments")
async def member_history(
    user_id: Id,
    principal: CurrentUser,
    sessions: Sessions,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """A member's payments (with receipt and invoice links) newest first, and on the first
    page their invoices; pass `next_cursor` for more payments."""
    if principal.user_id != user_id and not principal.is_admin:
        raise Forbidden("you may only see your own payments")
    async with sessions() as session:
        found, next_cursor = await queries.payments_page(
            session, limit=limit, cursor=cursor, user_id=user_id
        )
        invoices = [] if cursor else await queries.invoices_of(session, user_id, limit=limit)
    return {"payments": found, "invoices": invoices, "next_cursor": next_cursor}


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
) -> dict[str, Any]:
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
    return {"data": found, "next_cursor": next_cursor}


@router.get("/payments/{charge_id}", responses=error_responses(404))
async def payment_detail(
    charge_id: Id, principal: CurrentUser, sessions: Sessions
) -> dict[str, Any]:
    """One payment with its ledger transactions, refunds, disputes, risk items and timeline."""
    async with sessions() as session:
        detail = await queries.payment_detail(session, charge_id)
    if detail is None or not principal.can_manage(detail["group_id"]):
        raise NotFound(f"no payment {charge_id}")
    return detail


class RefundBody(BaseModel):
    amount: Int64 | None = Field(default=None, gt=0, description="Minor units; omit for the rest")
    reason: Literal["requested_by_customer", "duplicate", "fraudulent"] | None = None
    note: Text | None = Field(default=None, max_length=500)


@router.post("/payments/{charge_id}/refunds", status_code=202, responses=error_responses(404, 409))
async def refund_payment(
    charge_id: Id,
    body: RefundBody,
    admin: AdminUser,
    deps: LedgerDeps,
    sessions: Sessions,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> dict[str, Any]:
    """Ask Stripe to refund all or part of a payment; it is booked when Stripe confirms."""
    refund = await request_refund(
        deps,
        sessions,
        RefundRequest(
            charge_id=charge_id,
            amount=body.amount,
            reason=body.reason,
            note=body.note,
            requested_by=admin.user_id,
            client_key=idempotency_key,
        ),
    )
    return {
        "refund_id": refund.id,
        "charge_id": charge_id,
        "amount": refund.amount,
        "currency": refund.currency,
        "status": refund.status,
    }


@router.get("/disputes")
async def list_disputes(
    principal: CurrentUser,
    sessions: Sessions,
    group_id: Id | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """Disputes newest first (organizers: their groups); pass `next_cursor` for more."""
    groups = _groups_asked(principal, group_id)
    async with sessions() as session:
        found, next_cursor = await queries.disputes_list(
            session, groups=groups, limit=limit, cursor=cursor
        )
    return {"data": found, "next_cursor": next_cursor}


@router.get("/risk")
async def list_risk(
    principal: CurrentUser,
    sessions: Sessions,
    group_id: Id | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """Early fraud warnings and reviews newest first (organizers: their groups); pass
    `next_cursor` for more."""
    groups = _groups_asked(principal, group_id)
    async with sessions() as session:
        found, next_cursor = await queries.risk_list(
            session, groups=groups, limit=limit, cursor=cursor
        )
    return {"data": found, "next_cursor": next_cursor}


@router.get("/groups/{group_id}/balance")
async def group_balance(
    group_id: Id, currency: Currency, principal: CurrentUser, sessions: Sessions
) -> dict[str, Any]:
    """Payable (net earned - paid out), reserved by pending payout requests, and available."""
    require_group(principal, group_id)
    async with sessions() as session:
        found = await payout_service.balance(session, group_id, currency)
    return {"group_id": group_id, "currency": currency, **found}


class ScheduleBody(BaseModel):
    interval: Interval
    minimum_amount: Int64 = Field(default=0, ge=0)
    currency: Currency
    destination_account: Id | None = None


@router.get("/groups/{group_id}/payout-schedule")
async def get_schedule(group_id: Id, principal: CurrentUser, sessions: Sessions) -> dict[str, Any]:
    """The group's payout schedule (manual until set)."""
    require_group(principal, group_id)
    async with sessions() as session:
        found = await payout_requests.get_schedule(session, group_id)
    return found or {"group_id": group_id, "interval": Interval.MANUAL, "minimum_amount": 0}


@router.put("/groups/{group_id}/payout-schedule")
async def put_schedule(
    group_id: Id, body: ScheduleBody, principal: CurrentUser, sessions: Sessions
) -> dict[str, Any]:
    """Set the schedule; only admins set or change the connected account paid out to."""
    require_group(principal, group_id)
    async with transaction(sessions) as session:
        current = await payout_requests.get_schedule(session, group_id)
        destination = current["destination_account"] if current else None
        if body.destination_account != destination and body.destination_account is not None:
            if not principal.is_admin:
                raise Forbidden("only admins set the connected account")
            destination = body.destination_account
        return await payout_requests.put_schedule(
            session,
            group_id,
            interval=body.interval.value,
            minimum_amount=body.minimum_amount,
            currency=body.currency,
            destination_account=destination,
        )


class PayoutBody(BaseModel):
    amount: Int64 = Field(gt=0)
    currency: Currency


@router.post(
    "/groups/{group_id}/payouts",
    status_code=201,
    responses={200: {"description": "The request an `Idempotency-Key` sent again made"}}
    | error_responses(409),
)
async def request_payout(
    group_id: Id,
    body: PayoutBody,
    principal: CurrentUser,
    sessions: Sessions,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> ORJSONResponse:
    """Request a payout of at most the available balance (409 `insufficient_balance` above);
    an `Idempotency-Key` sent again answers its request (200), or 422 `idempotency_key_reused`
    if the amount or currency differ."""
    require_group(principal, group_id)
    async with transaction(sessions) as session:
        created, new = await payout_service.request_payout(
            session,
            payout_service.PayoutRequest(
                group_id, body.amount, body.currency, principal.user_id, idempotency_key
            ),
        )
    return ORJSONResponse(created, status_code=201 if new else 200)


@router.get("/groups/{group_id}/payouts")
async def list_payouts(
    group_id: Id,
    principal: CurrentUser,
    sessions: Sessions,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """Payout requests and disbursements, newest first; pass `next_cursor` for more."""
    require_group(principal, group_id)
    async with sessions() as session:
        found, next_cursor = await payout_requests.list_for_group(
            session, group_id, limit=limit, cursor=cursor
        )
    return {"data": found, "next_cursor": next_cursor}


@router.post("/payouts/{payout_id}/approve", responses=error_responses(404, 409))
async def approve_payout(
    payout_id: Id, admin: AdminUser, deps: LedgerDeps, sessions: Sessions
) -> dict[str, Any]:
    """Approve a requested payout and transfer it to the group's connected account; 409
    `already_decided` once it is rejected, failed or paid; 503 leaves it approved, to retry."""
    return await payout_service.approve_payout(deps, sessions, payout_id, admin=admin.user_id)


@router.post("/payouts/{payout_id}/reject", responses=error_responses(404, 409))
async def reject_payout(payout_id: Id, admin: AdminUser, sessions: Sessions) -> dict[str, Any]:
    """Turn a requested payout down, releasing what it reserved; 409 `already_decided` once
    another decision was taken."""
    async with transaction(sessions) as session:
        return await payout_service.reject_payout(session, payout_id, admin=admin.user_id)
