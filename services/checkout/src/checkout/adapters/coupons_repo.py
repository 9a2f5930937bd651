"""Coupons and their redemptions in the database."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from checkout.adapters.catalog_repo import to_entity
from checkout.adapters.orm import coupon_redemptions, coupons
from checkout.domain.coupons import Coupon
from tollgate_shared.persistence.unit_of_work import UnitOfWork


async def get(session: AsyncSession, coupon_id: str) -> Coupon | None:
    """A coupon by id."""
    row = (await session.execute(select(coupons).where(coupons.c.id == coupon_id))).first()
    return to_entity(Coupon, row) if row else None


async def list_for_group(
    session: AsyncSession, group_id: str, *, limit: int, offset: int
) -> list[Coupon]:
    """A group's coupons, newest first."""
    rows = await session.execute(
        select(coupons)
        .where(coupons.c.group_id == group_id)
        .order_by(coupons.c.created_at.desc(), coupons.c.id)
        .limit(limit)
        .offset(offset)
    )
    return [to_entity(Coupon, row) for row in rows]


async def redemptions(
    session: AsyncSession, coupon_id: str, *, limit: int, offset: int
) -> list[dict[str, Any]]:
    """A coupon's redemptions, newest first (then by session id: pages need a total order)."""
    r = coupon_redemptions
    rows = await session.execute(
        select(r)
        .where(r.c.coupon_id == coupon_id)
        .order_by(r.c.redeemed_at.desc(), r.c.stripe_session_id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [dict(row._mapping) for row in rows]


class Coupons:
    """Coupons and their redemptions, in a unit of work."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    @property
    def _session(self) -> AsyncSession:
        return self._uow.session

    async def get(self, coupon_id: str, *, lock: bool = False) -> Coupon | None:
        """A coupon by id; `lock` holds its row until the transaction ends."""
        if not lock:
            return await get(self._session, coupon_id)
        query = select(coupons).where(coupons.c.id == coupon_id).with_for_update()
        row = (await self._session.execute(query)).first()
        return to_entity(Coupon, row) if row else None

    async def change(self, coupon_id: str, values: dict[str, Any]) -> None:
        """Apply an organizer's edits."""
        await self._session.execute(
            update(coupons).where(coupons.c.id == coupon_id).values(**values)
        )

    async def add(self, values: dict[str, Any]) -> None:
        """Insert a coupon (raises IntegrityError if its group has the code already)."""
        await self._session.execute(coupons.insert().values(**values))

    async def by_code(self, group_id: str, code: str) -> Coupon | None:
        """A group's coupon by its normalized code."""
        query = select(coupons).where(coupons.c.group_id == group_id, coupons.c.code == code)
        row = (await self._session.execute(query)).first()
        return to_entity(Coupon, row) if row else None

    async def by_stripe_ids(
        self, *, coupon: str | None, promotion_code: str | None
    ) -> Coupon | None:
        """The coupon behind a Stripe coupon or promotion code id."""
        matches = [
            match
            for column, value in (
                (coupons.c.stripe_coupon_id, coupon),
                (coupons.c.stripe_promotion_code_id, promotion_code),
            )
            if value is not None
            for match in (column == value, coupons.c.retired_stripe_ids.contains([value]))
        ]
        if not matches:
            return None
        row = (await self._session.execute(select(coupons).where(or_(*matches)))).first()
        return to_entity(Coupon, row) if row else None

    async def mark_coupon_synced(
        self, coupon: Coupon, stripe_coupon_id: str, *, redeem_by: datetime | None
    ) -> None:
        """Record the coupon's Stripe coupon (and its `redeem_by`); one it replaces is retired
        (redemptions through it still count)."""
        replaced = coupon.stripe_coupon_id
        retired = [replaced] if replaced and replaced != stripe_coupon_id else []
        await self._session.execute(
            update(coupons)
            .where(coupons.c.id == coupon.id)
            .values(
                stripe_coupon_id=stripe_coupon_id,
                stripe_coupon_redeem_by=redeem_by,
                retired_stripe_ids=coupons.c.retired_stripe_ids.concat(retired),
            )
        )

    async def mark_synced(
        self,
        coupon: Coupon,
        *,
        promotion_code_id: str,
        stripe_code: str,
    ) -> None:
        """Record the coupon's current promotion code (id, the code it carries, its terms)."""
        await self._session.execute(
            update(coupons)
            .where(
                coupons.c.id == coupon.id, coupons.c.promotion_revision == coupon.promotion_revision
            )
            .values(
                stripe_promotion_code_id=promotion_code_id,
                stripe_code=stripe_code,
                promotion_terms=coupon.promotion_terms_wanted(),
            )
        )

    async def retire_promotion(self, coupon_id: str, promotion_code_id: str) -> None:
        """The promotion code is no longer the coupon's (Stripe deactivated it): the next sync
        makes the coupon a new one, if it is to have one."""
        await self._session.execute(
            update(coupons)
            .where(
                coupons.c.id == coupon_id,
                coupons.c.stripe_promotion_code_id == promotion_code_id,
            )
            .values(
                stripe_promotion_code_id=None,
                stripe_code=None,
                promotion_terms=None,
                promotion_revision=coupons.c.promotion_revision + 1,
                retired_stripe_ids=coupons.c.retired_stripe_ids.concat([promotion_code_id]),
            )
        )

    async def redeemed(self, coupon_id: str) -> int:
        """How many completed checkouts used the coupon."""
        query = select(func.count()).where(coupon_redemptions.c.coupon_id == coupon_id)
        return (await self._session.execute(query)).scalar_one()

    async def add_redemption(self, values: dict[str, Any]) -> bool:
        """Record a redemption once per Stripe session; False if it was already recorded."""
        result = await self._session.execute(
            insert(coupon_redemptions)
            .values(**values)
            .on_conflict_do_nothing()
            .returning(coupon_redemptions.c.stripe_session_id)
        )
        return result.first() is not None
