"""Event handlers: Stripe's events about checkout's own checkouts — Checkout Sessions, and the
subscriptions and PaymentIntents of the app's own card form — and membership's occupancy events.

Each runs in the consumer's unit of work (with the inbox row) and must not commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from checkout.adapters.occupancy import OCCUPANCY
from checkout.adapters.payments import DiscountedSession, Payment
from checkout.domain.checkout import (
    NEVER,
    SUBSCRIPTION_OUTCOME,
    CheckoutRecord,
    Member,
    Status,
    can_move,
)
from checkout.domain.coupons import Coupon
from checkout.domain.events import event_id
from checkout.service_layer.unit_of_work import CheckoutUnitOfWork
from tollgate_shared.contracts.checkout import CouponRedeemed, PurchaseFailed, PurchasePaid
from tollgate_shared.contracts.membership import MembershipEnded, MembershipEvent
from tollgate_shared.contracts.stripe import StripeEvent
from tollgate_shared.contracts.stripe_objects import PaymentIntent, Subscription
from tollgate_shared.messaging.foreign import ignore_foreign

SESSION_EVENTS = "checkout.session."


def _ids(event: StripeEvent) -> tuple[str | None, str]:
    """How the event's checkout is found: a session by its `checkout_id` metadata, else by its
    Stripe id; a subscription or PaymentIntent by its Stripe id only (checkout recorded it when
    it created the object: no metadata, which Stripe copies between objects only at times)."""
    obj = event.data.object
    if event.type.startswith(SESSION_EVENTS):
        checkout_id = (obj.get("metadata") or {}).get("checkout_id")
        if checkout_id:
            return str(checkout_id), ""
    return None, str(obj.get("id") or "")


def _not_ours(event: StripeEvent, stripe_id: str) -> None:
    """Every Tollgate Checkout Session is checkout's, so one it does not know is another app's
    (counted). Subscriptions and PaymentIntents are also made by Checkout and by invoices: one
    checkout did not create needs nothing from it, whoever made it."""
    if event.type.startswith(SESSION_EVENTS):
        ignore_foreign("checkout", event, f"checkout session {stripe_id} is not ours")


async def lock_checkouts(
    uow: CheckoutUnitOfWork, events: Sequence[StripeEvent]
) -> list[StripeEvent]:
    """Before a fetch's handlers: lock its checkouts in one statement; the events of objects
    checkout did not create need no handler."""
    ids = [_ids(event) for event in events]
    checkout_ids = {c for c, _ in ids if c}
    stripe_ids = {s for c, s in ids if not c and s}
    known, known_stripe = await uow.checkouts.lock_known(checkout_ids, stripe_ids)
    unneeded = []
    for event, (checkout_id, stripe_id) in zip(events, ids, strict=True):
        if (checkout_id in known) if checkout_id else (stripe_id in known_stripe):
            continue
        _not_ours(event, stripe_id)
        unneeded.append(event)
    return unneeded


async def _record_of(uow: CheckoutUnitOfWork, event: StripeEvent) -> CheckoutRecord | None:
    """The event's checkout, locked; None for an object checkout did not create (the rule
    `lock_checkouts` applied to the whole fetch)."""
    checkout_id, stripe_id = _ids(event)
    if checkout_id:
        record = await uow.checkouts.get(checkout_id, lock=True)
    else:
        record = await uow.checkouts.get_by_stripe_id(stripe_id, lock=True) if stripe_id else None
    if record is None:
        _not_ours(event, stripe_id)
    return record


def purchase_fields(record: CheckoutRecord, payment: Payment) -> dict[str, object]:
    return {
        "session_id": payment.id,
        "user_id": record.user_id,
        "group_id": record.group_id,
        "item_id": record.item_id,
        "reference": record.reference,
        "amount": payment.amount if payment.amount is not None else record.amount,
        "currency": payment.currency or record.currency,
        "email": payment.email or record.email,
        "payment_intent_id": payment.payment_intent_id,
    }


async def record_paid(
    uow: CheckoutUnitOfWork,
    record: CheckoutRecord,
    payment: Payment,
    *,
    causation_id: str | None,
) -> None:
    """Stripe says the checkout is paid: record it (once), its coupon, and tell the apps."""
    if not can_move(record.status, "paid"):
        return
    # A membership's seat is freed now if membership already counts the user on its tier.
    member = record.purpose != "purchase"
    await uow.checkouts.move(record.id, "paid", release=member, if_member=member)
    await _record_redemptions(uow, record, payment, causation_id)
    if record.purpose == "purchase":
        uow.emit(
            PurchasePaid(
                id=event_id("checkout.purchase.paid", payment.id),
                causation_id=causation_id,
                **purchase_fields(record, payment),
            ),
        )


async def _coupons_used(
    uow: CheckoutUnitOfWork, record: CheckoutRecord, payment: Payment
) -> list[tuple[Coupon, int]]:
    """The coupons a paid checkout used and what they took off: the discounts Stripe reports
    (a session's, maybe typed on Stripe's page), else the coupon checkout applied itself."""
    if not payment.discounts:
        coupon = await uow.coupons.get(record.coupon_id) if record.coupon_id else None
        return [(coupon, coupon.discount_on(record.amount))] if coupon else []
    used = []
    for discount in payment.discounts:
        coupon = await uow.coupons.by_stripe_ids(
            coupon=discount.coupon, promotion_code=discount.promotion_code
        )
        if coupon is not None:
            used.append((coupon, payment.amount_discount or 0))
    return used


async def _record_redemptions(
    uow: CheckoutUnitOfWork, record: CheckoutRecord, payment: Payment, causation_id: str | None
) -> None:
    for coupon, amount_discount in await _coupons_used(uow, record, payment):
        redemption = {
            "stripe_session_id": payment.id,
            "coupon_id": coupon.id,
            "user_id": record.user_id,
            "group_id": record.group_id,
            "tier_id": record.tier_id,
            "item_id": record.item_id,
            "amount_discount": amount_discount,
            "currency": payment.currency or record.currency,
        }
        if await uow.coupons.add_redemption(redemption):
            uow.emit(
                CouponRedeemed(
                    id=event_id("checkout.coupon.redeemed", payment.id),
                    causation_id=causation_id,
                    session_id=payment.id,
                    code=coupon.code,
                    **{k: v for k, v in redemption.items() if k != "stripe_session_id"},
                ),
            )


async def _settle(
    uow: CheckoutUnitOfWork,
    record: CheckoutRecord,
    payment: Payment,
    status: Status,
    reason: Literal["expired", "payment_failed"],
    causation_id: str,
) -> None:
    """The checkout ends unpaid: free its seat and let apps release the purchase."""
    if not can_move(record.status, status):
        return
    await uow.checkouts.move(record.id, status, release=True)
    if record.purpose == "purchase":
        uow.emit(
            PurchaseFailed(
                id=event_id("checkout.purchase.failed", payment.id),
                causation_id=causation_id,
                reason=reason,
                **purchase_fields(record, payment),
            ),
        )


async def on_session_completed(uow: CheckoutUnitOfWork, event: StripeEvent) -> None:
    """Paid now, or (delayed payment methods) later through `async_payment_*`."""
    session = event.object_as(DiscountedSession)
    record = await _record_of(uow, event)
    if record is None:
        return
    if session.customer:
        await uow.checkouts.save_customer(record.user_id, session.customer)
    payment = Payment.of_session(session)
    if payment.paid:
        await record_paid(uow, record, payment, causation_id=event.id)
    elif can_move(record.status, "processing"):
        await uow.checkouts.move(record.id, "processing")


async def on_async_payment_succeeded(uow: CheckoutUnitOfWork, event: StripeEvent) -> None:
    """A delayed payment cleared."""
    record = await _record_of(uow, event)
    if record is not None:
        payment = Payment.of_session(event.object_as(DiscountedSession))
        await record_paid(uow, record, payment, causation_id=event.id)


async def _session_ended(
    uow: CheckoutUnitOfWork,
    event: StripeEvent,
    status: Status,
    reason: Literal["expired", "payment_failed"],
) -> None:
    record = await _record_of(uow, event)
    if record is not None:
        payment = Payment.of_session(event.object_as(DiscountedSession))
        await _settle(uow, record, payment, status, reason, event.id)


async def on_async_payment_failed(uow: CheckoutUnitOfWork, event: StripeEvent) -> None:
    """A delayed payment failed."""
    await _session_ended(uow, event, "failed", "payment_failed")


async def on_session_expired(uow: CheckoutUnitOfWork, event: StripeEvent) -> None:
    """Nobody paid in time."""
    await _session_ended(uow, event, "expired", "expired")


async def on_payment_intent_succeeded(uow: CheckoutUnitOfWork, event: StripeEvent) -> None:
    """A card-form purchase is paid (after its 3-D Secure challenge, if it had one)."""
    record = await _record_of(uow, event)
    if record is not None:
        payment = Payment.of_intent(event.object_as(PaymentIntent))
        await record_paid(uow, record, payment, causation_id=event.id)


async def on_payment_intent_failed(uow: CheckoutUnitOfWork, event: StripeEvent) -> None:
    """A card-form payment failed. Stripe leaves the intent payable (the buyer may try another
    card), but if it holds an item buyers compete for (a lease: see `payable_until`), the item
    is free for others now; whoever takes it next cancels this intent first."""
    record = await _record_of(uow, event)
    if record is not None and record.expires_at < NEVER:
        await uow.checkouts.end_lease(record.id)


async def on_payment_intent_canceled(uow: CheckoutUnitOfWork, event: StripeEvent) -> None:
    """A card-form purchase will not be paid: its intent was canceled."""
    record = await _record_of(uow, event)
    if record is not None:
        payment = Payment.of_intent(event.object_as(PaymentIntent))
        await _settle(uow, record, payment, "expired", "expired", event.id)


async def on_subscription_changed(uow: CheckoutUnitOfWork, event: StripeEvent) -> None:
    """A card-form subscription's status, as the event carries it (no Stripe call): paid →
    its seat is held until membership counts the member; ended unpaid (`incomplete_expired`
    after 23 hours, or canceled) → its seat is freed."""
    record = await _record_of(uow, event)
    if record is None:
        return
    outcome = SUBSCRIPTION_OUTCOME.get(event.object_as(Subscription).status)
    if outcome == "paid":
        await subscription_paid(uow, record, causation_id=event.id)
    elif outcome == "expired" and can_move(record.status, "expired"):
        await uow.checkouts.move(record.id, "expired", release=True)


async def subscription_paid(
    uow: CheckoutUnitOfWork, record: CheckoutRecord, *, causation_id: str | None
) -> None:
    """A card-form subscription's first invoice is paid, or nothing was due."""
    payment = Payment.recorded(record, paid=True)
    await record_paid(uow, record, payment, causation_id=causation_id)


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
