"""Catalog commands: create and change tiers and items, and keep Stripe in step."""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

import structlog

from checkout.domain.catalog import Item, PriceSpec, Tier, announcement
from checkout.domain.errors import CheckoutError, Conflict, NotFound, PaymentProviderTrouble
from checkout.service_layer import withdrawals
from checkout.service_layer.context import Context, ensure_manager
from checkout.service_layer.unit_of_work import CheckoutUnitOfWork
from tollgate_shared.web.auth import Principal

log = structlog.get_logger(__name__)
Entry = TypeVar("Entry", Tier, Item)
PREFIX = {Tier: "tier", Item: "item"}


async def load(ctx: Context, kind: type[Entry], entry_id: str) -> Entry:
    """A tier or item, or NotFound."""
    async with ctx.uow() as uow:
        entry = await uow.catalog.get(kind, entry_id)
    if entry is None:
        raise NotFound(f"no {PREFIX[kind]} {entry_id}")
    return entry


async def create(
    ctx: Context, principal: Principal, kind: type[Entry], group_id: str, values: dict[str, Any]
) -> Entry:
    """Add a tier or item to the group's catalog, then put it on Stripe."""
    ensure_manager(principal, group_id)
    entry_id = f"{PREFIX[kind]}_{uuid.uuid4().hex[:20]}"
    async with ctx.uow() as uow:
        await uow.catalog.add(kind, {**values, "id": entry_id, "group_id": group_id})
        await _announce(uow, kind, entry_id)
        await uow.commit()
    return await sync_quietly(ctx, kind, entry_id)


async def change(
    ctx: Context, principal: Principal, kind: type[Entry], entry_id: str, values: dict[str, Any]
) -> Entry:
    """Change a tier or item (a new version), bring Stripe in step, then close the checkouts
    still open at a price no longer sold."""
    entry = await load(ctx, kind, entry_id)
    ensure_manager(principal, entry.group_id)
    if values:
        async with ctx.uow() as uow:
            await uow.catalog.change(kind, entry_id, values)
            await _announce(uow, kind, entry_id)
            if kind is Tier and "capacity" in values:
                uow.holds_changed.add(entry_id)  # a tier given a capacity: what is held on it
            await uow.commit()
    entry = await sync_quietly(ctx, kind, entry_id)
    if ctx.stripe is not None:
        try:
            await close_old_prices(ctx, entry_id)
        except (CheckoutError, PaymentProviderTrouble) as exc:
            log.warning("catalog.close_deferred", entry_id=entry_id, error=exc.message)
    return entry


async def close_old_prices(ctx: Context, entry_id: str) -> None:
    """End at Stripe the open checkouts of the entry at a price it no longer sells (a session
    expired, an incomplete subscription or a PaymentIntent canceled; a purchase's end is
    announced): their buyers start again, at the new price. Until a sync retired the old
    prices there are none; a later change closes any a failure left open."""
    async with ctx.uow() as uow:
        selling = await uow.catalog.active_prices(entry_id)
        stale = await uow.checkouts.open_at_other_prices(entry_id, selling.values())
    for record in stale:
        await withdrawals.withdraw(ctx, record, announce=True)
    if stale:
        log.info("catalog.old_prices_closed", entry_id=entry_id, checkouts=len(stale))


async def _announce(uow: CheckoutUnitOfWork, kind: type[Entry], entry_id: str) -> None:
    """Announce the entry's new version (`CatalogEntryChanged`) with the write."""
    entry = await uow.catalog.get(kind, entry_id)
    assert entry is not None
    uow.emit(announcement(entry))


async def sync_quietly(ctx: Context, kind: type[Entry], entry_id: str) -> Entry:
    """Sync now if Stripe can be reached; otherwise checkout syncs it before selling."""
    if ctx.stripe is not None:
        try:
            return await sync(ctx, kind, entry_id)
        except (CheckoutError, PaymentProviderTrouble) as exc:
            log.warning("catalog.sync_deferred", entry_id=entry_id, error=exc.message)
    return await load(ctx, kind, entry_id)


async def sync(ctx: Context, kind: type[Entry], entry_id: str) -> Entry:
    """Make Stripe sell exactly the entry's current prices: a product, a price per amount.

    Stripe calls are idempotent per entry version, and syncs of one entry are serialized, so
    concurrent or repeated syncs create each product and price once.
    """
    async with ctx.uow() as uow:
        await uow.catalog.lock_for_sync(entry_id)
        entry = await uow.catalog.get(kind, entry_id)
        if entry is None:
            raise NotFound(f"no {PREFIX[kind]} {entry_id}")
        if entry.synced_version == entry.version:
            return entry
        product_id = await ctx.payments.upsert_product(entry)
        current = await uow.catalog.active_prices(entry.id)
        wanted = entry.price_specs()
        for spec in wanted:
            if spec not in current:
                price_id = await ctx.payments.create_price(entry, spec)
                await uow.catalog.add_price(entry.id, spec, price_id)
        for spec, price_id in current.items():
            if spec not in wanted:
                await ctx.payments.deactivate_price(price_id)
                await uow.catalog.deactivate_price(price_id)
        await uow.catalog.mark_synced(kind, entry.id, version=entry.version, product_id=product_id)
        await uow.commit()
    log.info("catalog.synced", entry_id=entry.id, version=entry.version)
    return await load(ctx, kind, entry_id)


async def current_price(ctx: Context, kind: type[Entry], entry: Entry, spec: PriceSpec) -> str:
    """The Stripe price to sell `spec` with, syncing first if the entry changed since."""
    if entry.synced_version != entry.version:
        await sync(ctx, kind, entry.id)
    async with ctx.uow() as uow:
        prices = await uow.catalog.active_prices(entry.id)
    if spec not in prices:
        raise Conflict(f"{entry.id} changed during checkout; retry", code="price_changed")
    return prices[spec]
