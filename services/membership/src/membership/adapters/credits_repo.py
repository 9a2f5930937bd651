"""Credit balances, allocations, history and spend answers (SQLAlchemy Core)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from membership.adapters import orm
from membership.adapters.statements import LOCK_BALANCES, balances_query
from membership.domain.credits import Allocation, Entry, SpendOutcome, SpendRequest
from membership.domain.model import MembershipKey
from tollgate_shared.persistence.unit_of_work import Known, UnitOfWork


def _member(table: Any, key: MembershipKey) -> list[Any]:
    return [table.c.group_id == key.group_id, table.c.user_id == key.user_id]


BALANCES = balances_query(bindparam("user_id"), bindparam("group_id"))
"""A member's balance per kind, bound by `user_id` and `group_id`."""


async def history(
    session: AsyncSession,
    key: MembershipKey,
    *,
    kind: str | None,
    before: int | None,
    limit: int,
) -> Sequence[Row[Any]]:
    """The member's credit history, newest first, `limit` entries with ids below `before`."""
    t = orm.credit_entries
    conditions = _member(t, key)
    if kind is not None:
        conditions.append(t.c.kind == kind)
    if before is not None:
        conditions.append(t.c.id < before)
    rows = await session.execute(select(t).where(*conditions).order_by(t.c.id.desc()).limit(limit))
    return rows.all()


class Credits:
    """Members' credits as one unit of work reads and writes them: balances, allocations,
    spends."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
        self._locked: Known[MembershipKey, dict[str, int]] = Known(uow)
        """Balances this unit locked, kept as its own writes leave them (the rows stay
        locked: no one else changes them until it ends)."""

    @property
    def _session(self) -> AsyncSession:
        return self._uow.session

    async def _lock_balances(
        self, keys: list[MembershipKey]
    ) -> dict[MembershipKey, dict[str, int]]:
        params = {"user_ids": [k.user_id for k in keys], "group_ids": [k.group_id for k in keys]}
        found: dict[MembershipKey, dict[str, int]] = {key: {} for key in keys}
        for row in await self._uow.execute(LOCK_BALANCES, params):
            found[MembershipKey(row["user_id"], row["group_id"])][row["kind"]] = row["balance"]
        return found

    async def lock_ahead(self, keys: Collection[MembershipKey]) -> None:
        """Lock and read the balances of the members `keys` not locked yet, in one statement
        (their members are locked first), for `balances(lock=True)`."""
        wanted = [key for key in keys if key not in self._locked]
        if wanted:
            found = await self._lock_balances(wanted)
            for key in wanted:
                self._locked[key] = found[key]

    def _left(self, key: MembershipKey, balances: dict[str, int]) -> None:
        """Keep what this unit's write left of a member's balances, if it locked them."""
        if key in self._locked:
            self._locked[key] = {**(self._locked[key] or {}), **balances}

    async def balances(self, key: MembershipKey, *, lock: bool = False) -> dict[str, int]:
        """The member's balance per kind (locked until the transaction ends when `lock`)."""
        if lock:
            await self.lock_ahead([key])
            return dict(self._locked[key] or {})
        rows = await self._session.execute(
            BALANCES, {"user_id": key.user_id, "group_id": key.group_id}
        )
        return {r.kind: r.balance for r in rows}

    async def record_allocation(self, key: MembershipKey, allocation: Allocation) -> bool:
        """Record a paid cycle once; False if it was recorded before."""
        t = orm.credit_allocations
        result = await self._session.execute(
            insert(t)
            .values(
                group_id=key.group_id,
                user_id=key.user_id,
                cause=allocation.cause,
                allowances=dict(allocation.allowances),
                cycle_start=allocation.cycle_start,
                cycle_end=allocation.cycle_end,
                applied=False,
            )
            .on_conflict_do_nothing()
            .returning(t.c.cause)
        )
        return result.first() is not None

    async def due_allocations(self, key: MembershipKey, now: datetime) -> list[Allocation]:
        """The member's recorded cycles not applied yet that have started by `now`."""
        t = orm.credit_allocations
        rows = await self._session.execute(
            select(t)
            .where(*_member(t, key), t.c.applied.is_(False), t.c.cycle_start <= now)
            .order_by(t.c.cycle_start, t.c.cause)
        )
        return [Allocation(r.cause, dict(r.allowances), r.cycle_start, r.cycle_end) for r in rows]

    async def due_members(self, now: datetime, limit: int) -> list[MembershipKey]:
        """Members with a recorded cycle that has started by `now` and is not applied yet."""
        t = orm.credit_allocations
        rows = await self._session.execute(
            select(t.c.user_id, t.c.group_id)
            .where(t.c.applied.is_(False), t.c.cycle_start <= now)
            .group_by(t.c.user_id, t.c.group_id)
            .order_by(func.min(t.c.cycle_start))
            .limit(limit)
        )
        return [MembershipKey(r.user_id, r.group_id) for r in rows]

    async def latest_cycle_start(self, key: MembershipKey) -> datetime | None:
        """The start of the newest cycle whose allowances were applied."""
        t = orm.credit_allocations
        latest: datetime | None = await self._session.scalar(
            select(func.max(t.c.cycle_start)).where(*_member(t, key), t.c.applied)
        )
        return latest

    async def apply_allocation(
        self, key: MembershipKey, allocation: Allocation, entries: list[Entry]
    ) -> None:
        """Set each kind's balance as `entries` leave it, and write them to the history."""
        b, a = orm.credit_balances, orm.credit_allocations
        final = {e.kind: e.balance_after for e in entries}
        for kind, balance in final.items():
            stmt = insert(b).values(
                group_id=key.group_id, user_id=key.user_id, kind=kind, balance=balance
            )
            await self._session.execute(
                stmt.on_conflict_do_update(
                    index_elements=[b.c.group_id, b.c.user_id, b.c.kind],
                    set_={"balance": stmt.excluded.balance, "updated_at": func.now()},
                )
            )
        self._left(key, final)
        await self.add_entries(key, entries)
        await self._session.execute(
            update(a).where(*_member(a, key), a.c.cause == allocation.cause).values(applied=True)
        )

    async def add_entries(self, key: MembershipKey, entries: list[Entry]) -> None:
        """Append lines to the member's credit history."""
        if entries:
            await self._session.execute(
                insert(orm.credit_entries),
                [
                    {
                        "group_id": key.group_id,
                        "user_id": key.user_id,
                        "kind": e.kind,
                        "type": e.type,
                        "delta": e.delta,
                        "balance_after": e.balance_after,
                        "cause": e.cause,
                    }
                    for e in entries
                ],
            )

    async def claim_spend(
        self, key: MembershipKey, idempotency_key: str, request: SpendRequest
    ) -> bool:
        """Reserve the idempotency key for this request; False if it was used before (a concurrent
        request with the same key waits here until the first one commits)."""
        t = orm.credit_spends
        result = await self._session.execute(
            insert(t)
            .values(
                group_id=key.group_id,
                user_id=key.user_id,
                idempotency_key=idempotency_key,
                fingerprint=request.fingerprint,
                kind=request.kind,
                amount=request.amount,
                reference=request.reference,
            )
            .on_conflict_do_nothing()
            .returning(t.c.idempotency_key)
        )
        return result.first() is not None

    async def spend_answer(
        self, key: MembershipKey, idempotency_key: str
    ) -> tuple[str, SpendOutcome] | None:
        """The stored answer to an earlier request with this key, with that request's
        fingerprint."""
        t = orm.credit_spends
        row = (
            await self._session.execute(
                select(t).where(*_member(t, key), t.c.idempotency_key == idempotency_key)
            )
        ).first()
        if row is None or row.spent is None:
            return None
        request = SpendRequest(kind=row.kind, amount=row.amount, reference=row.reference)
        outcome = SpendOutcome(request, spent=row.spent, balance=row.balance, at=row.created_at)
        return row.fingerprint, outcome

    async def debit(self, key: MembershipKey, kind: str, amount: int) -> int | None:
        """Take `amount` off the balance if it holds that much (one conditional UPDATE, so
        concurrent spends never take it below zero); the new balance, or None if it did not."""
        t = orm.credit_balances
        result = await self._session.execute(
            update(t)
            .where(*_member(t, key), t.c.kind == kind, t.c.balance >= amount)
            .values(balance=t.c.balance - amount, updated_at=func.now())
            .returning(t.c.balance)
        )
        balance: int | None = result.scalar_one_or_none()
        if balance is not None:
            self._left(key, {kind: balance})
        return balance

    async def answer_spend(
        self, key: MembershipKey, idempotency_key: str, *, spent: bool, balance: int
    ) -> datetime:
        """Store the answer given to the request holding this key; returns when it was made."""
        t = orm.credit_spends
        result = await self._session.execute(
            update(t)
            .where(*_member(t, key), t.c.idempotency_key == idempotency_key)
            .values(spent=spent, balance=balance)
            .returning(t.c.created_at)
        )
        created_at: datetime = result.scalar_one()
        return created_at


async def balances_by_group(session: AsyncSession, user_id: str) -> dict[str, dict[str, int]]:
    """A user's credit balance per kind in every group."""
    t = orm.credit_balances
    rows = await session.execute(
        select(t.c.group_id, t.c.kind, t.c.balance)
        .where(t.c.user_id == user_id)
        .order_by(t.c.group_id, t.c.kind)
    )
    found: dict[str, dict[str, int]] = {}
    for row in rows:
        found.setdefault(row.group_id, {})[row.kind] = row.balance
    return found
