"""Events the checkout service emits on `checkout.<verb>`."""

from __future__ import annotations

from typing import Literal

from tollgate_shared.events.base import DomainEvent


class CheckoutEvent(DomainEvent):
    session_id: str
    user_id: str
    group_id: str


class PurchaseCompleted(CheckoutEvent):
    type: Literal["checkout.purchase_completed"] = "checkout.purchase_completed"
    reference: str | None = None
    amount: int
    currency: str
    email: str | None = None


class PurchaseClaimed(CheckoutEvent):
    type: Literal["checkout.purchase_claimed"] = "checkout.purchase_claimed"
    reference: str


class CouponRedeemed(CheckoutEvent):
    type: Literal["checkout.coupon_redeemed"] = "checkout.coupon_redeemed"
    coupon_id: str
    promotion_code: str | None = None
    amount_discount: int
    currency: str
