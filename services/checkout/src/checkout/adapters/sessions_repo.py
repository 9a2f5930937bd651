"""Checkouts, seat holds, members and Stripe customers in the database."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    DateTime,
    and_,
    case,
    exists,
    func,
    literal,
    literal_column,
    or_,
    select,
    union,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from checkout.adapters.catalog_repo import to_entity
from checkout.adapters.orm import checkout_sessions, customers, members, tiers
from checkout.adapters.statements import LOCK_KNOWN, MOVES, holding, limited_tier
from checkout.domain.checkout import NEVER, CheckoutRecord, Member, Status
from tollgate_shared.persistence.unit_of_work import UnitOfWork

S = checkout_sessions


async def held_seats(
    session: AsyncSession, tier_ids: Collection[str]
) -> dict[str, tuple[int, datetime]]:
    """Per tier (those with holds): how many distinct users other than its active members hold
    a seat (the holds `seats_taken` counts), and when the last of their holds lapses by time.
    A checkout being paid or paid holds until membership counts the user: it never lapses."""
    never = literal(NEVER, DateTime(timezone=True))
    lapses = case((S.c.status.in_(("pending", "open")), S.c.expires_at), else_=never)
    counted = exists().where(
        members.c.user_id == S.c.user_id, members.c.tier_id == S.c.tier_id, members.c.active
    )
    rows = await session.execute(
        select(
            S.c.tier_id,
            func.count(S.c.user_id.distinct()).label("held"),
            func.max(lapses).label("held_until"),
        )
        .where(
            S.c.tier_id.in_(list(tier_ids)),
            S.c.purpose == "membership",
            S.c.released_at.is_(None),
            holding(),
            ~counted,
        )
        .group_by(S.c.tier_id)
    )
    return {row.tier_id: (row.held, row.held_until) for row in rows}


class CheckoutSessions:
    """Checkouts, seat holds, members and Stripe customers, in a unit of work. The tiers with
    a capacity whose seat holds it changes go into `holds_changed` (announced at commit)."""

    def __init__(self, uow: UnitOfWork, holds_changed: set[str]) -> None:
        self._uow = uow
        self._holds_changed = holds_changed
        self._locked: dict[str, CheckoutRecord] = {}
        """Checkouts `lock_known` read, by id and by Stripe id: each answered once by a locking
        `get` (what a handler changes, the next reads back)."""
        self._with_customer: set[str] = set()
        """Users whose Stripe customer `lock_known` found recorded."""

    @property
    def _session(self) -> AsyncSession:
        return self._uow.session

    async def _write(self, statement: Any) -> None:
        """Run a write returning `limited_tier()`, noting the tiers whose holds it changed."""
        self._note_holds((await self._session.execute(statement)).mappings())

    def _note_holds(self, rows: Iterable[Mapping[Any, Any]]) -> None:
        """Note the tiers whose holds the rows of a write returning `limited_tier()` changed."""
        self._holds_changed.update(row["limited_tier"] for row in rows if row["limited_tier"])

    async def find_by_key(self, user_id: str, key: str) -> CheckoutRecord | None:
        """The user's checkout created under idempotency `key`."""
        row = (
            await self._session.execute(
                select(S).where(S.c.user_id == user_id, S.c.idempotency_key == key)
            )
        ).first()
        return to_entity(CheckoutRecord, row) if row else None

    async def get(self, checkout_id: str, *, lock: bool = False) -> CheckoutRecord | None:
        """A checkout by our id; `lock` holds its row until the transaction ends."""
        if lock and (known := self._take(checkout_id)) is not None:
            return known
        query = select(S).where(S.c.id == checkout_id)
        row = (await self._session.execute(query.with_for_update() if lock else query)).first()
        return to_entity(CheckoutRecord, row) if row else None

    async def get_by_stripe_id(
        self, stripe_id: str, *, lock: bool = False
    ) -> CheckoutRecord | None:
        """A checkout by its Stripe id (`cs_...`, `sub_...`, `pi_...`)."""
        if lock and (known := self._take(stripe_id)) is not None:
            return known
        query = select(S).where(S.c.stripe_id == stripe_id)
        row = (await self._session.execute(query.with_for_update() if lock else query)).first()
        return to_entity(CheckoutRecord, row) if row else None

    def _take(self, key: str) -> CheckoutRecord | None:
        record = self._locked.pop(key, None)
        if record is not None:
            self._locked.pop(record.id, None)
            self._locked.pop(record.stripe_id or "", None)
        return record

    async def lock_known(
        self, checkout_ids: Collection[str], stripe_ids: Collection[str]
    ) -> tuple[set[str], set[str]]:
        """Lock the checkouts with any of these ids or Stripe ids, in one statement (in id
        order), and read them, with whether their users' Stripe customers are recorded, for the
        handlers; the ids and Stripe ids of those that exist."""
        if not checkout_ids and not stripe_ids:
            return set(), set()
        params = {"checkout_ids": list(checkout_ids), "stripe_ids": list(stripe_ids)}
        rows = await self._uow.execute(LOCK_KNOWN, params)
        self._with_customer.update(row["user_id"] for row in rows if row["customer_recorded"])
        records = [to_entity(CheckoutRecord, row) for row in rows]
        for record in records:
            self._locked[record.id] = record
            if record.stripe_id:
                self._locked[record.stripe_id] = record
        return {r.id for r in records}, {r.stripe_id for r in records if r.stripe_id}

    async def forget_key(self, checkout_id: str) -> None:
        """Free a derived idempotency key whose checkout can no longer be paid."""
        await self._session.execute(
            update(S).where(S.c.id == checkout_id).values(idempotency_key=None)
        )

    async def add(self, values: dict[str, Any]) -> None:
        """Insert a pending checkout (raises IntegrityError if its idempotency key is taken)."""
        pending = S.insert().values(status="pending", **values)
        if values.get("tier_id") is None:
            await self._session.execute(pending)
        else:
            await self._write(pending.returning(limited_tier(values["tier_id"])))

    async def opened(
        self, checkout_id: str, *, stripe_id: str, url: str | None, expires_at: datetime
    ) -> None:
        """Record what Stripe created for a pending checkout."""
        await self._session.execute(
            update(S)
            .where(S.c.id == checkout_id, S.c.status == "pending")
            .values(status="open", stripe_id=stripe_id, url=url, expires_at=expires_at)
        )

    async def delete(self, checkout_id: str) -> None:
        """Drop a pending checkout Stripe did not create (frees its seat and key)."""
        await self._write(
            S.delete()
            .where(S.c.id == checkout_id, S.c.status == "pending")
            .returning(limited_tier())
        )

    async def move(
        self, checkout_id: str, status: Status, *, release: bool = False, if_member: bool = False
    ) -> None:
        """Set the status (callers check `can_move`); `release` frees the seat it held, with
        `if_member` only if membership already reported the user on its tier since the
        checkout began (in the same statement)."""
        moved = MOVES[status == "paid", release, release and if_member]
        self._note_holds(
            await self._uow.execute(moved, {"checkout_id": checkout_id, "to_status": status})
        )

    async def claim(self, checkout_id: str) -> bool:
        """Mark a purchase claimed; False if it already was."""
        result = await self._session.execute(
            update(S)
            .where(S.c.id == checkout_id, S.c.claimed_at.is_(None))
            .values(claimed_at=func.now())
            .returning(S.c.id)
        )
        return result.first() is not None

    async def holds_of(
        self,
        user_id: str,
        *,
        tier_id: str | None,
        item_id: str | None,
        reference: str | None,
        other_than_key: str,
    ) -> list[CheckoutRecord]:
        """The user's other checkouts (by key) for the same tier, or item and reference, that
        still hold it: open, being paid, or paid and not yet counted by membership."""
        target = (
            S.c.tier_id == tier_id
            if tier_id is not None
            else and_(S.c.item_id == item_id, S.c.reference == reference)
        )
        rows = await self._session.execute(
            select(S).where(
                S.c.user_id == user_id,
                S.c.idempotency_key.is_distinct_from(other_than_key),
                target,
                S.c.released_at.is_(None),
                holding(),
            )
        )
        return [to_entity(CheckoutRecord, row) for row in rows]

    def _purchases_of(self, item_id: str) -> ColumnElement[bool]:
        return and_(S.c.item_id == item_id, S.c.purpose == "purchase", S.c.released_at.is_(None))

    async def slot_taken(self, item_id: str, reference: str, *, by_other_than: str) -> bool:
        """Whether another user's checkout holds the item's `reference`."""
        query = select(
            select(S.c.id)
            .where(
                self._purchases_of(item_id),
                S.c.reference == reference,
                S.c.user_id != by_other_than,
                holding(),
            )
            .exists()
        )
        return bool((await self._session.execute(query)).scalar_one())

    async def purchases_held(self, item_id: str, *, other_than: tuple[str, str]) -> int:
        """How many checkouts hold the item, leaving out those of (user, reference)."""
        user_id, reference = other_than
        query = select(func.count()).where(
            self._purchases_of(item_id),
            holding(),
            or_(S.c.user_id != user_id, S.c.reference != reference),
        )
        return (await self._session.execute(query)).scalar_one()

    async def lapsed(
        self, item_id: str, *, reference: str | None, limit: int
    ) -> list[CheckoutRecord]:
        """Unpaid checkouts of the item (of `reference` only, if given) whose hold has lapsed
        but which are not recorded as ended: a session Stripe expired whose event has not come
        yet, a PaymentIntent whose lease ran out (it stays payable at Stripe)."""
        query = select(S).where(
            self._purchases_of(item_id),
            S.c.status.in_(("pending", "open")),
            S.c.expires_at <= func.now(),
        )
        if reference is not None:
            query = query.where(S.c.reference == reference)
        rows = await self._session.execute(query.order_by(S.c.expires_at).limit(limit))
        return [to_entity(CheckoutRecord, row) for row in rows]

    async def end_lease(self, checkout_id: str) -> None:
        """Stop an open checkout holding what it sells now (it may still be paid)."""
        await self._session.execute(
            update(S)
            .where(S.c.id == checkout_id, S.c.status == "open")
            .values(expires_at=func.least(S.c.expires_at, func.now()))
        )

    async def open_at_other_prices(
        self, entry_id: str, prices: Collection[str]
    ) -> list[CheckoutRecord]:
        """The open checkouts of a tier or item at a price other than `prices`, oldest first."""
        rows = await self._session.execute(
            select(S)
            .where(
                or_(S.c.tier_id == entry_id, S.c.item_id == entry_id),
                S.c.status == "open",
                S.c.released_at.is_(None),
                S.c.price_id.not_in(list(prices)),
            )
            .order_by(S.c.created_at, S.c.id)
        )
        return [to_entity(CheckoutRecord, row) for row in rows]

    async def lock_target(self, key: str) -> None:
        """Serialize checkouts of one target (e.g. a user's purchase of a reference)."""
        await self._uow.lock(key)

    async def seats_taken(self, tier_id: str, *, other_than: str) -> int:
        """Distinct users other than `other_than` holding the tier: members and live seat holds."""
        users = union(
            select(members.c.user_id).where(members.c.tier_id == tier_id, members.c.active),
            select(S.c.user_id).where(
                S.c.tier_id == tier_id,
                S.c.purpose == "membership",
                S.c.released_at.is_(None),
                holding(),
            ),
        ).subquery()
        query = select(func.count(literal_column("user_id"))).select_from(users)
        return (
            await self._session.execute(query.where(users.c.user_id != other_than))
        ).scalar_one()

    async def member(self, user_id: str, group_id: str) -> Member | None:
        """The user's membership of the group as last reported."""
        row = (
            await self._session.execute(
                select(members).where(members.c.user_id == user_id, members.c.group_id == group_id)
            )
        ).first()
        return to_entity(Member, row) if row else None

    async def paid_terms(self, user_id: str, group_id: str) -> list[datetime]:
        """When the user paid each one-time (annual) membership term of the group, oldest
        first."""
        rows = await self._session.execute(
            select(S.c.paid_at)
            .join(tiers, tiers.c.id == S.c.tier_id)
            .where(
                S.c.user_id == user_id,
                S.c.group_id == group_id,
                S.c.status == "paid",
                S.c.paid_at.is_not(None),
                tiers.c.interval == "one_time_annual",
            )
            .order_by(S.c.paid_at)
        )
        return [row.paid_at for row in rows]

    async def has_paid(self, user_id: str) -> bool:
        """Whether the user ever paid a checkout (any group: they have one Stripe customer)."""
        query = select(select(S.c.id).where(S.c.user_id == user_id, S.c.status == "paid").exists())
        return bool((await self._session.execute(query)).scalar_one())

    async def customer_id(self, user_id: str) -> str | None:
        """The user's Stripe customer, if we know it."""
        query = select(customers.c.stripe_customer_id).where(customers.c.user_id == user_id)
        return (await self._session.execute(query)).scalar_one_or_none()

    async def save_customer(self, user_id: str, stripe_customer_id: str) -> None:
        """Remember the user's Stripe customer (the first one recorded wins: a user known to
        have one costs no statement)."""
        if user_id in self._with_customer:
            return
        await self._session.execute(
            insert(customers)
            .values(user_id=user_id, stripe_customer_id=stripe_customer_id)
            .on_conflict_do_nothing()
        )
