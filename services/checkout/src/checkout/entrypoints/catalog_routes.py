"""Catalog routes: tiers, items and coupons (organizers write, anyone reads the tiers)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from checkout.adapters import catalog_repo, coupons_repo
from checkout.domain.catalog import Item, Tier
from checkout.domain.errors import NotFound
from checkout.entrypoints.catalog_schemas import (
    CouponIn,
    CouponOut,
    CouponPatch,
    CouponValidation,
    ItemIn,
    ItemOut,
    ItemPatch,
    RedemptionOut,
    TierIn,
    TierOut,
    TierPatch,
)
from checkout.entrypoints.dependencies import ContextDep, Limit, Offset, ValidateCaller
from checkout.service_layer import catalog, coupons
from checkout.service_layer.context import ensure_manager
from tollgate_shared.web.auth import CurrentUser
from tollgate_shared.web.errors import error_responses
from tollgate_shared.web.validation import ShortId as Id

router = APIRouter(tags=["catalog"])
GroupId = Annotated[Id, Query()]


@router.get("/tiers", response_model=list[TierOut])
async def list_tiers(
    ctx: ContextDep, group_id: GroupId, limit: Limit = 50, offset: Offset = 0
) -> list[TierOut]:
    """A group's membership tiers (public: the storefront lists them)."""
    async with ctx.sessions() as session:
        found = await catalog_repo.list_for_group(
            session, Tier, group_id, limit=limit, offset=offset
        )
    return [TierOut.of(tier) for tier in found]


@router.get("/tiers/{tier_id}", response_model=TierOut, responses=error_responses(404))
async def get_tier(ctx: ContextDep, tier_id: Id) -> TierOut:
    """One tier."""
    return TierOut.of(await catalog.load(ctx, Tier, tier_id))


@router.post("/groups/{group_id}/tiers", response_model=TierOut, status_code=201)
async def create_tier(ctx: ContextDep, user: CurrentUser, group_id: Id, body: TierIn) -> TierOut:
    """Add a tier to the group (organizer/admin); it is put on Stripe at once if possible."""
    return TierOut.of(await catalog.create(ctx, user, Tier, group_id, body.model_dump()))


@router.patch("/tiers/{tier_id}", response_model=TierOut, responses=error_responses(404))
async def update_tier(ctx: ContextDep, user: CurrentUser, tier_id: Id, body: TierPatch) -> TierOut:
    """Change a tier; a new amount gets a new Stripe price and the old one stops selling."""
    return TierOut.of(await catalog.change(ctx, user, Tier, tier_id, body.changes()))


@router.get("/items", response_model=list[ItemOut])
async def list_items(
    ctx: ContextDep, group_id: GroupId, limit: Limit = 50, offset: Offset = 0
) -> list[ItemOut]:
    """A group's one-off purchasable items."""
    async with ctx.sessions() as session:
        found = await catalog_repo.list_for_group(
            session, Item, group_id, limit=limit, offset=offset
        )
    return [ItemOut.of(item) for item in found]


@router.post("/groups/{group_id}/items", response_model=ItemOut, status_code=201)
async def create_item(ctx: ContextDep, user: CurrentUser, group_id: Id, body: ItemIn) -> ItemOut:
    """Add a purchasable item with a fixed price (organizer/admin)."""
    return ItemOut.of(await catalog.create(ctx, user, Item, group_id, body.model_dump()))


@router.patch("/items/{item_id}", response_model=ItemOut, responses=error_responses(404))
async def update_item(ctx: ContextDep, user: CurrentUser, item_id: Id, body: ItemPatch) -> ItemOut:
    """Change an item (organizer/admin)."""
    return ItemOut.of(await catalog.change(ctx, user, Item, item_id, body.changes()))


@router.post(
    "/groups/{group_id}/coupons",
    response_model=CouponOut,
    status_code=201,
    responses=error_responses(404, 409, 502),
)
async def create_coupon(
    ctx: ContextDep, user: CurrentUser, group_id: Id, body: CouponIn
) -> CouponOut:
    """Create a coupon and its promotion code for the group's tiers (organizer/admin)."""
    return CouponOut.of(await coupons.create(ctx, user, group_id, body.model_dump()))


@router.patch("/coupons/{coupon_id}", response_model=CouponOut, responses=error_responses(404, 502))
async def update_coupon(
    ctx: ContextDep, user: CurrentUser, coupon_id: Id, body: CouponPatch
) -> CouponOut:
    """Edit a coupon (window, limit, name, restrictions) or switch it off (`active: false`) or
    on (organizer/admin): checkouts follow at once, Stripe's promotion code is deactivated or
    replaced to match."""
    return CouponOut.of(await coupons.change(ctx, user, coupon_id, body.changes()))


@router.get("/groups/{group_id}/coupons", response_model=list[CouponOut])
async def list_coupons(
    ctx: ContextDep, user: CurrentUser, group_id: Id, limit: Limit = 50, offset: Offset = 0
) -> list[CouponOut]:
    """The group's coupons, newest first (organizer/admin)."""
    ensure_manager(user, group_id)
    async with ctx.sessions() as session:
        found = await coupons_repo.list_for_group(session, group_id, limit=limit, offset=offset)
    return [CouponOut.of(coupon) for coupon in found]


@router.get(
    "/coupons/{code}/validate", response_model=CouponValidation, responses=error_responses(404)
)
async def validate_coupon(
    ctx: ContextDep, user: ValidateCaller, code: Id, tier_id: Annotated[Id, Query()]
) -> CouponValidation:
    """Whether a code applies to a tier now, and the caller's discount (rate-limited per user)."""
    answer = await coupons.validate(ctx, user, code, tier_id)
    return CouponValidation(**answer)


@router.get(
    "/coupons/{coupon_id}/redemptions",
    response_model=list[RedemptionOut],
    responses=error_responses(404),
)
async def list_redemptions(
    ctx: ContextDep, user: CurrentUser, coupon_id: Id, limit: Limit = 50, offset: Offset = 0
) -> list[RedemptionOut]:
    """Completed checkouts that used the coupon, newest first (organizer/admin)."""
    async with ctx.sessions() as session:
        coupon = await coupons_repo.get(session, coupon_id)
        if coupon is None:
            raise NotFound(f"no coupon {coupon_id}")
        ensure_manager(user, coupon.group_id)
        found = await coupons_repo.redemptions(session, coupon_id, limit=limit, offset=offset)
    return [RedemptionOut.model_validate(row) for row in found]
