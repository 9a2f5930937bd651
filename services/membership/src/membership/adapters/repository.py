"""Memberships' sources and their announced state in the database (the hand-tuned statements
in `statements.py`): reads for the gate and the API, and the repository of a unit of work."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

import psycopg
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import Row, func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from membership.adapters import orm
from membership.adapters import queued as queued_writes
from membership.adapters.statements import (
    ANNOUNCED_DATES,
    GATE,
    MEMBER_KEY,
    MEMBER_PARTS,
    MEMBER_SOURCES,
    MEMBER_STATE,
    SOURCES_OF_USER,
    SUBSCRIPTIONS,
    TERM_PAID_BY,
    save_reading,
    upsert,
)
from membership.domain import rules
from membership.domain.model import (
    Announced,
    Entitlement,
    Grant,
    MembershipKey,
    Sources,
    SubscriptionRecord,
    Term,
)
from tollgate_shared.contracts.base import DomainEvent
from tollgate_shared.persistence.pagination import keyset_page
from tollgate_shared.persistence.unit_of_work import Known, ReadAhead, UnitOfWork

R = TypeVar("R")

GateAnswer = tuple[Sources, dict[str, int]]
"""A member's sources and credit balances."""
MemberState = tuple[Sources, Announced | None, str | None]
"""A member's sources, their membership as last announced, and their email if known."""


_FIELD_NAMES: dict[type[Any], frozenset[str]] = {}


def _field_names(cls: type[Any]) -> frozenset[str]:
    """A dataclass's field names, kept per class (wanted for every row read)."""
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = frozenset(f.name for f in dataclasses.fields(cls))
    return names


def _values(record: object) -> dict[str, Any]:
    """A flat dataclass's fields (`dataclasses.asdict` deep-copies: a hot path's cost)."""
    return {name: getattr(record, name) for name in _field_names(type(record))}


def _record(cls: type[R], row: Mapping[str, Any] | Row[Any]) -> R:
    mapping = row if isinstance(row, Mapping) else row._mapping
    names = _field_names(cls)
    return cls(**{k: v for k, v in mapping.items() if k in names})


def _add_source(group: Sources, item: SubscriptionRecord | Term | Grant) -> None:
    if isinstance(item, SubscriptionRecord):
        group.subscriptions.append(item)
    elif isinstance(item, Term):
        group.terms.append(item)
    else:
        group.grant = item


def _parse_dates(item: dict[str, Any], dates: frozenset[str]) -> dict[str, Any]:
    """A JSON row with its timestamp columns (ISO strings in JSON) as datetimes."""
    for name in dates:
        if item[name] is not None:
            item[name] = datetime.fromisoformat(item[name])
    return item


def _member_sources(parts: Sequence[Any]) -> Sources:
    found = Sources()
    for (_, dates, cls), items in zip(MEMBER_PARTS, parts, strict=True):
        for item in items:
            _add_source(found, _record(cls, _parse_dates(item, dates)))
    return found


def _member_state(found: Sources, announced: Sequence[Any]) -> MemberState:
    if not announced:
        return found, None, None
    row = _parse_dates(announced[0], ANNOUNCED_DATES)
    return found, _record(Announced, row), row["email"]


def lock_name(key: MembershipKey) -> str:
    """The advisory lock a membership's changes are serialized by (`UnitOfWork.lock`)."""
    return f"{key.group_id}\x1f{key.user_id}"


async def sources(
    session: AsyncSession, *, user_id: str, group_id: str | None = None
) -> dict[str, Sources]:
    """A user's subscriptions, one-time terms and grants, by group (one group, or all)."""
    if group_id is not None:
        params = {"user_id": user_id, "group_id": group_id}
        member = _member_sources((await session.execute(MEMBER_SOURCES, params)).one())
        return {group_id: member} if member.subscriptions or member.terms or member.grant else {}
    found: dict[str, Sources] = defaultdict(Sources)
    for query, cls in SOURCES_OF_USER:
        for row in await session.execute(query, {"user_id": user_id}):
            _add_source(found[row.group_id], _record(cls, row))
    return dict(found)


async def gate_read(
    pool: AsyncConnectionPool, keys: Sequence[MembershipKey]
) -> dict[MembershipKey, GateAnswer]:
    """Members' sources and credit balances for the gate: the statements of `sources` and of
    the credit balances for every key as one prepared statement through the driver, on an
    autocommit connection, without SQLAlchemy's per-statement cost."""
    params = {"user_ids": [k.user_id for k in keys], "group_ids": [k.group_id for k in keys]}
    for attempt in (1, 2):
        async with pool.connection() as conn:
            try:
                rows = await GATE.tuples(conn, params)
                break
            except psycopg.OperationalError:
                if attempt == 2 or not conn.broken:
                    raise
        await pool.check()  # connections broken by a database restart: replace them
    return {
        MembershipKey(row[0], row[1]): (
            _member_sources(row[2:-1]),
            {b["kind"]: b["balance"] for b in row[-1]},
        )
        for row in rows
    }


def _active_now() -> Any:
    t = orm.memberships
    return or_(t.c.open_ended, t.c.access_until > func.now())


async def members(
    session: AsyncSession,
    *,
    group_id: str,
    active: bool | None,
    tier_id: str | None,
    source: str | None,
    limit: int,
    offset: int,
    cursor: str | None,
) -> tuple[Sequence[Row[Any]], str | None, int, dict[str, int]]:
    """One page of a group's members by user id (with `active` as of now) after `cursor` and
    `offset`, the next page's cursor (None on the last page), the total, and active per tier."""
    t = orm.memberships
    active_now = _active_now().label("active_now")
    conditions = [t.c.group_id == group_id]
    if active is not None:
        conditions.append(_active_now() if active else ~_active_now())
    if tier_id is not None:
        conditions.append(t.c.tier_id == tier_id)
    if source is not None:
        conditions.append(t.c.source == source)
    page, next_cursor = await keyset_page(
        session,
        select(t, active_now).where(*conditions).offset(offset),
        (t.c.user_id,),
        limit=limit,
        cursor=cursor,
        descending=False,
    )
    total = await session.scalar(select(func.count()).select_from(t).where(*conditions))
    per_tier = await session.execute(
        select(t.c.tier_id, func.count())
        .where(t.c.group_id == group_id, _active_now())
        .group_by(t.c.tier_id)
    )
    counts = {str(tier): n for tier, n in per_tier.all()}
    return page, next_cursor, int(total or 0), counts


class Memberships:
    """Memberships' sources and announced state as one unit of work reads and writes them,
    each member's changes under its advisory lock."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
        self._subscriptions = ReadAhead(self._read_subscriptions)
        self._saved: Known[str, SubscriptionRecord] = Known(uow)
        """Subscriptions this unit saved (written or queued), under their members' locks."""

    async def lock(self, *keys: MembershipKey) -> None:
        """Serialize changes to these memberships until the transaction ends (a key this unit
        already locked is not asked again)."""
        await self._uow.lock(*(lock_name(key) for key in keys))

    async def _read_subscriptions(self, ids: list[str]) -> dict[str, SubscriptionRecord]:
        rows = await self._uow.execute(SUBSCRIPTIONS, {"ids": ids})
        return {row["id"]: _record(SubscriptionRecord, row) for row in rows}

    async def lock_ahead(
        self, keys: Collection[MembershipKey], subscription_ids: Collection[str]
    ) -> None:
        """Lock `keys` (one statement, in a fixed order), then read the subscriptions
        `subscription_ids` ahead (one statement; see `ReadAhead`: they are only changed after
        being read through `subscription`, under their member's lock)."""
        await self.lock(*keys)
        await self._subscriptions.read(subscription_ids)

    async def subscription(self, subscription_id: str) -> SubscriptionRecord | None:
        """A subscription as last applied: as this unit saved it, or read ahead by `lock_ahead`
        the first time, if it was."""
        if subscription_id in self._saved:
            return self._saved[subscription_id]
        return await self._subscriptions.get(subscription_id)

    async def sources(self, key: MembershipKey) -> Sources | None:
        """The member's subscriptions, terms and grant, if any."""
        found = await sources(self._uow.session, user_id=key.user_id, group_id=key.group_id)
        member = self._with_queued(key, found.get(key.group_id) or Sources())
        return member if member.subscriptions or member.terms or member.grant else None

    def _with_queued(self, key: MembershipKey, found: Sources) -> Sources:
        """The member's sources as read, with the subscriptions this unit queued."""
        queued = self._uow.deferred(queued_writes.SUBSCRIPTIONS).values()
        mine = [s for s in queued if (s.user_id, s.group_id) == (key.user_id, key.group_id)]
        if mine:
            found.subscriptions = queued_writes.overlaid(found.subscriptions, mine)
        return found

    async def _upsert(self, table: Any, values: dict[str, Any], keys: tuple[str, ...]) -> None:
        await self._uow.execute(upsert(table, tuple(values), keys), values)

    async def save_subscription(self, record: SubscriptionRecord) -> None:
        """Insert or replace a subscription's applied state (written before the commit:
        `queued.SUBSCRIPTIONS`)."""
        self._uow.deferred(queued_writes.SUBSCRIPTIONS)[record.id] = record
        self._saved[record.id] = record

    async def save_subscription_reading(
        self, record: SubscriptionRecord
    ) -> tuple[list[SubscriptionRecord], MemberState]:
        """`save_subscription`, and in the same statement the member's subscriptions that may
        replace `record` or be replaced by it (itself included), and `member_state` of its
        member, as they are after the save (the saved row from the upsert itself, the rest
        from the statement's snapshot, which the upsert does not change)."""
        values = _values(record)
        params = values | {
            "related_user_id": record.user_id,
            "related_group_id": record.group_id,
            "related_id": record.id,
            "related_previous_id": record.previous_subscription_id,
        }
        queued = self._uow.deferred(queued_writes.SUBSCRIPTIONS)
        queued.pop(record.id, None)  # written now
        [row] = await self._uow.execute(save_reading(tuple(values)), params)
        self._saved[record.id] = record
        *parts, announced = row.values()
        found = _member_sources(parts)  # every related subscription, the member's terms, grant
        theirs = [s for s in queued.values() if queued_writes.related(s, record)]
        related = queued_writes.overlaid(found.subscriptions, theirs)
        member = (record.user_id, record.group_id)
        found.subscriptions = [s for s in related if (s.user_id, s.group_id) == member]
        key = MembershipKey(record.user_id, record.group_id)
        return related, self._announcing(key, _member_state(found, announced))

    async def add_term(self, term: Term) -> bool:
        """Record a paid term once; False if that Checkout Session was already recorded."""
        values = dataclasses.asdict(term)
        del values["voided_at"], values["void_reason"]
        result = await self._uow.session.execute(
            insert(orm.terms).values(values).on_conflict_do_nothing().returning(orm.terms.c.id)
        )
        return result.first() is not None

    async def term_paid_by(self, payment_intent_id: str) -> Term | None:
        """The term a payment intent paid for."""
        rows = await self._uow.execute(TERM_PAID_BY, {"payment_intent_id": payment_intent_id})
        return _record(Term, rows[0]) if rows else None

    async def add_reversal(self, payment_intent_id: str, *, at: datetime, reason: str) -> None:
        """Record that a payment was fully refunded or lost in a dispute; the first reason
        stays."""
        await self._uow.session.execute(
            insert(orm.reversals)
            .values(payment_intent_id=payment_intent_id, reason=reason, reversed_at=at)
            .on_conflict_do_nothing()
        )

    async def save_grant(self, grant: Grant, *, granted_by: str) -> None:
        """Create or replace the grant of a user in a group."""
        values = {**dataclasses.asdict(grant), "granted_by": granted_by}
        await self._upsert(orm.grants, values, MEMBER_KEY)

    async def terms_end(self, key: MembershipKey) -> datetime | None:
        """When the member's paid one-time terms of the group end (None without any)."""
        found = await self.sources(key)
        return rules.term_end(found.terms) if found is not None else None

    async def count_active(self) -> int:
        """Memberships active as last announced."""
        await self._written()
        t = orm.memberships
        found = await self._uow.session.scalar(
            select(func.count()).select_from(t).where(t.c.active)
        )
        return int(found or 0)

    async def note_first_sign_in(self, key: MembershipKey, at: datetime) -> bool:
        """Record the member's first sign-in on a grant that counts from it; False when one
        is recorded already (or the grant does not count from it)."""
        t = orm.grants
        done = await self._uow.session.execute(
            t.update()
            .where(
                t.c.group_id == key.group_id,
                t.c.user_id == key.user_id,
                t.c.grace_months.is_not(None),
                t.c.first_seen_at.is_(None),
            )
            .values(first_seen_at=at)
        )
        return bool(done.rowcount)  # type: ignore[attr-defined]

    async def member_state(self, key: MembershipKey) -> MemberState:
        """The member's sources, their membership as last announced, and their email if
        known."""
        params = {"group_id": key.group_id, "user_id": key.user_id}
        *parts, announced = (await self._uow.execute(MEMBER_STATE, params))[0].values()
        found = self._with_queued(key, _member_sources(parts))
        return self._announcing(key, _member_state(found, announced))

    def _announcing(self, key: MembershipKey, state: MemberState) -> MemberState:
        """`state` with the announced membership this unit saved and has not written yet."""
        queued = self._uow.deferred(queued_writes.MEMBERSHIPS).get(key)
        return state if queued is None else (state[0], queued.announced, queued.email)

    async def _written(self) -> None:
        """Write the saved memberships now: a statement is about to read them by other keys."""
        await self._uow.write_queued(queued_writes.MEMBERSHIPS)

    async def save_membership(
        self, entitlement: Entitlement, announcing: Sequence[DomainEvent] = ()
    ) -> None:
        """Store an entitlement as the announced membership (written before the commit:
        `queued.MEMBERSHIPS`), and emit the events that announce its change (each once: their ids
        derive from their cause)."""
        now = Announced.of(entitlement)
        row = {
            **_values(now),
            "group_id": entitlement.key.group_id,
            "user_id": entitlement.key.user_id,
            "open_ended": entitlement.open_ended,
            "access_until": entitlement.access_until,
            "next_change_at": entitlement.next_change_at,
            "email": entitlement.email,
        }
        queued = self._uow.deferred(queued_writes.MEMBERSHIPS)
        queued[entitlement.key] = queued_writes.Announcing(now, entitlement.email, row)
        self._uow.emit(*announcing)

    async def due_for_sweep(
        self, *, now: datetime, limit: int
    ) -> list[tuple[MembershipKey, datetime]]:
        """Memberships whose answer may have changed by time alone, with the moment it
        could."""
        await self._written()
        t = orm.memberships
        rows = await self._uow.session.execute(
            select(t.c.user_id, t.c.group_id, t.c.next_change_at)
            .where(t.c.next_change_at <= now)
            .order_by(t.c.next_change_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [(MembershipKey(r.user_id, r.group_id), r.next_change_at) for r in rows]
