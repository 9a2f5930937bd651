"""A group's payouts: its balances, its schedule, requests (made in the currency's units) and
their history; admins approve or reject a request on a confirmation page, through the same
service functions as the JSON API."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ledger.adapters import groups as group_settings
from ledger.adapters import payout_requests, queries
from ledger.domain.errors import LedgerError
from ledger.entrypoints.console.groups import visible_group
from ledger.entrypoints.console.pages import (
    PAGE,
    PREFIX,
    ConsoleSession,
    CsrfField,
    Missing,
    check_form,
    page,
    staff,
)
from ledger.entrypoints.deps import LedgerDeps, Sessions
from ledger.entrypoints.errors import status_of
from ledger.entrypoints.schemas import Currency
from ledger.service_layer import payouts as payout_service
from tollgate_shared.money import minor_units
from tollgate_shared.persistence.pagination import Cursor
from tollgate_shared.web.validation import ShortId as Id

router = APIRouter()

Decision = Literal["approve", "reject"]


async def _payouts_page(
    request: Request,
    session: ConsoleSession,
    deps: LedgerDeps,
    sessions: Sessions,
    group_id: str,
    *,
    cursor: str | None = None,
    status_code: int = 200,
    **context: Any,
) -> Response:
    async with sessions() as db:
        totals = await queries.summary(db, group_id, None, None)
        schedule = await payout_requests.get_schedule(db, group_id)
        thresholds = await group_settings.thresholds_of(db, group_id)
        found, next_cursor = await payout_requests.list_for_group(
            db, group_id, limit=PAGE, cursor=cursor
        )
    currencies = {t["currency"] for t in totals} | ({schedule["currency"]} if schedule else set())
    balances = []
    async with deps.uow() as uow:
        for currency in sorted(currencies):
            found_balance = await payout_service.balance(uow, group_id, currency)
            balances.append({"currency": currency, **found_balance})
    return await page(
        request,
        "payouts.html",
        session,
        status_code=status_code,
        group_id=group_id,
        tab="payouts",
        balances=balances,
        schedule=schedule,
        thresholds=thresholds,
        payouts=found,
        next_cursor=next_cursor,
        form_token=uuid.uuid4().hex,
        **context,
    )


@router.get("/groups/{group_id}/payouts", response_class=HTMLResponse)
async def payouts(
    request: Request,
    group_id: Id,
    deps: LedgerDeps,
    sessions: Sessions,
    cursor: Cursor = None,
    done: Literal["requested", "approve", "reject"] | None = None,
) -> Response:
    """Balances, schedule, the request form and every request, newest first."""
    session = await staff(request)
    await visible_group(sessions, session, group_id)
    notice = {
        "requested": "Payout requested: an admin approves it before any money moves.",
        "approve": "Approved: the transfer was sent to the connected account.",
        "reject": "Rejected: its money is available again.",
    }.get(done or "")
    return await _payouts_page(
        request, session, deps, sessions, group_id, cursor=cursor, notice=notice
    )


@router.post("/groups/{group_id}/payouts")
async def request_payout(
    request: Request,
    group_id: Id,
    deps: LedgerDeps,
    sessions: Sessions,
    currency: Annotated[Currency, Form()],
    form_token: Annotated[Id, Form(max_length=64)],
    amount: Annotated[str, Form(max_length=40)] = "",
    csrf_token: CsrfField = "",
) -> Response:
    """Request a payout of `amount` (in the currency's units) from the available balance;
    the form's token makes a resubmission answer the same request."""
    session = await staff(request)
    check_form(request, session.token, csrf_token)
    await visible_group(sessions, session, group_id)
    try:
        cents = minor_units(amount, currency)
        await payout_service.request_payout(
            deps,
            payout_service.PayoutRequest(
                group_id, cents, currency, session.principal.user_id, f"console:{form_token}"
            ),
        )
    except ValueError as exc:
        return await _payouts_page(
            request, session, deps, sessions, group_id, status_code=422, error=str(exc)
        )
    except LedgerError as exc:
        return await _payouts_page(
            request, session, deps, sessions, group_id, status_code=status_of(exc), error=str(exc)
        )
    return RedirectResponse(f"{PREFIX}/groups/{group_id}/payouts?done=requested", status_code=303)


@router.post("/payouts/{payout_id}/{decision}")
async def decide(
    request: Request,
    payout_id: Id,
    decision: Decision,
    deps: LedgerDeps,
    sessions: Sessions,
    csrf_token: CsrfField = "",
    confirm: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """Approve or reject a request (admins): first a confirmation page, then (`confirm=yes`)
    the decision, taken as the JSON API takes it."""
    session = await staff(request)
    check_form(request, session.token, csrf_token)
    async with deps.uow() as uow:
        found = await uow.payouts.get(payout_id)
    if found is None or not session.principal.can_manage(found["group_id"]):
        raise Missing(f"payout request {payout_id}")
    group_id = found["group_id"]
    if not session.principal.is_admin:
        return await _payouts_page(
            request,
            session,
            deps,
            sessions,
            group_id,
            status_code=403,
            error="Only admins approve or reject payouts.",
        )
    if confirm != "yes":
        async with sessions() as db:
            schedule = await payout_requests.get_schedule(db, group_id)
        return await page(
            request,
            "payout_confirm.html",
            session,
            groups=[group_id],
            r=found,
            decision=decision,
            schedule=schedule,
        )
    try:
        if decision == "approve":
            await payout_service.approve_payout(deps, payout_id, admin=session.principal.user_id)
        else:
            await payout_service.reject_payout(deps, payout_id, admin=session.principal.user_id)
    except LedgerError as exc:
        return await _payouts_page(
            request, session, deps, sessions, group_id, status_code=status_of(exc), error=str(exc)
        )
    return RedirectResponse(f"{PREFIX}/groups/{group_id}/payouts?done={decision}", status_code=303)
