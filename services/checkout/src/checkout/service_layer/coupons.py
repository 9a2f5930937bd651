"""Coupon commands: create (and put on Stripe), validate, and pick one for a checkout."""

from __future__ import annotations

import uuid
from typing import Any

import structlog
from psycopg.errors import UniqueViolation
from sqlalchemy.exc import IntegrityError

from checkout.adapters import catalog_repo
from checkout.domain.catalog import Tier
from checkout.domain.coupons import Coupon, normalize_code
from checkout.domain.errors import (
    CheckoutError,
    Conflict,
    Invalid,
    NotFound,
    PaymentProviderTrouble,
)
from checkout.service_layer import catalog
from checkout.service_layer.context import Context, ensure_manager, now
from tollgate_shared.infra.stripe_client import product_id_of
from tollgate_shared.web.auth import Principal

log = structlog.get_logger(__name__)
MAX_GROUP_TIERS = 500


async def create(
    ctx: Context, principal: Principal, group_id: str, values: dict[str, Any]
) -> Coupon:
    """A coupon for the group's tiers (all, or `tier_ids`), put on Stripe when its window opens."""
    ensure_manager(principal, group_id)
    for tier_id in values.get("tier_ids", []):
        tier = await catalog.load(ctx, Tier, tier_id)
        if tier.group_id != group_id:
            raise Invalid(f"tier {tier_id} is not in group {group_id}", code="foreign_tier")
    coupon_id = f"coupon_{uuid.uuid4().hex[:20]}"
    code = normalize_code(values.pop("code"))
    try:
        async with ctx.uow() as uow:
            await uow.coupons.add(
                {**values, "id": coupon_id, "group_id": group_id, "code": code, "active": True},
            )
            await uow.commit()
    except IntegrityError as exc:
        if not isinstance(exc.orig, UniqueViolation):
            raise
        raise Conflict(f"the code {code} is taken", code="code_taken") from None
    coupon = await _load(ctx, coupon_id)
    if ctx.stripe is not None:
        try:
            return await sync(ctx, coupon)
        except (CheckoutError, PaymentProviderTrouble) as exc:
            log.warning("coupon.sync_deferred", coupon_id=coupon_id, error=exc.message)
    return coupon


async def sync(ctx: Context, coupon: Coupon) -> Coupon:
    """Create the Stripe coupon and promotion code, once its window has opened.

    Until then Stripe does not know the code, so nobody can type it on the payment page early.
    """
    started = coupon.valid_from is None or coupon.valid_from <= now()
    if coupon.stripe_promotion_code_id is not None or not started:
        return coupon
    async with ctx.uow() as uow:
        tier_ids = coupon.tier_ids or [
            tier.id
            for tier in await catalog_repo.list_for_group(
                uow.session, Tier, coupon.group_id, limit=MAX_GROUP_TIERS, offset=0
            )
        ]
    stripe_coupon, promotion_code = await ctx.payments.create_coupon(
        coupon, [product_id_of(tier_id) for tier_id in tier_ids]
    )
    async with ctx.uow() as uow:
        await uow.coupons.mark_synced(
            coupon.id,
            stripe_coupon_id=stripe_coupon,
            promotion_code_id=promotion_code.id,
            stripe_code=promotion_code.code,
        )
        await uow.commit()
    return await _load(ctx, coupon.id)


async def validate(ctx: Context, code: str, tier_id: str, *, segment: str | None) -> dict[str, Any]:
    """Whether `code` of the tier's group applies to the tier now, and what it takes off the
    caller's price."""
    tier = await catalog.load(ctx, Tier, tier_id)
    amount = tier.price_for(segment).amount
    async with ctx.uow() as uow:
        coupon = await uow.coupons.by_code(tier.group_id, normalize_code(code))
        redeemed = await uow.coupons.redeemed(coupon.id) if coupon else 0
    answer: dict[str, Any] = {"code": normalize_code(code), "tier_id": tier_id}
    if coupon is None:  # also another group's code: the same answer, so it stays unknown
        return {**answer, "valid": False, "reason": "unknown_code"}
    reason = coupon.rejection(tier, now=now(), redeemed=redeemed)
    if reason is not None:
        return {**answer, "valid": False, "reason": reason}
    return {
        **answer,
        "valid": True,
        "percent_off": float(coupon.percent_off) if coupon.percent_off is not None else None,
        "amount_off": coupon.amount_off,
        "currency": tier.currency,
        "amount": amount,
        "amount_discount": coupon.discount_on(amount),
    }


async def usable(ctx: Context, code: str, tier: Tier) -> Coupon:
    """The coupon for `code` of the tier's group if it applies to `tier` now (synced to Stripe),
    else `Invalid`."""
    async with ctx.uow() as uow:
        coupon = await uow.coupons.by_code(tier.group_id, normalize_code(code))
        if coupon is None:  # also another group's code, answered the same
            raise Invalid(f"unknown coupon code {code}", code="coupon_unknown_code")
        redeemed = await uow.coupons.redeemed(coupon.id)
    coupon.ensure_usable(tier, now=now(), redeemed=redeemed)
    return await sync(ctx, coupon)


async def _load(ctx: Context, coupon_id: str) -> Coupon:
    async with ctx.uow() as uow:
        coupon = await uow.coupons.get(coupon_id)
    if coupon is None:
        raise NotFound(f"no coupon {coupon_id}")
    return coupon
