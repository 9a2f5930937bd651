"""The ledger's hand-tuned statements: a booking in one statement (data-modifying CTEs), and
the payments a fetch reads ahead, compiled once for the driver."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    String,
    Table,
    any_,
    bindparam,
    func,
    or_,
    select,
    text,
    tuple_,
)
from sqlalchemy.dialects.postgresql import ARRAY, Insert, insert

from ledger.adapters import orm
from ledger.domain.attribution import Attribution
from tollgate_shared.persistence.db import DriverStatement, json_rows

TRANSACTION_COLUMNS = [
    c for c in orm.transactions.columns if c.server_default is None and not c.primary_key
]
PAYMENT_COLUMNS = [c for c in orm.payments.columns if c.server_default is None]
ATTRIBUTION_FIELDS = frozenset(f.name for f in fields(Attribution))


def insert_given(
    table: Table, columns: Sequence[Column[Any]], param: str, name: str, *, order: str = "n"
) -> Insert:
    """An insert into `table` of `columns` from the rows of the JSON parameter `param`
    (`json_rows`, as the derived table `name`), in the order of their column `order`."""
    given = json_rows(param, name, [(c.name, c.type) for c in columns])
    names = [c.name for c in columns]
    rows = select(*[given.c[n] for n in names]).order_by(given.c[order])
    return insert(table).from_select(names, rows)


def _booking() -> DriverStatement:
    t, e, p = orm.transactions, orm.entries, orm.payments
    booked = (
        insert_given(t, TRANSACTION_COLUMNS, "transactions", "r")
        .on_conflict_do_nothing(index_elements=[t.c.key])
        .returning(t.c.id, t.c.key, t.c.group_id, t.c.occurred_at)
        .cte("booked")
    )
    postings = json_rows(
        "postings",
        "q",
        [
            ("posting_key", String()),
            ("account", String()),
            ("posting_currency", String()),
            ("posting_amount", BigInteger()),
        ],
    )
    entries = (
        select(
            booked.c.id,
            booked.c.group_id,
            postings.c.account,
            postings.c.posting_currency,
            postings.c.posting_amount,
            booked.c.occurred_at,
        )
        .select_from(postings.join(booked, booked.c.key == postings.c.posting_key))
        .order_by(postings.c.n)
    )
    posted = insert(e).from_select(
        ["transaction_id", "group_id", "account", "currency", "amount", "occurred_at"], entries
    )
    paid = insert_given(p, PAYMENT_COLUMNS, "payments", "g", order="charge_id")
    paid = paid.on_conflict_do_nothing(index_elements=[p.c.charge_id])
    statement = select(func.array(select(booked.c.key).scalar_subquery()).label("booked"))
    return DriverStatement.of(statement.add_cte(posted.cte("posted")).add_cte(paid.cte("paid")))


BOOKING = _booking()
"""Transactions (`transactions`: one JSON parameter of rows) and their entries (`postings`) in
one statement, the entries only of transactions whose key is new, and the payments they book
(`payments`, in charge order) unless their charge is booked. Returns the keys booked now."""


_NAMES = bindparam("names", type_=ARRAY(String))
PAYMENTS = DriverStatement.of(
    select(orm.payments).where(
        or_(
            orm.payments.c.charge_id == any_(_NAMES),
            orm.payments.c.payment_intent_id == any_(_NAMES),
            orm.payments.c.invoice_id == any_(_NAMES),
        )
    )
)
"""The booked payments of the charges, payment intents or invoices `names`."""
FEES = DriverStatement.of(
    text(
        "UPDATE payments SET fee = known.fee"
        " FROM unnest(CAST(:charge_ids AS text[]), CAST(:fees AS bigint[]))"
        " AS known(charge_id, fee)"
        " WHERE payments.charge_id = known.charge_id AND payments.fee IS NULL"
        " RETURNING payments.charge_id"
    )
)
"""Keep the fees `fees` on the payments of `charge_ids` whose fee is not known yet; those
that changed."""


def _keep_parts() -> DriverStatement:
    p = orm.payment_parts
    kept = [p.c.kind, p.c.key, p.c.partner, p.c.facts]
    stmt = insert_given(p, kept, "parts", "r")
    changes = {"partner": stmt.excluded.partner, "facts": stmt.excluded.facts}
    return DriverStatement.of(
        stmt.on_conflict_do_update(index_elements=[p.c.kind, p.c.key], set_=changes)
    )


KEEP_PARTS = _keep_parts()
"""Keep the payment parts `parts` (a part told again replaces what it told before)."""
FORGET_PARTS = DriverStatement.of(
    text(
        "DELETE FROM payment_parts WHERE (kind, key) IN"
        " (SELECT * FROM unnest(CAST(:kinds AS text[]), CAST(:keys AS text[])))"
    )
)
"""Forget the payment parts (`kinds`[n], `keys`[n])."""


def no_newer_news(table: Table, excluded: Any) -> ColumnElement[bool]:
    """An upsert's condition for replacing a status-tracked row: the row holds no newer news
    than the one given (`excluded`; see `domain.statuses.news`)."""
    return tuple_(table.c.status_at, table.c.status_rank) <= tuple_(
        excluded.status_at, excluded.status_rank
    )
