"""Events the checkout service emits on `checkout.<verb>`."""

from __future__ import annotations

from typing import Literal

from tollgate_shared.contracts.base import DomainEvent


class CheckoutEvent(DomainEvent):
    session_id: str
    """What the member paid through: the Stripe Checkout Session id (`cs_...`), or for a
    checkout in the app's own card form (Stripe Elements) the object checkout created: the
    PaymentIntent id (`pi_...`) of a purchase, the subscription id (`sub_...`) of a membership."""
    user_id: str
    group_id: str


class PurchaseEvent(CheckoutEvent):
    """About a one-off purchase of an item, identified by the app's `reference`."""

    item_id: str
    reference: str
    amount: int
    """In the currency's minor unit, after discounts."""
    currency: str
    email: str | None = None
    payment_intent_id: str | None = None
    """The PaymentIntent paying it, when there is one (always for the app's own card form,
    where it is also `session_id`)."""


class PurchasePaid(PurchaseEvent):
    """Stripe confirmed the payment: the app may confirm the booking."""

    type: Literal["checkout.purchase.paid"] = "checkout.purchase.paid"


class PurchaseFailed(PurchaseEvent):
    """The purchase will not be paid (`reason`: `expired` or `payment_failed`): release it."""

    type: Literal["checkout.purchase.failed"] = "checkout.purchase.failed"
    reason: Literal["expired", "payment_failed"]


class PurchaseClaimed(PurchaseEvent):
    """The buyer's app claimed the paid purchase (once)."""

    type: Literal["checkout.purchase.claimed"] = "checkout.purchase.claimed"


class CouponRedeemed(CheckoutEvent):
    """A completed checkout used one of the group's coupons."""

    type: Literal["checkout.coupon.redeemed"] = "checkout.coupon.redeemed"
    coupon_id: str
    """Checkout's coupon id (not Stripe's)."""
    code: str
    tier_id: str | None = None
    item_id: str | None = None
    amount_discount: int
    currency: str
