"""The caller's Stripe customer and billing portal."""

from __future__ import annotations

from checkout.domain.checkout import check_redirect
from checkout.domain.errors import NotFound
from checkout.service_layer.context import Context
from tollgate_shared.web.auth import Principal


async def customer_for(ctx: Context, principal: Principal) -> str:
    """The caller's Stripe customer, created once."""
    async with ctx.uow() as uow:
        known = await uow.checkouts.customer_id(principal.user_id)
    if known is not None:
        return known
    created = await ctx.payments.create_customer(principal.user_id, principal.email)
    async with ctx.uow() as uow:
        await uow.checkouts.save_customer(principal.user_id, created)
        saved = await uow.checkouts.customer_id(principal.user_id)
        await uow.commit()
    return saved or created


async def billing_portal(
    ctx: Context, principal: Principal, return_url: str | None
) -> dict[str, str]:
    """A Stripe billing portal session for the caller's own customer."""
    stripe = ctx.payments
    url = check_redirect(return_url or ctx.settings.portal_return_url, ctx.settings.allowed_origins)
    async with ctx.uow() as uow:
        customer = await uow.checkouts.customer_id(principal.user_id)
    if customer is None:
        raise NotFound("you have no billing account yet", code="no_billing_account")
    return {"url": await stripe.portal_url(customer, url)}
