"""Ending unpaid checkouts at Stripe before their time: a member's earlier checkout for the same
thing, another buyer's lapsed hold on an item, a checkout at a price no longer sold."""

from __future__ import annotations

from checkout.adapters.payments import Payment
from checkout.domain.checkout import CheckoutRecord, can_move
from checkout.domain.events import event_id
from checkout.service_layer import handlers
from checkout.service_layer.context import Context
from tollgate_shared.contracts.checkout import PurchaseFailed


async def withdraw(ctx: Context, record: CheckoutRecord, *, announce: bool) -> bool:
    """Make `record` unpayable at Stripe (expire the session, cancel the incomplete subscription
    or the PaymentIntent) and record it expired, freeing what it held; with `announce`, a
    purchase's end is announced (`checkout.purchase.failed`, reason `expired`) as Stripe's own
    event would have. False if it was paid, or is being paid, meanwhile: it is then recorded
    as `processing` and holds on until Stripe's event settles it."""
    ended = record.stripe_id is None or await ctx.payments.withdraw(record)
    async with ctx.uow() as uow:
        current = await uow.checkouts.get(record.id, lock=True)
        if current is None:
            return ended
        if ended and can_move(current.status, "expired"):
            await uow.checkouts.move(record.id, "expired", release=True)
            if announce and current.purpose == "purchase" and current.stripe_id is not None:
                uow.emit(_failed(current))
        elif not ended and can_move(current.status, "processing"):
            await uow.checkouts.move(record.id, "processing")
        await uow.commit()
    return ended


def _failed(record: CheckoutRecord) -> PurchaseFailed:
    payment = Payment.recorded(record, paid=False)
    return PurchaseFailed(
        id=event_id(PurchaseFailed.declared_type(), payment.id),
        reason="expired",
        **handlers.purchase_fields(record, payment),
    )
