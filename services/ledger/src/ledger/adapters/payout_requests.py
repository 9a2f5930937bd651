"""Payout requests and schedules."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ledger.adapters import orm
from ledger.domain.payouts import AUTO, PENDING, TRANSFERABLE, Interval, PayoutStatus
from tollgate_shared.persistence.pagination import keyset_page
from tollgate_shared.persistence.unit_of_work import UnitOfWork

r, s = orm.payout_requests, orm.payout_schedules


async def list_for_group(
    session: AsyncSession, group_id: str, *, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """The group's requests and disbursements, newest first, and the next page's cursor."""
    rows, next_cursor = await keyset_page(
        session,
        select(r).where(r.c.group_id == group_id),
        (r.c.created_at, r.c.payout_id),
        limit=limit,
        cursor=cursor,
    )
    return [dict(row._mapping) for row in rows], next_cursor


async def get_schedule(session: AsyncSession, group_id: str) -> dict[str, Any] | None:
    """The group's payout schedule, if set."""
    row = (await session.execute(select(s).where(s.c.group_id == group_id))).first()
    return dict(row._mapping) if row else None


async def put_schedule(session: AsyncSession, group_id: str, **values: Any) -> dict[str, Any]:
    """Create or replace the group's schedule."""
    stmt = insert(s).values(group_id=group_id, **values)
    row = (
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=[s.c.group_id], set_={**values, "updated_at": func.now()}
            ).returning(s)
        )
    ).one()
    return dict(row._mapping)


class AbstractPayoutRequests(Protocol):
    """What the service layer asks of payout requests and schedules: `PayoutRequests` keeps
    them in Postgres; the unit tests drive the handlers with an in-memory fake of this
    interface."""

    async def get(self, payout_id: str, *, lock: bool = False) -> dict[str, Any] | None: ...
    async def by_idempotency_key(self, group_id: str, key: str) -> dict[str, Any] | None: ...
    async def pending_total(self, group_id: str, currency: str) -> int: ...
    async def add(self, **values: Any) -> dict[str, Any]: ...
    async def update(self, payout_id: str, **values: Any) -> dict[str, Any]: ...
    async def decide(
        self, payout_id: str, *, status: PayoutStatus, decided_by: str, **values: Any
    ) -> dict[str, Any]: ...
    async def mark_paid(self, payout_id: str, *, transfer_id: str) -> None: ...
    async def mark_failed(self, payout_id: str, *, failure: str) -> bool: ...
    async def get_schedule(self, group_id: str) -> dict[str, Any] | None: ...
    async def claim_due_schedule(
        self, now: datetime, *, skip: Collection[str] = ()
    ) -> dict[str, Any] | None: ...
    async def move_schedule(self, group_id: str, next_due_at: datetime | None) -> None: ...
    async def auto_approved_unpaid(self, before: datetime, *, limit: int) -> list[str]: ...


class PayoutRequests:
    """Payout requests and schedules as one unit of work reads and writes them."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    @property
    def _session(self) -> AsyncSession:
        return self._uow.session

    async def get(self, payout_id: str, *, lock: bool = False) -> dict[str, Any] | None:
        """One request; with `lock`, row-locked until the transaction ends (decisions on it wait
        for each other)."""
        query = select(r).where(r.c.payout_id == payout_id)
        row = (await self._session.execute(query.with_for_update() if lock else query)).first()
        return dict(row._mapping) if row else None

    async def by_idempotency_key(self, group_id: str, key: str) -> dict[str, Any] | None:
        """The request a client already made with this key."""
        row = (
            await self._session.execute(
                select(r).where(r.c.group_id == group_id, r.c.idempotency_key == key)
            )
        ).first()
        return dict(row._mapping) if row else None

    async def pending_total(self, group_id: str, currency: str) -> int:
        """What the group's pending requests reserve."""
        total = await self._session.scalar(
            select(func.coalesce(func.sum(r.c.amount), 0)).where(
                r.c.group_id == group_id, r.c.currency == currency, r.c.status.in_(PENDING)
            )
        )
        return int(total or 0)

    async def add(self, **values: Any) -> dict[str, Any]:
        """A new request in status `requested`."""
        row = (
            await self._session.execute(
                r.insert()
                .values(
                    payout_id="payreq_" + uuid.uuid4().hex[:20],
                    status=PayoutStatus.REQUESTED,
                    **values,
                )
                .returning(r)
            )
        ).one()
        return dict(row._mapping)

    async def update(self, payout_id: str, **values: Any) -> dict[str, Any]:
        """Change a request; returns it as it is now."""
        row = (
            await self._session.execute(
                r.update().where(r.c.payout_id == payout_id).values(**values).returning(r)
            )
        ).one()
        return dict(row._mapping)

    async def decide(
        self, payout_id: str, *, status: PayoutStatus, decided_by: str, **values: Any
    ) -> dict[str, Any]:
        """Record an admin's decision on the request, and when it was taken."""
        return await self.update(
            payout_id,
            status=status,
            decided_by=decided_by,
            decided_at=func.now(),
            **values,
        )

    async def mark_paid(self, payout_id: str, *, transfer_id: str) -> None:
        """The request's money was sent (its transfer is booked in the same transaction)."""
        await self._session.execute(
            r.update()
            .where(r.c.payout_id == payout_id, r.c.status.in_(TRANSFERABLE))
            .values(
                status=PayoutStatus.PAID,
                transfer_id=transfer_id,
                decided_at=func.coalesce(r.c.decided_at, func.now()),
            )
        )

    async def mark_failed(self, payout_id: str, *, failure: str) -> bool:
        """Stripe refused the approved request's transfer: its reservation is released (unless a
        transfer was booked for it meanwhile); whether it was marked now."""
        marked = await self._session.scalar(
            r.update()
            .where(r.c.payout_id == payout_id, r.c.status == PayoutStatus.APPROVED)
            .values(status=PayoutStatus.FAILED, failure=failure[:500])
            .returning(r.c.payout_id)
        )
        return marked is not None

    async def get_schedule(self, group_id: str) -> dict[str, Any] | None:
        """A group's payout schedule, if it has one."""
        return await get_schedule(self._session, group_id)

    async def claim_due_schedule(
        self, now: datetime, *, skip: Collection[str] = ()
    ) -> dict[str, Any] | None:
        """The schedule due longest ago at `now` (but those of `skip`), row-locked until the
        transaction ends; one another transaction holds is skipped, so replicas each take
        another."""
        query = (
            select(s)
            .where(s.c.next_due_at <= now, s.c.interval != Interval.MANUAL.value)
            .order_by(s.c.next_due_at, s.c.group_id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if skip:
            query = query.where(s.c.group_id.not_in(list(skip)))
        row = (await self._session.execute(query)).first()
        return dict(row._mapping) if row else None

    async def move_schedule(self, group_id: str, next_due_at: datetime | None) -> None:
        """Set when the group's schedule is next due."""
        await self._session.execute(
            s.update().where(s.c.group_id == group_id).values(next_due_at=next_due_at)
        )

    async def auto_approved_unpaid(self, before: datetime, *, limit: int) -> list[str]:
        """Requests approved without an admin before `before` whose transfer is not booked yet
        (Stripe did not answer, or the replica stopped before it asked), oldest first."""
        found = await self._session.scalars(
            select(r.c.payout_id)
            .where(
                r.c.status == PayoutStatus.APPROVED,
                r.c.decided_by == AUTO,
                r.c.decided_at < before,
            )
            .order_by(r.c.decided_at)
            .limit(limit)
        )
        return list(found)
