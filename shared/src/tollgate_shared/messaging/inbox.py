"""The inbox: a message's effect and the record that it was processed commit together."""

from __future__ import annotations

import functools

from sqlalchemy import String, Table, bindparam, delete, func, select
from sqlalchemy.dialects.postgresql import ARRAY, insert

from tollgate_shared.persistence.db import DriverStatement
from tollgate_shared.persistence.unit_of_work import UnitOfWork


async def claim(
    uow: UnitOfWork, inbox: Table, *, consumer: str, messages: list[tuple[str, str]]
) -> set[str]:
    """Record the (message id, subject) pairs as processed by `consumer` in the unit's
    transaction, in one statement; the ids not processed before. An id already processed (or
    being processed by a concurrent transaction that then commits) is left out: the caller
    skips its effect and acks it."""
    rows = dict(messages)
    params = {"consumer": consumer, "message_ids": list(rows), "subjects": list(rows.values())}
    return {row["message_id"] for row in await uow.execute(_claim(inbox), params)}


@functools.cache
def _claim(inbox: Table) -> DriverStatement:
    """One statement for any number of messages (a list of VALUES would be compiled anew for
    every fetch size)."""
    claimed = (
        func.unnest(
            bindparam("message_ids", type_=ARRAY(String)),
            bindparam("subjects", type_=ARRAY(String)),
        )
        .table_valued("message_id", "subject")
        .render_derived(name="claimed")
    )
    rows = select(bindparam("consumer", type_=String), claimed.c.message_id, claimed.c.subject)
    statement = (
        insert(inbox)
        .from_select(["consumer", "message_id", "subject"], rows)
        .on_conflict_do_nothing()
        .returning(inbox.c.message_id)
    )
    return DriverStatement.of(statement)


async def release(uow: UnitOfWork, inbox: Table, *, consumer: str, message_id: str) -> None:
    """Forget a claim made in this transaction whose effect was rolled back to a savepoint."""
    await uow.execute(_release(inbox), {"consumer": consumer, "message_id": message_id})


@functools.cache
def _release(inbox: Table) -> DriverStatement:
    return DriverStatement.of(
        delete(inbox).where(
            inbox.c.consumer == bindparam("consumer"),
            inbox.c.message_id == bindparam("message_id"),
        )
    )
