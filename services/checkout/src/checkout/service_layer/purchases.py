"""Purchase commands: claim a paid purchase once, and pay in-app through a PaymentIntent."""

from __future__ import annotations

from typing import Any

from checkout.domain.catalog import Item
from checkout.domain.errors import Conflict, NotAllowed, NotFound, PaymentRequired
from checkout.service_layer import catalog, handlers
from checkout.service_layer.context import Context
from checkout.service_layer.customers import customer_for
from tollgate_shared.contracts.checkout import PurchaseClaimed
from tollgate_shared.infra.stripe_client import idempotency_key
from tollgate_shared.web.auth import Principal


async def claim_purchase(
    ctx: Context, principal: Principal, stripe_session_id: str, reference: str | None
) -> dict[str, Any]:
    """Hand a paid purchase to the buyer's app exactly once, as Stripe confirms it."""
    stripe = ctx.payments
    async with ctx.uow() as uow:
        record = await uow.checkouts.get_by_stripe_id(stripe_session_id)
    if record is None or record.purpose != "purchase":
        raise NotFound(f"no purchase with session {stripe_session_id}")
    record.ensure_claimable_by(principal.user_id, reference)
    live = await stripe.retrieve_session(stripe_session_id)
    if live.client_reference_id != principal.user_id:
        raise NotAllowed("this purchase belongs to another user")
    if live.payment_status != "paid":
        raise PaymentRequired("the purchase is not paid yet")
    async with ctx.uow() as uow:
        locked = await uow.checkouts.get(record.id, lock=True)
        assert locked is not None
        await handlers.record_paid(uow, locked, live, causation_id=None)
        if not await uow.checkouts.claim(record.id):
            raise Conflict("this purchase was already claimed", code="already_claimed")
        uow.emit(
            PurchaseClaimed(
                id=handlers.event_id("checkout.purchase.claimed", stripe_session_id),
                **handlers.purchase_fields(locked, live),
            )
        )
        await uow.commit()
    return {
        "session_id": stripe_session_id,
        "reference": record.reference,
        "item_id": record.item_id,
        "amount": live.amount_total,
        "currency": live.currency,
        "claimed": True,
    }


async def create_payment_intent(
    ctx: Context, principal: Principal, item_id: str, reference: str, header_key: str | None
) -> dict[str, Any]:
    """A PaymentIntent for an app's own card form, at the item's price (once per request)."""
    stripe = ctx.payments
    item = await catalog.load(ctx, Item, item_id)
    item.ensure_sellable()
    metadata = {
        "user_id": principal.user_id,
        "group_id": item.group_id,
        "purpose": "purchase",
        "item_id": item.id,
        "reference": reference,
    }
    params = {
        "amount": item.amount,
        "currency": item.currency,
        "customer": await customer_for(ctx, principal),
        "description": item.name,
        "metadata": metadata,
        "automatic_payment_methods": {"enabled": True},
    }
    key = idempotency_key(
        "payment-intent", principal.user_id, item.id, str(item.version), reference, header_key or ""
    )
    intent = await stripe.create_payment_intent(params, key)
    return {
        "payment_intent_id": intent.id,
        "client_secret": intent.client_secret,
        "amount": intent.amount,
        "currency": intent.currency,
    }
