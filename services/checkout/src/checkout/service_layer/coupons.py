"""Coupon commands: create (and put on Stripe), validate, and pick one for a checkout."""

from __future__ import annotations

import uuid
from typing import Any

import structlog
from psycopg.errors import UniqueViolation
from sqlalchemy.exc import IntegrityError

from checkout.adapters import catalog_repo
from checkout.domain.catalog import Tier
from checkout.domain.coupons import Coupon, check_window, normalize_code
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
    """A coupon for the group's tiers (all, or `tier_ids`), put on Stripe when its window opens;
    one whose window has already ended is `Invalid`."""
    ensure_manager(principal, group_id)
    check_window(values.get("valid_from"), values.get("valid_until"), now=now())
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


async def change(
    ctx: Context, principal: Principal, coupon_id: str, values: dict[str, Any]
) -> Coupon:
    """Edit a coupon (window, limit, name, restrictions) or switch it off or on: it applies
    at once to checkouts here, then Stripe is brought in step (a new name on the Stripe coupon;
    the promotion code deactivated, and replaced by a new one where the change is of something
    Stripe cannot change on it)."""
    coupon = await _load(ctx, coupon_id)
    ensure_manager(principal, coupon.group_id)
    async with ctx.uow() as uow:
        locked = await uow.coupons.get(coupon_id, lock=True)
        assert locked is not None
        edited = locked.edited(values, now=now())
        if edited != locked:
            await uow.coupons.change(coupon_id, values)
            await uow.commit()
    if ctx.stripe is None:
        return edited
    if "name" in values and edited.stripe_coupon_id is not None:
        await ctx.payments.rename_coupon(edited.stripe_coupon_id, edited.stripe_name)
    return await sync(ctx, edited)


async def sync(ctx: Context, coupon: Coupon) -> Coupon:
    """Bring Stripe in step with the coupon: a promotion code whose terms are no longer the
    coupon's (or of an inactive coupon, or one whose window has not opened) is deactivated;
    then an active coupon whose window has opened gets its Stripe coupon and a promotion code.

    Until its window opens Stripe does not know the code, so nobody can type it on the payment
    page early. A sync with nothing to change makes no Stripe call.
    """
    if coupon.promotion_outdated(now()):
        coupon = await _retire_promotion(ctx, coupon)
    if not coupon.active or not coupon.started(now()) or coupon.stripe_promotion_code_id:
        return coupon
    async with ctx.uow() as uow:
        redeemed = await uow.coupons.redeemed(coupon.id)
        tier_ids = coupon.tier_ids or [
            tier.id
            for tier in await catalog_repo.list_for_group(
                uow.session, Tier, coupon.group_id, limit=MAX_GROUP_TIERS, offset=0
            )
        ]
    products = [product_id_of(tier_id) for tier_id in tier_ids]
    # Twice at most: an earlier Stripe coupon found again may end before the window does.
    for _ in range(2):
        if coupon.stripe_coupon_id is None or coupon.needs_new_stripe_coupon:
            coupon = await _new_stripe_coupon(ctx, coupon, products)
    assert coupon.stripe_coupon_id is not None
    left = None if coupon.max_redemptions is None else coupon.max_redemptions - redeemed
    if left is not None and left <= 0:  # used up: no code to type on Stripe's page
        return coupon
    promotion_code = await ctx.payments.create_promotion_code(
        coupon, coupon.stripe_coupon_id, max_redemptions=left
    )
    async with ctx.uow() as uow:
        await uow.coupons.mark_synced(
            coupon, promotion_code_id=promotion_code.id, stripe_code=promotion_code.code
        )
        await uow.commit()
    return await _load(ctx, coupon.id)


async def _new_stripe_coupon(ctx: Context, coupon: Coupon, products: list[str]) -> Coupon:
    stripe_coupon_id, redeem_by = await ctx.payments.create_coupon(coupon, products)
    async with ctx.uow() as uow:
        await uow.coupons.mark_coupon_synced(coupon, stripe_coupon_id, redeem_by=redeem_by)
        await uow.commit()
    return await _load(ctx, coupon.id)


async def _retire_promotion(ctx: Context, coupon: Coupon) -> Coupon:
    """Deactivate the coupon's promotion code at Stripe, then record that it has none."""
    assert coupon.stripe_promotion_code_id is not None
    await ctx.payments.deactivate_promotion_code(coupon.stripe_promotion_code_id)
    async with ctx.uow() as uow:
        await uow.coupons.retire_promotion(coupon.id, coupon.stripe_promotion_code_id)
        await uow.commit()
    log.info("coupon.promotion_code_retired", coupon_id=coupon.id)
    return await _load(ctx, coupon.id)


async def validate(ctx: Context, principal: Principal, code: str, tier_id: str) -> dict[str, Any]:
    """Whether `code` of the tier's group applies to the tier now for the caller, and what it
    takes off the caller's price."""
    tier = await catalog.load(ctx, Tier, tier_id)
    amount = tier.price_for(principal.segment).amount
    async with ctx.uow() as uow:
        coupon = await uow.coupons.by_code(tier.group_id, normalize_code(code))
        redeemed = await uow.coupons.redeemed(coupon.id) if coupon else 0
        paid_before = await uow.checkouts.has_paid(principal.user_id) if coupon else False
    answer: dict[str, Any] = {"code": normalize_code(code), "tier_id": tier_id}
    if coupon is None:  # also another group's code: the same answer, so it stays unknown
        return {**answer, "valid": False, "reason": "unknown_code"}
    reason = coupon.rejection(
        tier, now=now(), redeemed=redeemed, amount=amount, first_time=not paid_before
    )
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


async def usable(ctx: Context, code: str, tier: Tier, *, user_id: str, amount: int) -> Coupon:
    """The coupon for `code` of the tier's group if it applies to `tier` now for `user_id` at
    the price `amount` (synced to Stripe), else `Invalid`."""
    async with ctx.uow() as uow:
        coupon = await uow.coupons.by_code(tier.group_id, normalize_code(code))
        if coupon is None:  # also another group's code, answered the same
            raise Invalid(f"unknown coupon code {code}", code="coupon_unknown_code")
        redeemed = await uow.coupons.redeemed(coupon.id)
        paid_before = await uow.checkouts.has_paid(user_id)
    coupon.ensure_usable(
        tier, now=now(), redeemed=redeemed, amount=amount, first_time=not paid_before
    )
    return await sync(ctx, coupon)


async def _load(ctx: Context, coupon_id: str) -> Coupon:
    async with ctx.uow() as uow:
        coupon = await uow.coupons.get(coupon_id)
    if coupon is None:
        raise NotFound(f"no coupon {coupon_id}")
    return coupon
