"""The inbox: a message's effect and the record that it was processed commit together."""

from __future__ import annotations

import functools

from sqlalchemy import String, Table, bindparam, delete, func, select
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession

from tollgate_shared.db import DriverStatement


async def claim(
    session: AsyncSession, inbox: Table, *, consumer: str, message_id: str, subject: str
) -> bool:
    """Record `message_id` as processed by `consumer` in the session's transaction.

    Returns False when it was already processed (or is being processed by a concurrent
    transaction that then commits): the caller skips the effect and acks.
    """
    fresh = await claim_many(session, inbox, consumer=consumer, messages=[(message_id, subject)])
    return message_id in fresh


async def claim_many(
    session: AsyncSession, inbox: Table, *, consumer: str, messages: list[tuple[str, str]]
) -> set[str]:
    """`claim` for many (message id, subject) pairs in one statement: the ids not processed
    before."""
    rows = dict(messages)
    params = {"consumer": consumer, "message_ids": list(rows), "subjects": list(rows.values())}
    return {row["message_id"] for row in await _claim(inbox).run(session, params)}


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


async def release(session: AsyncSession, inbox: Table, *, consumer: str, message_id: str) -> None:
    """Forget a claim made in this transaction whose effect was rolled back to a savepoint."""
    await session.execute(
        delete(inbox).where(inbox.c.consumer == consumer, inbox.c.message_id == message_id)
    )
