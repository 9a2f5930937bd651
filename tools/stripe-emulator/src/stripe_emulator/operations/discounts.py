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


def resolve_promotion_code(store: Store, code_or_id: str, now: int) -> StripeObject:
    """A usable promotion code by id (`promo_...`) or customer-facing code."""
    promo = store.get(code_or_id)
    if promo is None or promo.get("object") != "promotion_code":
        promo = next(
            (p for p in store.all("promotion_code") if p["code"].lower() == code_or_id.lower()),
            None,
        )
    if promo is None:
        raise invalid(f"No such promotion code: '{code_or_id}'", code="resource_missing")
    usable = promo["active"] and (promo["expires_at"] is None or promo["expires_at"] > now)
    if promo["max_redemptions"] is not None:
        usable = usable and promo["times_redeemed"] < promo["max_redemptions"]
    coupon = store.get(promo["promotion"]["coupon"])
    if not usable or coupon is None or not coupon_is_valid(coupon, now):
        raise invalid(f"This promotion code cannot be redeemed: {promo['code']}")
    return promo


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
