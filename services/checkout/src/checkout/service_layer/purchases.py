"""Purchase claims: a paid purchase is handed to the buyer's app exactly once."""

from __future__ import annotations

from typing import Any

from checkout.domain.errors import Conflict, NotAllowed, NotFound, PaymentRequired
from checkout.domain.events import event_id
from checkout.service_layer import handlers
from checkout.service_layer.context import Context
from tollgate_shared.contracts.checkout import PurchaseClaimed
from tollgate_shared.web.auth import Principal


async def claim_purchase(
    ctx: Context, principal: Principal, stripe_id: str, reference: str | None
) -> dict[str, Any]:
    """Hand a paid purchase to the buyer's app exactly once, as Stripe confirms it. `stripe_id`
    is its Checkout Session, or for the app's own card form its PaymentIntent."""
    stripe = ctx.payments
    async with ctx.uow() as uow:
        record = await uow.checkouts.get_by_stripe_id(stripe_id)
    if record is None or record.purpose != "purchase":
        raise NotFound(f"no purchase {stripe_id}")
    record.ensure_claimable_by(principal.user_id, reference)
    live = await stripe.retrieve_payment(record)
    if live.owner != principal.user_id:
        raise NotAllowed("this purchase belongs to another user")
    if not live.paid:
        raise PaymentRequired(f"the purchase is not paid yet (Stripe's status: {live.status})")
    async with ctx.uow() as uow:
        locked = await uow.checkouts.get(record.id, lock=True)
        assert locked is not None
        await handlers.record_paid(uow, locked, live, causation_id=None)
        if not await uow.checkouts.claim(record.id):
            raise Conflict("this purchase was already claimed", code="already_claimed")
        uow.emit(
            PurchaseClaimed(
                id=event_id("checkout.purchase.claimed", stripe_id),
                **handlers.purchase_fields(locked, live),
            )
        )
        await uow.commit()
    return {
        "session_id": stripe_id,
        "reference": record.reference,
        "item_id": record.item_id,
        "amount": live.amount,
        "currency": live.currency,
        "claimed": True,
    }
