"""A member's invoices, read from Stripe: listed newest first, and each one's PDF. Only the
member and admins read them (organizers have the ledger)."""

from __future__ import annotations

from checkout.adapters.payments import InvoicePage
from checkout.domain.errors import Conflict, NotAllowed, NotFound
from checkout.service_layer.context import Context
from tollgate_shared.web.auth import Principal


def _ensure_readable(principal: Principal, user_id: str) -> None:
    if principal.user_id != user_id and not principal.is_admin:
        raise NotAllowed("only the member and admins may read a member's invoices")


async def _customer_of(ctx: Context, user_id: str) -> str | None:
    async with ctx.uow() as uow:
        return await uow.checkouts.customer_id(user_id)


async def member_invoices(
    ctx: Context, principal: Principal, user_id: str, *, limit: int, starting_after: str | None
) -> InvoicePage:
    """A page of the invoices of the member's Stripe customer (none without one)."""
    _ensure_readable(principal, user_id)
    customer = await _customer_of(ctx, user_id)
    if customer is None:
        return InvoicePage(invoices=[], has_more=False)
    return await ctx.payments.list_invoices(customer, limit=limit, starting_after=starting_after)


async def invoice_pdf_url(ctx: Context, principal: Principal, user_id: str, invoice_id: str) -> str:
    """Where Stripe serves the PDF of one of the member's invoices; another customer's invoice
    is as unknown as one that does not exist."""
    _ensure_readable(principal, user_id)
    customer = await _customer_of(ctx, user_id)
    invoice = await ctx.payments.retrieve_invoice(invoice_id) if customer else None
    if invoice is None or invoice.customer != customer:
        raise NotFound(f"the member has no invoice {invoice_id}", code="invoice_not_found")
    if invoice.invoice_pdf is None:
        raise Conflict("the invoice is still a draft: it has no PDF yet", code="invoice_draft")
    return invoice.invoice_pdf
