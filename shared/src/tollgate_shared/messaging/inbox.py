"""The inbox: a message's effect and the record that it was processed commit together."""

from __future__ import annotations

from sqlalchemy import Table, delete
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession


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
    result = await session.execute(
        insert(inbox)
        .values(
            [
                {"consumer": consumer, "message_id": message_id, "subject": subject}
                for message_id, subject in rows.items()
            ]
        )
        .on_conflict_do_nothing()
        .returning(inbox.c.message_id)
    )
    return {row.message_id for row in result}


async def release(session: AsyncSession, inbox: Table, *, consumer: str, message_id: str) -> None:
    """Forget a claim made in this transaction whose effect was rolled back to a savepoint."""
    await session.execute(
        delete(inbox).where(inbox.c.consumer == consumer, inbox.c.message_id == message_id)
    )
