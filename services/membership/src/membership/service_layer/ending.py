"""Ending a subscription early at Stripe: now, with the unused part of its last payment
refunded — for a member's request (`self_service`) and for a one-time term that replaces it
(`recording`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from membership.adapters.billing import Read, StripeBilling
from membership.domain.model import SubscriptionRecord
from membership.domain.self_service import prorated_refund


@dataclass(frozen=True)
class Refunded:
    """A refund made when a subscription was ended now."""

    id: str
    amount: int
    currency: str


async def end_now(
    billing: StripeBilling,
    subscription: SubscriptionRecord,
    *,
    refund: bool,
    now: datetime,
    by: str,
) -> tuple[Read, Refunded | None]:
    """Cancel the subscription now; with `refund`, refund the unused part of its last payment
    first (once per subscription, so a retry after a failure between the two neither refunds
    twice nor leaves it running)."""
    refunded = await _refund_unused(billing, subscription, now=now, by=by) if refund else None
    return await billing.cancel_now(subscription.id), refunded


async def _refund_unused(
    billing: StripeBilling, subscription: SubscriptionRecord, *, now: datetime, by: str
) -> Refunded | None:
    current = await billing.subscription(subscription.id)
    invoice = current.subscription.latest_invoice
    if invoice is None:
        return None
    paid = await billing.last_payment(invoice)
    if paid is None:
        return None
    amount = prorated_refund(paid.amount, subscription, now)
    if amount <= 0:
        return None
    refund_id = await billing.refund(paid, amount, subscription_id=subscription.id, by=by)
    return Refunded(refund_id, amount, paid.currency)
