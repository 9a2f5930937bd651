"""Tiers, items and their Stripe prices in the database."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from typing import Any, TypeVar

from sqlalchemy import Row, Table, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from checkout.adapters.orm import items, prices, tiers
from checkout.domain.catalog import Item, PriceSpec, Tier
from tollgate_shared.persistence.unit_of_work import UnitOfWork

E = TypeVar("E")


def to_entity(cls: type[E], row: Row[Any] | Mapping[str, Any]) -> E:
    """Build a domain dataclass from a row's columns of the same names."""
    mapping = row._mapping if isinstance(row, Row) else row
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    return cls(**{name: mapping[name] for name in names})


def table_of(kind: type[Tier] | type[Item]) -> Table:
    """The table a catalog entry kind lives in."""
    return tiers if kind is Tier else items


async def get(
    session: AsyncSession, kind: type[E], entry_id: str, *, lock: bool = False
) -> E | None:
    """A tier or item by id; `lock` takes its row lock until the transaction ends."""
    table = table_of(kind)  # type: ignore[arg-type]
    query = select(table).where(table.c.id == entry_id)
    if lock:
        query = query.with_for_update()
    row = (await session.execute(query)).first()
    return to_entity(kind, row) if row else None


async def list_for_group(
    session: AsyncSession, kind: type[E], group_id: str, *, limit: int, offset: int
) -> list[E]:
    """A group's tiers or items, oldest first."""
    table = table_of(kind)  # type: ignore[arg-type]
    rows = await session.execute(
        select(table)
        .where(table.c.group_id == group_id)
        .order_by(table.c.created_at, table.c.id)
        .limit(limit)
        .offset(offset)
    )
    return [to_entity(kind, row) for row in rows]


async def next_seat_revisions(
    session: AsyncSession, tier_ids: Collection[str]
) -> list[tuple[str, str, int]]:
    """Of `tier_ids`, the tiers with a capacity, each with its group and its next seat-holds
    revision (stored). Their rows stay locked until the transaction ends, taken in id order
    (transactions announcing the same tiers never deadlock), so two changes of a tier's holds
    never share a revision and the later one counts what the earlier committed."""
    locked = (
        select(tiers.c.id)
        .where(tiers.c.id.in_(sorted(tier_ids)), tiers.c.capacity.is_not(None))
        .order_by(tiers.c.id)
        .with_for_update()
        .cte("locked")
    )
    rows = await session.execute(
        update(tiers)
        .where(tiers.c.id == locked.c.id)
        .values(seats_revision=tiers.c.seats_revision + 1)
        .returning(tiers.c.id, tiers.c.group_id, tiers.c.seats_revision)
    )
    return [(row.id, row.group_id, row.seats_revision) for row in rows]


class Catalog:
    """Tiers, items and their Stripe prices, in a unit of work."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    @property
    def _session(self) -> AsyncSession:
        return self._uow.session

    async def get(self, kind: type[E], entry_id: str, *, lock: bool = False) -> E | None:
        """A tier or item by id; `lock` takes its row lock until the transaction ends."""
        return await get(self._session, kind, entry_id, lock=lock)

    async def add(self, kind: type[Tier] | type[Item], values: dict[str, Any]) -> None:
        """Insert a new tier or item."""
        await self._session.execute(table_of(kind).insert().values(**values))

    async def change(
        self, kind: type[Tier] | type[Item], entry_id: str, values: dict[str, Any]
    ) -> None:
        """Apply changes and bump the version, so the next sync uses new idempotency keys."""
        table = table_of(kind)
        await self._session.execute(
            update(table)
            .where(table.c.id == entry_id)
            .values(**values, version=table.c.version + 1, updated_at=func.now())
        )

    async def lock_for_sync(self, entry_id: str) -> None:
        """Serialize syncs of one entry until the transaction ends."""
        await self._uow.lock(f"sync:{entry_id}")

    async def mark_synced(
        self,
        kind: type[Tier] | type[Item],
        entry_id: str,
        *,
        version: int,
        product_id: str,
    ) -> None:
        """Record that `version` of the entry is on Stripe."""
        table = table_of(kind)
        await self._session.execute(
            update(table)
            .where(table.c.id == entry_id)
            .values(stripe_product_id=product_id, synced_version=version)
        )

    async def active_prices(self, owner_id: str) -> dict[PriceSpec, str]:
        """The entry's active Stripe prices by what they charge."""
        rows = await self._session.execute(
            select(prices).where(prices.c.owner_id == owner_id, prices.c.active)
        )
        return {
            PriceSpec(row.segment, row.amount, row.currency, row.interval): row.stripe_price_id
            for row in rows
        }

    async def add_price(self, owner_id: str, spec: PriceSpec, stripe_price_id: str) -> None:
        """Record a Stripe price (a replayed creation is recorded once)."""
        await self._session.execute(
            insert(prices)
            .values(owner_id=owner_id, stripe_price_id=stripe_price_id, active=True, **vars(spec))
            .on_conflict_do_nothing(index_elements=["stripe_price_id"])
        )

    async def deactivate_price(self, stripe_price_id: str) -> None:
        """Record that a price is no longer sold."""
        await self._session.execute(
            update(prices).where(prices.c.stripe_price_id == stripe_price_id).values(active=False)
        )
