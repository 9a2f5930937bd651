"""A member's invoices: every paid one-time purchase and every subscription invoice, listed
from Stripe, each with its PDF."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import RedirectResponse

from checkout.entrypoints.dependencies import ContextDep
from checkout.entrypoints.schemas import InvoicesOut
from checkout.service_layer import invoices
from tollgate_shared.web.auth import CurrentUser
from tollgate_shared.web.errors import error_responses
from tollgate_shared.web.validation import ShortId as Id

router = APIRouter(tags=["invoices"])


@router.get(
    "/billing/{user_id}/invoices",
    response_model=InvoicesOut,
    responses=error_responses(403, 502),
)
async def member_invoices(
    ctx: ContextDep,
    user: CurrentUser,
    user_id: Id,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    starting_after: Annotated[Id | None, Query()] = None,
) -> InvoicesOut:
    """The member's invoices at Stripe, newest first (the member and admins; organizers read
    the ledger): `limit` per page, `starting_after` = the previous page's `next_cursor`."""
    page = await invoices.member_invoices(
        ctx, user, user_id, limit=limit, starting_after=starting_after
    )
    return InvoicesOut.of(page)


@router.get(
    "/billing/{user_id}/invoices/{invoice_id}/pdf",
    response_class=RedirectResponse,
    status_code=307,
    responses={
        307: {"description": "to the invoice's PDF at Stripe (`Location`)"},
        **error_responses(403, 404, 409, 502),
    },
)
async def invoice_pdf(
    ctx: ContextDep, user: CurrentUser, user_id: Id, invoice_id: Id
) -> RedirectResponse:
    """Redirect to the PDF of one of the member's invoices: 404 for an invoice that is not the
    member's (whether or not it exists), 409 for a draft."""
    url = await invoices.invoice_pdf_url(ctx, user, user_id, invoice_id)
    return RedirectResponse(url, status_code=307)
