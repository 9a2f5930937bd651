"""Coupons and promotion codes: validity, amounts off, and spreading a discount over lines."""

from typing import Any

from stripe_emulator.errors import invalid
from stripe_emulator.store import Store, StripeObject


def coupon_is_valid(coupon: StripeObject, now: int) -> bool:
    if (
        coupon["max_redemptions"] is not None
        and coupon["times_redeemed"] >= coupon["max_redemptions"]
    ):
        return False
    return coupon["redeem_by"] is None or coupon["redeem_by"] > now


def code_in_use(store: Store, code: str) -> bool:
    """Whether an active promotion code has this customer-facing code (case-insensitively)."""
    return any(
        p["code"].lower() == code.lower() and p["active"] for p in store.all("promotion_code")
    )


def redeemable(store: Store, promo: StripeObject, now: int) -> bool:
    """Whether the promotion code, active or not, is unexpired, under its limit and of a valid
    coupon."""
    if promo["expires_at"] is not None and promo["expires_at"] <= now:
        return False
    if promo["max_redemptions"] is not None and promo["times_redeemed"] >= promo["max_redemptions"]:
        return False
    coupon = store.get(promo["promotion"]["coupon"])
    return coupon is not None and coupon["valid"] and coupon_is_valid(coupon, now)


def resolve_promotion_code(
    store: Store,
    code_or_id: str,
    now: int,
    *,
    customer: str | None = None,
    subtotal: int | None = None,
    currency: str | None = None,
) -> StripeObject:
    """A usable promotion code by id (`promo_...`) or customer-facing code; with the
    purchase's `subtotal` and `currency` (and `customer`), also within its restrictions."""
    promo = store.get(code_or_id)
    if promo is None or promo.get("object") != "promotion_code":
        promo = next(
            (p for p in store.all("promotion_code") if p["code"].lower() == code_or_id.lower()),
            None,
        )
    if promo is None:
        raise invalid(f"No such promotion code: '{code_or_id}'", code="resource_missing")
    if not promo["active"] or not redeemable(store, promo, now):
        raise invalid(f"This promotion code cannot be redeemed: {promo['code']}")
    if subtotal is not None:
        _within_restrictions(store, promo, customer, subtotal, currency)
    return promo


def _within_restrictions(
    store: Store, promo: StripeObject, customer: str | None, subtotal: int, currency: str | None
) -> None:
    """Stripe's promotion code restrictions: first-time customers only (no successful payment
    or paid invoice before), and a minimum amount in a currency (before discounts)."""
    restrictions = promo["restrictions"]
    if restrictions["first_time_transaction"] and customer and _has_paid(store, customer):
        raise invalid(
            f"This promotion code cannot be redeemed because the customer has prior "
            f"transactions: {promo['code']}"
        )
    minimum = restrictions["minimum_amount"]
    if minimum is not None and (
        currency != restrictions["minimum_amount_currency"] or subtotal < minimum
    ):
        raise invalid(
            f"This promotion code requires a minimum amount of {minimum} "
            f"{restrictions['minimum_amount_currency']}: {promo['code']}"
        )


def _has_paid(store: Store, customer: str) -> bool:
    """Whether the customer has a successful payment or a paid invoice of some amount."""
    return any(c["customer"] == customer and c["paid"] for c in store.all("charge")) or any(
        i["customer"] == customer and i["status"] == "paid" and i["amount_paid"] > 0
        for i in store.all("invoice")
    )


def amount_off(coupon: StripeObject, subtotal: int, currency: str) -> int:
    if coupon["percent_off"] is not None:
        return min(subtotal, int(subtotal * coupon["percent_off"] / 100 + 0.5))
    if coupon["currency"] != currency:
        return 0
    return min(subtotal, coupon["amount_off"] or 0)


def split(total: int, weights: list[int]) -> list[int]:
    """`total` spread over `weights` proportionally, the rounding remainder on the last."""
    whole = sum(weights)
    if whole == 0:
        return [0 for _ in weights]
    shares = [total * weight // whole for weight in weights]
    if shares:
        shares[-1] += total - sum(shares)
    return shares


def redeem(store: Store, coupon_id: str, promotion_code_id: str | None) -> None:
    coupon = store.get(coupon_id)
    if coupon is not None:
        coupon["times_redeemed"] += 1
    promo = store.get(promotion_code_id or "")
    if promo is not None:
        promo["times_redeemed"] += 1


def pairs(store: Store, entries: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    """Discount entries (`{"coupon": ...}` or `{"promotion_code": ...}`) as (coupon, promotion
    code) pairs."""
    return [
        (
            entry.get("coupon") or store.objects[entry["promotion_code"]]["promotion"]["coupon"],
            entry.get("promotion_code"),
        )
        for entry in entries
    ]
