"""Payments: the list and its search, one payment's story, and refunds typed in the currency's
units, confirmed on a page of their own before Stripe is asked, their status shown as Stripe's
events bring it."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ledger.adapters import queries
from ledger.domain.errors import LedgerError
from ledger.domain.payments import refund_reason
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
from ledger.entrypoints.deps import LedgerDeps, Search, Sessions
from ledger.entrypoints.errors import status_of
from ledger.service_layer.refunds import RefundRequest, request_refund
from tollgate_shared.money import minor_units
from tollgate_shared.persistence.pagination import Cursor
from tollgate_shared.web.validation import ShortId as Id
from tollgate_shared.web.validation import Text

router = APIRouter()


@router.get("/payments", response_class=HTMLResponse)
async def payments(
    request: Request,
    sessions: Sessions,
    q: Search = None,
    group: Id | None = None,
    cursor: Cursor = None,
) -> Response:
    session = await staff(request)
    if group is not None and not session.principal.can_manage(group):
        raise Missing(f"group {group}")
    async with sessions() as db:
        found, next_cursor = await queries.payments_page(
            db,
            limit=PAGE,
            cursor=cursor,
            groups=[group] if group else session.groups,
            search=q,
        )
    return await page(
        request,
        "payments.html",
        session,
        groups=[group] if group else [p["group_id"] for p in found],
        payments=found,
        q=q or "",
        group=group or "",
        next_cursor=next_cursor,
    )


async def _payment(sessions: Sessions, session: ConsoleSession, charge_id: str) -> dict[str, Any]:
    async with sessions() as db:
        detail = await queries.payment_detail(db, charge_id)
    if detail is None or not session.principal.can_manage(detail["group_id"]):
        raise Missing(f"payment {charge_id}")
    return detail


async def _detail_page(
    request: Request, session: ConsoleSession, detail: dict[str, Any], **context: Any
) -> Response:
    requested = context.pop("requested", None)
    listed = {r["refund_id"] for r in detail["refunds"]}
    # While a refund is pending at Stripe (or not yet confirmed by its event) the page reloads
    # itself now and then, to show its status once Stripe's event has arrived.
    waiting = (requested is not None and requested not in listed) or any(
        r["status"] in ("pending", "requires_action") for r in detail["refunds"]
    )
    return await page(
        request,
        "payment.html",
        session,
        groups=[detail["group_id"]],
        p=detail,
        form_token=uuid.uuid4().hex,
        requested=requested,
        waiting=waiting,
        **context,
    )


@router.get("/payments/{charge_id}", response_class=HTMLResponse)
async def payment(
    request: Request, charge_id: Id, sessions: Sessions, refund: Id | None = None
) -> Response:
    session = await staff(request)
    detail = await _payment(sessions, session, charge_id)
    return await _detail_page(request, session, detail, requested=refund, error=None)


@router.post("/payments/{charge_id}/refund")
async def refund(
    request: Request,
    charge_id: Id,
    deps: LedgerDeps,
    sessions: Sessions,
    form_token: Annotated[Id, Form(max_length=64)],
    csrf_token: CsrfField = "",
    amount: Annotated[str, Form(max_length=40)] = "",
    reason: Annotated[str, Form(max_length=64)] = "",
    note: Annotated[Text, Form(max_length=500)] = "",
    confirm: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """A refund of `amount` in the payment's currency units (empty: what is left) asks for
    confirmation (the same form again with `confirm=yes`) before it is sent to Stripe."""
    session = await staff(request)
    check_form(request, session.token, csrf_token)
    detail = await _payment(sessions, session, charge_id)
    left = detail["amount"] - detail["refunded"]
    if not session.principal.is_admin:
        return await _detail_page(
            request, session, detail, status_code=403, error="Only admins can refund."
        )
    error, cents = None, left
    if reason and refund_reason(reason) is None:
        error = "Unknown reason."
    elif amount.strip():
        try:
            cents = minor_units(amount, detail["currency"])
        except ValueError as exc:
            error = str(exc)
    if error is None and cents > left:
        error = "That is more than is left to refund."
    if error is not None:
        return await _detail_page(
            request, session, detail, status_code=422, error=error, amount=amount
        )
    if confirm != "yes":
        return await page(
            request,
            "refund_confirm.html",
            session,
            p=detail,
            amount=amount.strip(),
            refund_amount=cents,
            reason=reason,
            note=note,
            form_token=form_token,
        )
    try:
        made = await request_refund(
            deps,
            RefundRequest(
                charge_id=charge_id,
                amount=cents if amount.strip() else None,
                reason=refund_reason(reason),
                note=note or None,
                requested_by=session.principal.user_id,
                client_key=form_token,
            ),
        )
    except LedgerError as exc:
        return await _detail_page(
            request, session, detail, status_code=status_of(exc), error=str(exc)
        )
    return RedirectResponse(f"{PREFIX}/payments/{charge_id}?refund={made.id}", status_code=303)
