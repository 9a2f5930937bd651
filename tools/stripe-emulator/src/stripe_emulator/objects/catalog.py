"""Customers, products, prices, coupons, promotion codes and discounts."""

from typing import Any

from stripe_emulator.ids import new_id, random_token
from stripe_emulator.store import StripeObject

EMPTY_ADDRESS: dict[str, None] = {
    "city": None,
    "country": None,
    "line1": None,
    "line2": None,
    "postal_code": None,
    "state": None,
}


def customer(
    *,
    created: int,
    email: str | None,
    name: str | None,
    description: str | None,
    metadata: dict[str, str],
) -> StripeObject:
    return {
        "id": new_id("cus", 14),
        "object": "customer",
        "address": dict(EMPTY_ADDRESS),
        "balance": 0,
        "created": created,
        "currency": None,
        "customer_account": None,
        "default_source": None,
        "delinquent": False,
        "description": description,
        "discount": None,
        "email": email,
        "invoice_prefix": random_token(8).upper(),
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": None,
            "footer": None,
            "rendering_options": None,
        },
        "livemode": False,
        "metadata": metadata,
        "name": name,
        "next_invoice_sequence": 1,
        "phone": None,
        "preferred_locales": [],
        "shipping": None,
        "tax_exempt": "none",
        "test_clock": None,
    }


def product(
    *,
    product_id: str | None,
    created: int,
    name: str,
    active: bool,
    description: str | None,
    metadata: dict[str, str],
) -> StripeObject:
    return {
        "id": product_id or new_id("prod", 14),
        "object": "product",
        "active": active,
        "created": created,
        "default_price": None,
        "description": description,
        "images": [],
        "livemode": False,
        "marketing_features": [],
        "metadata": metadata,
        "name": name,
        "package_dimensions": None,
        "shippable": None,
        "statement_descriptor": None,
        "tax_code": None,
        "type": "service",
        "unit_label": None,
        "updated": created,
        "url": None,
    }


def price(
    *,
    created: int,
    product: str,
    currency: str,
    unit_amount: int,
    active: bool,
    recurring: dict[str, Any] | None,
    nickname: str | None,
    lookup_key: str | None,
    metadata: dict[str, str],
) -> StripeObject:
    return {
        "id": new_id("price"),
        "object": "price",
        "active": active,
        "billing_scheme": "per_unit",
        "created": created,
        "currency": currency,
        "custom_unit_amount": None,
        "livemode": False,
        "lookup_key": lookup_key,
        "metadata": metadata,
        "nickname": nickname,
        "product": product,
        "recurring": recurring,
        "tax_behavior": "unspecified",
        "tiers_mode": None,
        "transform_quantity": None,
        "type": "recurring" if recurring else "one_time",
        "unit_amount": unit_amount,
        "unit_amount_decimal": str(unit_amount),
    }


def recurring(interval: str, interval_count: int) -> dict[str, Any]:
    return {
        "interval": interval,
        "interval_count": interval_count,
        "meter": None,
        "trial_period_days": None,
        "usage_type": "licensed",
    }


def plan(for_price: StripeObject) -> StripeObject:
    """The legacy `plan` view of a recurring price, as on subscription items."""
    rec = for_price["recurring"] or recurring("month", 1)
    return {
        "id": for_price["id"],
        "object": "plan",
        "active": for_price["active"],
        "amount": for_price["unit_amount"],
        "amount_decimal": for_price["unit_amount_decimal"],
        "billing_scheme": "per_unit",
        "created": for_price["created"],
        "currency": for_price["currency"],
        "interval": rec["interval"],
        "interval_count": rec["interval_count"],
        "livemode": False,
        "metadata": for_price["metadata"],
        "meter": None,
        "nickname": for_price["nickname"],
        "product": for_price["product"],
        "tiers_mode": None,
        "transform_usage": None,
        "trial_period_days": None,
        "usage_type": "licensed",
    }


def coupon(
    *,
    coupon_id: str | None,
    created: int,
    percent_off: float | None,
    amount_off: int | None,
    currency: str | None,
    duration: str,
    duration_in_months: int | None,
    max_redemptions: int | None,
    redeem_by: int | None,
    name: str | None,
    metadata: dict[str, str],
) -> StripeObject:
    return {
        "id": coupon_id or random_token(8),
        "object": "coupon",
        "amount_off": amount_off,
        "created": created,
        "currency": currency,
        "duration": duration,
        "duration_in_months": duration_in_months,
        "livemode": False,
        "max_redemptions": max_redemptions,
        "metadata": metadata,
        "name": name,
        "percent_off": percent_off,
        "redeem_by": redeem_by,
        "times_redeemed": 0,
        "valid": True,
    }


def promotion_code(
    *,
    created: int,
    code: str,
    coupon_id: str,
    active: bool,
    customer: str | None,
    expires_at: int | None,
    max_redemptions: int | None,
    metadata: dict[str, str],
    restrictions: dict[str, Any] | None = None,
) -> StripeObject:
    return {
        "id": new_id("promo"),
        "object": "promotion_code",
        "active": active,
        "code": code,
        "created": created,
        "customer": customer,
        "customer_account": None,
        "expires_at": expires_at,
        "livemode": False,
        "max_redemptions": max_redemptions,
        "metadata": metadata,
        "promotion": {"coupon": coupon_id, "type": "coupon"},
        "restrictions": restrictions or promotion_restrictions(),
        "times_redeemed": 0,
    }


def promotion_restrictions(
    *,
    first_time_transaction: bool = False,
    minimum_amount: int | None = None,
    minimum_amount_currency: str | None = None,
) -> dict[str, Any]:
    return {
        "first_time_transaction": first_time_transaction,
        "minimum_amount": minimum_amount,
        "minimum_amount_currency": minimum_amount_currency,
    }


def discount(
    *,
    start: int,
    coupon_id: str,
    promotion_code: str | None,
    customer: str | None,
    checkout_session: str | None,
    subscription: str | None,
    invoice: str | None,
) -> StripeObject:
    return {
        "id": new_id("di"),
        "object": "discount",
        "checkout_session": checkout_session,
        "customer": customer,
        "customer_account": None,
        "end": None,
        "invoice": invoice,
        "invoice_item": None,
        "promotion_code": promotion_code,
        "source": {"coupon": coupon_id, "type": "coupon"},
        "start": start,
        "subscription": subscription,
        "subscription_item": None,
    }
