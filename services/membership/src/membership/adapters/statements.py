"""Membership's hand-tuned statements: a member's sources, announced state and credit
balances as JSON arrays in one row, a subscription's upsert that reads back what its
reconciliation needs, and the gate's read of many members at once, each built once."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnClause,
    ColumnElement,
    CompoundSelect,
    DateTime,
    FromClause,
    Insert,
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
    tuple_,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.dialects.postgresql import Insert as PostgresInsert

from membership.adapters import orm
from membership.domain.model import Grant, SubscriptionRecord, Term
from tollgate_shared.persistence.db import DriverStatement, json_rows

Key = ColumnElement[Any]
"""How a query is bound to a member: a bound parameter, or a column of the gate's keys."""

MEMBER_KEY = ("group_id", "user_id")


def balances_query(user_id: Key, group_id: Key) -> Select[Any]:
    """A member's balance per kind, by kind."""
    t = orm.credit_balances
    return (
        select(t.c.kind, t.c.balance)
        .where(t.c.group_id == group_id, t.c.user_id == user_id)
        .order_by(t.c.kind)
    )


def _terms_with_reversals() -> Any:
    t, r = orm.terms, orm.reversals
    return select(
        t, r.c.reversed_at.label("voided_at"), r.c.reason.label("void_reason")
    ).select_from(t.outerjoin(r, r.c.payment_intent_id == t.c.payment_intent_id))


TERMS_WITH_REVERSALS = _terms_with_reversals()
"""One-time terms, each with the reversal of its payment if there is one."""


def source_queries(
    user_id: Key, group_id: Key | None, *, keys: FromClause | None = None
) -> tuple[tuple[Select[Any], type], ...]:
    """A member's subscriptions, terms and grant, for `user_id` (and `group_id`); correlated
    to `keys` when the member comes from an enclosing query's row."""
    queries = []
    for query, table, cls in (
        (select(orm.subscriptions), orm.subscriptions, SubscriptionRecord),
        (TERMS_WITH_REVERSALS, orm.terms, Term),
        (select(orm.grants), orm.grants, Grant),
    ):
        query = query.where(table.c.user_id == user_id)
        if group_id is not None:
            query = query.where(table.c.group_id == group_id)
        if keys is not None:
            query = query.correlate(keys)
        queries.append((query, cls))
    return tuple(queries)


SOURCES_OF_USER = source_queries(bindparam("user_id"), None)
"""A user's subscriptions, terms and grants in every group, by `user_id`."""


def as_json_rows(query: Select[Any] | CompoundSelect[Any]) -> tuple[Any, frozenset[str]]:
    """`query` as a scalar subquery giving its rows as one JSON array, and which of its
    columns are timestamps (JSON carries them as ISO strings)."""
    rows = query.subquery("q")
    array = func.coalesce(func.json_agg(rows.table_valued()), literal_column("'[]'::json"))
    dates = frozenset(c.name for c in query.selected_columns if isinstance(c.type, DateTime))
    return type_coerce(select(array).scalar_subquery(), JSON), dates


def member_parts(
    user_id: Key, group_id: Key, *, keys: FromClause | None = None
) -> list[tuple[Any, frozenset[str], type]]:
    """One member's sources as three JSON-array columns, with their timestamp columns."""
    queries = source_queries(user_id, group_id, keys=keys)
    return [(*as_json_rows(query), cls) for query, cls in queries]


MEMBER_PARTS = member_parts(bindparam("user_id"), bindparam("group_id"))
MEMBER_SOURCES = select(*[part for part, _, _ in MEMBER_PARTS])
"""One statement, one row: a member's subscriptions, terms and grant as JSON arrays."""


def _gate() -> DriverStatement:
    """Many members' sources and credit balances, one row per (`user_ids[i]`,
    `group_ids[i]`), as the driver runs it for the gate."""
    keys = (
        func.unnest(
            bindparam("user_ids", type_=ARRAY(String)), bindparam("group_ids", type_=ARRAY(String))
        )
        .table_valued("user_id", "group_id")
        .render_derived(name="k")
    )
    parts = member_parts(keys.c.user_id, keys.c.group_id, keys=keys)
    balances = balances_query(keys.c.user_id, keys.c.group_id).correlate(keys)
    query = select(
        keys.c.user_id,
        keys.c.group_id,
        *[part for part, _, _ in parts],
        as_json_rows(balances)[0],
    )
    return DriverStatement.of(query)


GATE = _gate()

SUBSCRIPTIONS = DriverStatement.of(
    select(orm.subscriptions).where(
        orm.subscriptions.c.id == any_(bindparam("ids", type_=ARRAY(String)))
    )
)
"""The stored subscriptions `ids`."""


def upsert_of(table: Table, columns: tuple[str, ...], keys: tuple[str, ...]) -> Insert:
    """An insert of `columns` (values bound by name) that replaces the row of the same
    `keys`."""
    stmt = insert(table).values({c: bindparam(c, type_=table.c[c].type) for c in columns})
    return _replacing(stmt, columns, keys)


def _replacing(
    stmt: PostgresInsert, columns: Sequence[str], keys: tuple[str, ...]
) -> PostgresInsert:
    """`stmt` replacing the stored row of the same `keys` with its `columns`, updated now."""
    changed = {c: stmt.excluded[c] for c in columns if c not in keys}
    return stmt.on_conflict_do_update(
        index_elements=list(keys), set_={**changed, "updated_at": func.now()}
    )


@functools.cache
def upsert(table: Table, columns: tuple[str, ...], keys: tuple[str, ...]) -> DriverStatement:
    """`upsert_of`, built once per shape: building an INSERT … ON CONFLICT per call cost more
    CPU than running it."""
    return DriverStatement.of(upsert_of(table, columns, keys))


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


def announced(prefix: str = "") -> Select[Any]:
    """The member's membership as last announced, bound by `<prefix>group_id` and
    `<prefix>user_id`."""
    return select(orm.memberships).where(
        orm.memberships.c.group_id == bindparam(f"{prefix}group_id"),
        orm.memberships.c.user_id == bindparam(f"{prefix}user_id"),
    )


@functools.cache
def save_reading(columns: tuple[str, ...]) -> DriverStatement:
    """A subscription's upsert, and in the same statement the member's subscriptions related
    to it (the saved row from the upsert itself), their terms and grant, and their announced
    membership (`related_*` parameters name the member)."""
    t = orm.subscriptions
    # Whole rows (`*`), not column lists: under 4 KiB, psycopg caches the statement's parsing.
    every: ColumnClause[Any] = literal_column("*")
    saved = upsert_of(t, columns, ("id",)).returning(every).cte("saved")
    others = _related_subscriptions().where(t.c.id != bindparam("related_id"))
    related, _ = as_json_rows(select(every).select_from(saved).union_all(others))
    (_, _, _), (terms, _, _), (grants, _, _) = member_parts(
        bindparam("related_user_id"), bindparam("related_group_id")
    )
    announced_now, _ = as_json_rows(announced("related_"))
    return DriverStatement.of(select(related, terms, grants, announced_now).add_cte(saved))


ANNOUNCED_PART, ANNOUNCED_DATES = as_json_rows(announced())
MEMBER_STATE = DriverStatement.of(MEMBER_SOURCES.add_columns(ANNOUNCED_PART))
"""A member's sources and their membership as last announced, in one statement."""


def save_rows(table: Table, keys: tuple[str, ...]) -> DriverStatement:
    """Whole rows of `table` (`rows`, all columns but `updated_at`), in key order, each
    replacing the stored one of the same `keys`."""
    columns = [c.name for c in table.columns if c.name != "updated_at"]
    given = json_rows("rows", "given", [(c, table.c[c].type) for c in columns])
    ordered = select(*[given.c[c] for c in columns]).order_by(*[given.c[k] for k in keys])
    stmt = insert(table).from_select(columns, ordered)
    return DriverStatement.of(_replacing(stmt, columns, keys))


TERM_PAID_BY = DriverStatement.of(
    TERMS_WITH_REVERSALS.where(orm.terms.c.payment_intent_id == bindparam("payment_intent_id"))
)
"""The term a payment intent (`payment_intent_id`) paid for, with its reversal."""


def _lock_balances() -> DriverStatement:
    t = orm.credit_balances
    keys = (
        func.unnest(
            bindparam("user_ids", type_=ARRAY(String)), bindparam("group_ids", type_=ARRAY(String))
        )
        .table_valued("user_id", "group_id")
        .render_derived(name="k")
    )
    return DriverStatement.of(
        select(t.c.user_id, t.c.group_id, t.c.kind, t.c.balance)
        .where(tuple_(t.c.user_id, t.c.group_id).in_(select(keys.c.user_id, keys.c.group_id)))
        .order_by(t.c.group_id, t.c.user_id, t.c.kind)
        .with_for_update(of=t)
    )


LOCK_BALANCES = _lock_balances()
"""The credit balances of the members (`user_ids[i]`, `group_ids[i]`), locked in key order."""
