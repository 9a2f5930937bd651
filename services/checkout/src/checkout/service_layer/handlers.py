"""Event handlers: Stripe's Checkout Session events and membership's occupancy events.

Each runs in the consumer's unit of work (with the inbox row) and must not commit.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Literal

from checkout.adapters.occupancy import OCCUPANCY
from checkout.adapters.stripe_gateway import DiscountedSession
from checkout.domain.checkout import CheckoutRecord, Member, Status, can_move
from checkout.service_layer.unit_of_work import CheckoutUnitOfWork
from tollgate_shared.contracts.checkout import CouponRedeemed, PurchaseFailed, PurchasePaid
from tollgate_shared.contracts.membership import MembershipEnded, MembershipEvent
from tollgate_shared.contracts.stripe import StripeEvent
from tollgate_shared.messaging.foreign import ignore_foreign


def event_id(event_type: str, session_id: str) -> str:
    """One id per (event type, session): a fact about a session is published once."""
    return hashlib.sha256(f"{event_type}:{session_id}".encode()).hexdigest()[:32]


def _ids(event: StripeEvent) -> tuple[str | None, str | None]:
    """The session's own id in checkout (its `checkout_id` metadata), and its Stripe id."""
    session = event.data.object
    checkout_id = (session.get("metadata") or {}).get("checkout_id")
    return (str(checkout_id) if checkout_id else None), session.get("id")


async def lock_sessions(
    uow: CheckoutUnitOfWork, events: Sequence[StripeEvent]
) -> list[StripeEvent]:
    """Before a fetch's handlers: lock its sessions in one statement; those checkout did not
    create (another app's, on a shared Stripe account) are counted and need no handler."""
    ids = [_ids(event) for event in events]
    checkout_ids = {c for c, _ in ids if c}
    stripe_ids = {s for c, s in ids if not c and s}
    known, known_stripe = await uow.checkouts.lock_known(checkout_ids, stripe_ids)
    foreign = []
    for event, (checkout_id, stripe_id) in zip(events, ids, strict=True):
        if (checkout_id in known) if checkout_id else (stripe_id in known_stripe):
            continue
        ignore_foreign("checkout", event, f"checkout session {stripe_id} is not ours")
        foreign.append(event)
    return foreign


async def _record_of(
    uow: CheckoutUnitOfWork, stripe_session: DiscountedSession, event: StripeEvent
) -> CheckoutRecord | None:
    """The session's record, locked; None (counted) for a session checkout did not create,
    e.g. another app's on a shared Stripe account (`lock_sessions` tells these apart first)."""
    checkout_id, _ = _ids(event)  # the rule `lock_sessions` applied to the whole fetch
    if checkout_id:
        record = await uow.checkouts.get(checkout_id, lock=True)
    else:
        record = await uow.checkouts.get_by_stripe_id(stripe_session.id, lock=True)
    if record is None:
        ignore_foreign("checkout", event, f"checkout session {stripe_session.id} is not ours")
    return record


def purchase_fields(record: CheckoutRecord, stripe_session: DiscountedSession) -> dict[str, object]:
    return {
        "session_id": stripe_session.id,
        "user_id": record.user_id,
        "group_id": record.group_id,
        "item_id": record.item_id,
        "reference": record.reference,
        "amount": stripe_session.amount_total
        if stripe_session.amount_total is not None
        else record.amount,
        "currency": stripe_session.currency or record.currency,
        "email": stripe_session.email,
    }


async def record_paid(
    uow: CheckoutUnitOfWork,
    record: CheckoutRecord,
    stripe_session: DiscountedSession,
    *,
    causation_id: str | None,
) -> None:
    """Stripe says the session is paid: record it (once), its coupon, and tell the apps."""
    if not can_move(record.status, "paid"):
        return
    await uow.checkouts.move(record.id, "paid")
    await _record_redemption(uow, record, stripe_session, causation_id)
    if record.purpose == "purchase":
        uow.emit(
            PurchasePaid(
                id=event_id("checkout.purchase.paid", stripe_session.id),
                causation_id=causation_id,
                payment_intent_id=stripe_session.payment_intent,
                **purchase_fields(record, stripe_session),
            ),
        )
    else:
        await uow.checkouts.release_if_member(record)


async def _record_redemption(
    uow: CheckoutUnitOfWork,
    record: CheckoutRecord,
    stripe_session: DiscountedSession,
    causation_id: str | None,
) -> None:
    for discount in stripe_session.discounts:
        coupon = await uow.coupons.by_stripe_ids(
            coupon=discount.coupon, promotion_code=discount.promotion_code
        )
        if coupon is None:
            continue
        details = stripe_session.total_details
        redemption = {
            "stripe_session_id": stripe_session.id,
            "coupon_id": coupon.id,
            "user_id": record.user_id,
            "group_id": record.group_id,
            "tier_id": record.tier_id,
            "item_id": record.item_id,
            "amount_discount": (details.amount_discount if details else None) or 0,
            "currency": stripe_session.currency or record.currency,
        }
        if await uow.coupons.add_redemption(redemption):
            uow.emit(
                CouponRedeemed(
                    id=event_id("checkout.coupon.redeemed", stripe_session.id),
                    causation_id=causation_id,
                    session_id=stripe_session.id,
                    code=coupon.code,
                    **{k: v for k, v in redemption.items() if k != "stripe_session_id"},
                ),
            )


async def _settle(
    uow: CheckoutUnitOfWork,
    event: StripeEvent,
    status: Status,
    reason: Literal["expired", "payment_failed"],
) -> None:
    """The session ends unpaid: free its seat and let apps release the purchase."""
    stripe_session = event.object_as(DiscountedSession)
    record = await _record_of(uow, stripe_session, event)
    if record is None or not can_move(record.status, status):
        return
    await uow.checkouts.move(record.id, status, release=True)
    if record.purpose == "purchase":
        uow.emit(
            PurchaseFailed(
                id=event_id("checkout.purchase.failed", stripe_session.id),
                causation_id=event.id,
                reason=reason,
                **purchase_fields(record, stripe_session),
            ),
        )


async def on_session_completed(uow: CheckoutUnitOfWork, event: StripeEvent) -> None:
    """Paid now, or (delayed payment methods) later through `async_payment_*`."""
    stripe_session = event.object_as(DiscountedSession)
    record = await _record_of(uow, stripe_session, event)
    if record is None:
        return
    if stripe_session.customer:
        await uow.checkouts.save_customer(record.user_id, stripe_session.customer)
    if stripe_session.payment_status in ("paid", "no_payment_required"):
        await record_paid(uow, record, stripe_session, causation_id=event.id)
    elif can_move(record.status, "processing"):
        await uow.checkouts.move(record.id, "processing")


async def on_async_payment_succeeded(uow: CheckoutUnitOfWork, event: StripeEvent) -> None:
    """A delayed payment cleared."""
    stripe_session = event.object_as(DiscountedSession)
    record = await _record_of(uow, stripe_session, event)
    if record is not None:
        await record_paid(uow, record, stripe_session, causation_id=event.id)


async def on_async_payment_failed(uow: CheckoutUnitOfWork, event: StripeEvent) -> None:
    """A delayed payment failed."""
    await _settle(uow, event, "failed", "payment_failed")


async def on_session_expired(uow: CheckoutUnitOfWork, event: StripeEvent) -> None:
    """Nobody paid in time."""
    await _settle(uow, event, "expired", "expired")


async def on_membership_event(uow: CheckoutUnitOfWork, event: MembershipEvent) -> None:
    """Occupancy: who holds a seat on which tier, as membership last said."""
    member = Member(
        user_id=event.user_id,
        group_id=event.group_id,
        tier_id=event.tier_id,
        active=not isinstance(event, MembershipEnded),
        subscription_id=event.subscription_id,
    )
    uow.deferred(OCCUPANCY).report(
        member, event_at=event.occurred_at, release_holds=event.tier_id is not None
    )
