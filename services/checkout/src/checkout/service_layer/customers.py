"""The caller's Stripe customer and billing portal."""

from __future__ import annotations

from checkout.adapters import sessions_repo
from checkout.domain.checkout import check_redirect
from checkout.domain.errors import NotFound
from checkout.service_layer.context import Context
from tollgate_shared.auth import Principal
from tollgate_shared.db import transaction


async def customer_for(ctx: Context, principal: Principal) -> str:
    """The caller's Stripe customer, created once."""
    async with ctx.sessions() as session:
        known = await sessions_repo.customer_id(session, principal.user_id)
    if known is not None:
        return known
    created = await ctx.payments.create_customer(principal.user_id, principal.email)
    async with transaction(ctx.sessions) as session:
        await sessions_repo.save_customer(session, principal.user_id, created)
        saved = await sessions_repo.customer_id(session, principal.user_id)
    return saved or created


async def billing_portal(
    ctx: Context, principal: Principal, return_url: str | None
) -> dict[str, str]:
    """A Stripe billing portal session for the caller's own customer."""
    stripe = ctx.payments
    url = check_redirect(return_url or ctx.settings.portal_return_url, ctx.settings.allowed_origins)
    async with ctx.sessions() as session:
        customer = await sessions_repo.customer_id(session, principal.user_id)
    if customer is None:
        raise NotFound("you have no billing account yet", code="no_billing_account")
    return {"url": await stripe.portal_url(customer, url)}
