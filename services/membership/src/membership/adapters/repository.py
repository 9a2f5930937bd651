"""Reading and writing memberships' sources and their announced state (SQLAlchemy Core)."""

from __future__ import annotations

import dataclasses
import functools
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

import psycopg
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import (
    JSON,
    ColumnElement,
    DateTime,
    FromClause,
    Insert,
    Row,
    Select,
    String,
    Table,
    and_,
    any_,
    bindparam,
    func,
    literal_column,
    or_,
    select,
    text,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession

from membership.adapters import credits_repo, orm
from membership.domain.model import (
    Announced,
    Entitlement,
    Grant,
    MembershipKey,
    Sources,
    SubscriptionRecord,
    Term,
)
from tollgate_shared.db import DriverStatement, ReadAhead
from tollgate_shared.events.base import DomainEvent
from tollgate_shared.messaging import outbox
from tollgate_shared.pagination import keyset_page

R = TypeVar("R")


@functools.cache
def _field_names(cls: type) -> frozenset[str]:
    return frozenset(f.name for f in dataclasses.fields(cls))


def _values(record: object) -> dict[str, Any]:
    """A flat dataclass's fields (`dataclasses.asdict` deep-copies: a hot path's cost)."""
    return {name: getattr(record, name) for name in _field_names(type(record))}


def _record(cls: type[R], row: Mapping[str, Any] | Row[Any]) -> R:
    mapping = row if isinstance(row, Mapping) else row._mapping
    names = _field_names(cls)
    return cls(**{k: v for k, v in mapping.items() if k in names})


_LOCKS = "membership.locks"
_LOCK = DriverStatement.of(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"))
_LOCK_ALL = DriverStatement.of(
    text(
        "SELECT count(pg_advisory_xact_lock(hashtextextended(k, 0)))"
        " FROM unnest(CAST(:keys AS text[])) WITH ORDINALITY AS u(k, n)"
    )
)


def _lock_key(key: MembershipKey) -> str:
    return f"{key.group_id}\x1f{key.user_id}"


async def lock(session: AsyncSession, key: MembershipKey) -> None:
    """Serialize changes to one membership until the transaction ends. A key this session
    already locked (here or in `lock_ahead`) is not asked again: the consumer applies a fetch
    without savepoints, so no lock is released before the commit."""
    held: set[MembershipKey] = session.info.setdefault(_LOCKS, set())
    if key in held:
        return
    await _LOCK.run(session, {"k": _lock_key(key)})
    held.add(key)


_SUBSCRIPTIONS = DriverStatement.of(
    select(orm.subscriptions).where(
        orm.subscriptions.c.id == any_(bindparam("ids", type_=ARRAY(String)))
    )
)


async def _subscriptions(session: AsyncSession, ids: list[str]) -> dict[str, SubscriptionRecord]:
    rows = await _SUBSCRIPTIONS.run(session, {"ids": ids})
    return {row["id"]: _record(SubscriptionRecord, row) for row in rows}


_AHEAD = ReadAhead("membership.subscriptions", _subscriptions)


async def lock_ahead(
    session: AsyncSession, keys: Collection[MembershipKey], subscription_ids: Collection[str]
) -> None:
    """Lock `keys` until the transaction ends (one statement, in a fixed order), then read
    the subscriptions `subscription_ids` ahead (one statement; see `ReadAhead`: they are
    only changed after being read through `subscription`, under their member's lock)."""
    ordered = sorted(keys, key=_lock_key)
    await _LOCK_ALL.run(session, {"keys": [_lock_key(key) for key in ordered]})
    session.info.setdefault(_LOCKS, set()).update(ordered)
    await _AHEAD.read(session, subscription_ids)


async def subscription(session: AsyncSession, subscription_id: str) -> SubscriptionRecord | None:
    """A subscription as last applied (read ahead by `lock_ahead` the first time, if it was)."""
    return await _AHEAD.get(session, subscription_id)


def _upsert_of(table: Table, columns: tuple[str, ...], keys: tuple[str, ...]) -> Insert:
    stmt = insert(table).values({c: bindparam(c, type_=table.c[c].type) for c in columns})
    changed = {c: stmt.excluded[c] for c in columns if c not in keys}
    return stmt.on_conflict_do_update(
        index_elements=list(keys), set_={**changed, "updated_at": func.now()}
    )


@functools.cache
def _upsert_statement(
    table: Table, columns: tuple[str, ...], keys: tuple[str, ...]
) -> DriverStatement:
    """Built once per shape: building an INSERT … ON CONFLICT per call cost more CPU than
    running it. The VALUES come from the parameters given at execution."""
    return DriverStatement.of(_upsert_of(table, columns, keys))


async def _upsert(
    session: AsyncSession, table: Table, values: dict[str, Any], keys: tuple[str, ...]
) -> None:
    await _upsert_statement(table, tuple(values), keys).run(session, values)


async def save_subscription(session: AsyncSession, record: SubscriptionRecord) -> None:
    """Insert or replace a subscription's applied state."""
    values = _values(record)
    await _upsert(session, orm.subscriptions, values, ("id",))


def _terms_with_reversals() -> Any:
    t, r = orm.terms, orm.reversals
    return select(
        t, r.c.reversed_at.label("voided_at"), r.c.reason.label("void_reason")
    ).select_from(t.outerjoin(r, r.c.payment_intent_id == t.c.payment_intent_id))


Key = ColumnElement[Any]
"""How a query is bound to a member: a bound parameter, or a column of the gate's keys."""


def _source_queries(
    user_id: Key, group_id: Key | None, *, keys: FromClause | None = None
) -> tuple[tuple[Select[Any], type], ...]:
    """A member's subscriptions, terms and grant, for `user_id` (and `group_id`); correlated
    to `keys` when the member comes from an enclosing query's row."""
    queries = []
    for query, table, cls in (
        (select(orm.subscriptions), orm.subscriptions, SubscriptionRecord),
        (_terms_with_reversals(), orm.terms, Term),
        (select(orm.grants), orm.grants, Grant),
    ):
        query = query.where(table.c.user_id == user_id)
        if group_id is not None:
            query = query.where(table.c.group_id == group_id)
        if keys is not None:
            query = query.correlate(keys)
        queries.append((query, cls))
    return tuple(queries)


_SOURCES_OF_USER = _source_queries(bindparam("user_id"), None)


def _add_source(group: Sources, item: SubscriptionRecord | Term | Grant) -> None:
    if isinstance(item, SubscriptionRecord):
        group.subscriptions.append(item)
    elif isinstance(item, Term):
        group.terms.append(item)
    else:
        group.grant = item


async def sources(
    session: AsyncSession, *, user_id: str, group_id: str | None = None
) -> dict[str, Sources]:
    """A user's subscriptions, one-time terms and grants, by group (one group, or all)."""
    if group_id is not None:
        params = {"user_id": user_id, "group_id": group_id}
        member = _member_sources((await session.execute(_MEMBER_SOURCES, params)).one())
        return {group_id: member} if member.subscriptions or member.terms or member.grant else {}
    found: dict[str, Sources] = defaultdict(Sources)
    for query, cls in _SOURCES_OF_USER:
        for row in await session.execute(query, {"user_id": user_id}):
            _add_source(found[row.group_id], _record(cls, row))
    return dict(found)


def _as_json_rows(query: Select[Any]) -> tuple[Any, frozenset[str]]:
    """`query` as a scalar subquery giving its rows as one JSON array, and which of its
    columns are timestamps (JSON carries them as ISO strings)."""
    rows = query.subquery("q")
    array = func.coalesce(func.json_agg(rows.table_valued()), literal_column("'[]'::json"))
    dates = frozenset(c.name for c in query.selected_columns if isinstance(c.type, DateTime))
    return type_coerce(select(array).scalar_subquery(), JSON), dates


def _member_parts(
    user_id: Key, group_id: Key, *, keys: FromClause | None = None
) -> list[tuple[Any, frozenset[str], type]]:
    """One member's sources as three JSON-array columns, with their timestamp columns."""
    queries = _source_queries(user_id, group_id, keys=keys)
    return [(*_as_json_rows(query), cls) for query, cls in queries]


_MEMBER_PARTS = _member_parts(bindparam("user_id"), bindparam("group_id"))
_MEMBER_SOURCES = select(*[part for part, _, _ in _MEMBER_PARTS])
"""One statement, one row: a member's subscriptions, terms and grant as JSON arrays."""


def _gate_sql() -> str:
    """Many members' sources and credit balances, one row per (`user_ids[i]`,
    `group_ids[i]`), as the driver runs it for the gate."""
    keys = (
        func.unnest(
            bindparam("user_ids", type_=ARRAY(String)), bindparam("group_ids", type_=ARRAY(String))
        )
        .table_valued("user_id", "group_id")
        .render_derived(name="k")
    )
    parts = _member_parts(keys.c.user_id, keys.c.group_id, keys=keys)
    balances = credits_repo.balances_query(keys.c.user_id, keys.c.group_id).correlate(keys)
    query = select(
        keys.c.user_id,
        keys.c.group_id,
        *[part for part, _, _ in parts],
        _as_json_rows(balances)[0],
    )
    return DriverStatement.of(query).sql


_GATE_SQL = _gate_sql()


def _parse_dates(item: dict[str, Any], dates: frozenset[str]) -> dict[str, Any]:
    """A JSON row with its timestamp columns (ISO strings in JSON) as datetimes."""
    for name in dates:
        if item[name] is not None:
            item[name] = datetime.fromisoformat(item[name])
    return item


def _member_sources(parts: Sequence[Any]) -> Sources:
    found = Sources()
    for (_, dates, cls), items in zip(_MEMBER_PARTS, parts, strict=True):
        for item in items:
            _add_source(found, _record(cls, _parse_dates(item, dates)))
    return found


GateAnswer = tuple[Sources, dict[str, int]]
"""A member's sources and credit balances."""


async def gate_read(
    pool: AsyncConnectionPool, keys: Sequence[MembershipKey]
) -> dict[MembershipKey, GateAnswer]:
    """Members' sources and credit balances for the gate: the statements of `sources` and
    `credits_repo.balances` for every key as one prepared statement through the driver, on an
    autocommit connection, without SQLAlchemy's per-statement cost."""
    params = {"user_ids": [k.user_id for k in keys], "group_ids": [k.group_id for k in keys]}
    for attempt in (1, 2):
        async with pool.connection() as conn:
            try:
                rows = await (await conn.execute(_GATE_SQL, params, prepare=True)).fetchall()
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


def _related_subscriptions() -> Select[Any]:
    """The member's subscriptions that may replace a subscription or be replaced by it, as
    whole rows."""
    t = orm.subscriptions
    user = t.c.user_id == bindparam("related_user_id")
    same_member = and_(user, t.c.group_id == bindparam("related_group_id"))
    linked = or_(
        t.c.id == bindparam("related_previous_id"),
        t.c.previous_subscription_id == bindparam("related_id"),
    )
    return select(literal_column("*")).select_from(t).where(or_(same_member, and_(user, linked)))


MemberState = tuple[Sources, Announced | None, str | None]
"""A member's sources, their membership as last announced, and their email if known."""


async def save_subscription_reading(
    session: AsyncSession, record: SubscriptionRecord
) -> tuple[list[SubscriptionRecord], MemberState]:
    """`save_subscription`, and in the same statement the member's subscriptions that may
    replace `record` or be replaced by it (itself included), and `member_state` of its
    member, as they are after the save (the saved row from the upsert itself, the rest from
    the statement's snapshot, which the upsert does not change)."""
    values = _values(record)
    params = values | {
        "related_user_id": record.user_id,
        "related_group_id": record.group_id,
        "related_id": record.id,
        "related_previous_id": record.previous_subscription_id,
    }
    [row] = await _save_reading(tuple(values)).run(session, params)
    *parts, announced = row.values()
    found = _member_sources(parts)  # every related subscription, the member's terms and grant
    related = found.subscriptions
    member = (record.user_id, record.group_id)
    found.subscriptions = [s for s in related if (s.user_id, s.group_id) == member]
    return related, _member_state(found, announced)


@functools.cache
def _save_reading(columns: tuple[str, ...]) -> DriverStatement:
    t = orm.subscriptions
    # Whole rows (`*`), not column lists: under 4 KiB, psycopg caches the statement's parsing.
    every = literal_column("*")
    saved = _upsert_of(t, columns, ("id",)).returning(every).cte("saved")
    others = _related_subscriptions().where(t.c.id != bindparam("related_id"))
    related, _ = _as_json_rows(select(every).select_from(saved).union_all(others))
    (_, _, _), (terms, _, _), (grants, _, _) = _member_parts(
        bindparam("related_user_id"), bindparam("related_group_id")
    )
    announced, _ = _as_json_rows(_announced("related_"))
    return DriverStatement.of(select(related, terms, grants, announced).add_cte(saved))


async def add_term(session: AsyncSession, term: Term) -> bool:
    """Record a paid term once; False if that Checkout Session was already recorded."""
    values = dataclasses.asdict(term)
    del values["voided_at"], values["void_reason"]
    result = await session.execute(
        insert(orm.terms).values(values).on_conflict_do_nothing().returning(orm.terms.c.id)
    )
    return result.first() is not None


async def term_paid_by(session: AsyncSession, payment_intent_id: str) -> Term | None:
    """The term a payment intent paid for."""
    t = orm.terms
    query = _terms_with_reversals().where(t.c.payment_intent_id == payment_intent_id)
    row = (await session.execute(query)).first()
    return _record(Term, row) if row else None


async def add_reversal(
    session: AsyncSession, payment_intent_id: str, *, at: datetime, reason: str
) -> None:
    """Record that a payment was fully refunded or lost in a dispute; the first reason stays."""
    await session.execute(
        insert(orm.reversals)
        .values(payment_intent_id=payment_intent_id, reason=reason, reversed_at=at)
        .on_conflict_do_nothing()
    )


async def save_grant(session: AsyncSession, grant: Grant, *, granted_by: str) -> None:
    """Create or replace the grant of a user in a group."""
    values = {**dataclasses.asdict(grant), "granted_by": granted_by}
    await _upsert(session, orm.grants, values, _MEMBER_KEY)


def _announced(prefix: str = "") -> Select[Any]:
    return select(orm.memberships).where(
        orm.memberships.c.group_id == bindparam(f"{prefix}group_id"),
        orm.memberships.c.user_id == bindparam(f"{prefix}user_id"),
    )


_ANNOUNCED_PART, _ANNOUNCED_DATES = _as_json_rows(_announced())
_MEMBER_STATE = DriverStatement.of(_MEMBER_SOURCES.add_columns(_ANNOUNCED_PART))
"""A member's sources and their membership as last announced, in one statement."""


async def member_state(session: AsyncSession, key: MembershipKey) -> MemberState:
    """The member's sources, their membership as last announced, and their email if known."""
    params = {"group_id": key.group_id, "user_id": key.user_id}
    *parts, announced = (await _MEMBER_STATE.run(session, params))[0].values()
    return _member_state(_member_sources(parts), announced)


def _member_state(found: Sources, announced: Sequence[Any]) -> MemberState:
    if not announced:
        return found, None, None
    row = _parse_dates(announced[0], _ANNOUNCED_DATES)
    return found, _record(Announced, row), row["email"]


async def save_membership(
    session: AsyncSession, entitlement: Entitlement, announcing: Sequence[DomainEvent] = ()
) -> None:
    """Store an entitlement as the announced membership and queue, once each, the events
    that announce its change, in one statement."""
    now = Announced.of(entitlement)
    values = {
        **_values(now),
        "group_id": entitlement.key.group_id,
        "user_id": entitlement.key.user_id,
        "open_ended": entitlement.open_ended,
        "access_until": entitlement.access_until,
        "next_change_at": entitlement.next_change_at,
        "email": entitlement.email,
    }
    if not announcing:
        await _upsert(session, orm.memberships, values, _MEMBER_KEY)
        return
    statement = _save_announcing(tuple(values), len(announcing))
    [row] = await statement.run(session, values | outbox.driver_rows(announcing))
    if row["announced"]:
        outbox.note_queued(session)


_MEMBER_KEY = ("group_id", "user_id")


@functools.cache
def _save_announcing(columns: tuple[str, ...], count: int) -> DriverStatement:
    """The membership's upsert with the outbox insert of `count` events as a data-modifying
    CTE; returns how many events were queued now."""
    queued = outbox.insert_once(orm.outbox, count=count).cte("announced")
    count = select(func.count()).select_from(queued).scalar_subquery()
    upsert = _upsert_of(orm.memberships, columns, _MEMBER_KEY).add_cte(queued)
    return DriverStatement.of(upsert.returning(count.label("announced")))


async def due_for_sweep(
    session: AsyncSession, *, now: datetime, limit: int
) -> list[tuple[MembershipKey, datetime]]:
    """Memberships whose answer may have changed by time alone, with the moment it could."""
    t = orm.memberships
    rows = await session.execute(
        select(t.c.user_id, t.c.group_id, t.c.next_change_at)
        .where(t.c.next_change_at <= now)
        .order_by(t.c.next_change_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [(MembershipKey(r.user_id, r.group_id), r.next_change_at) for r in rows]


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


async def add_event_once(session: AsyncSession, event: DomainEvent) -> None:
    """Queue a domain event unless one with its id was already queued (ids derive from causes)."""
    await outbox.add_once(session, orm.outbox, event)
