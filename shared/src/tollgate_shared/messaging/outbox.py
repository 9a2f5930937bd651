"""The transactional outbox and its relay.

`add` writes an event through the caller's session (it never commits); the relay publishes
committed rows to JetStream with Msg-Id = the event id, and its transaction marks them
published and commits only after every ack. Rows are claimed with `FOR UPDATE SKIP LOCKED`,
so several relays share the work, and a relay that dies after publishing but before its
commit leaves the rows to be published again, which JetStream deduplicates by Msg-Id.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Sequence
from typing import Any

import structlog
from nats.js import JetStreamContext
from psycopg.types.json import Jsonb
from sqlalchemy import ColumnElement, Insert, Table, bindparam, column, func, select, update
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tollgate_shared.db import DriverStatement, transaction
from tollgate_shared.events.base import DomainEvent
from tollgate_shared.messaging.publish import publish_with_ack
from tollgate_shared.messaging.streams import DOMAIN
from tollgate_shared.observability.tracing import inject

log = structlog.get_logger(__name__)


_QUEUED = "tollgate.outbox.queued"
_COLUMNS = ("message_id", "subject", "payload", "headers")


def queued(session: AsyncSession) -> bool:
    """Whether `session` queued an event: only then does its commit give the relay work."""
    return bool(session.info.get(_QUEUED))


async def add(session: AsyncSession, outbox: Table, event: DomainEvent) -> None:
    """Queue `event` for publishing; it is published only if the session's transaction commits.

    The current trace context travels with it, so its consumers continue the same trace.
    """
    await session.execute(outbox.insert(), _row(event))
    note_queued(session)


async def add_many(session: AsyncSession, outbox: Table, events: Sequence[DomainEvent]) -> int:
    """`add_once` for several events, in one statement on the driver's connection (an insert
    per event, as an `executemany` sends them, cost Postgres a statement each); returns how
    many were queued now."""
    if not events:
        return 0
    statement = _insert_once(outbox) if len(events) == 1 else _insert_many_once(outbox)
    added = len(await statement.run(session, driver_rows(events)))
    if added:
        note_queued(session)
    return added


async def add_once(session: AsyncSession, outbox: Table, event: DomainEvent) -> bool:
    """`add`, unless an event with this id was already queued (ids that derive from their
    cause make a re-applied cause queue nothing); True if queued now."""
    return await add_many(session, outbox, [event]) == 1


def insert_once(
    outbox: Table, *, count: int = 1, when: ColumnElement[bool] | None = None
) -> Insert:
    """`add_once` for `count` events as one statement, e.g. a data-modifying CTE of a larger
    one: queues, in order, those of the events whose parameters `driver_rows` gives that are
    not queued yet, if `when` holds; returns the ids of the rows queued now. The caller calls
    `note_queued` when there are any. One event's values are plain parameters, several events'
    arrays (the driver dumps an array of one for several times the cost of its value)."""
    columns = list(_COLUMNS)
    if count == 1:
        rows = select(*[bindparam(f"event_{c}", type_=outbox.c[c].type) for c in columns])
    else:
        arrays = [bindparam(f"event_{c}", type_=ARRAY(outbox.c[c].type)) for c in columns]
        events = (
            func.unnest(*arrays)
            .table_valued(*[column(c, outbox.c[c].type) for c in columns], with_ordinality="n")
            .render_derived(name="e")
        )
        rows = select(*[events.c[c] for c in columns]).order_by(events.c.n)
    if when is not None:
        rows = rows.where(when)
    return (
        insert(outbox)
        .from_select(columns, rows)
        .on_conflict_do_nothing(index_elements=[outbox.c.message_id])
        .returning(outbox.c.id)
    )


def driver_rows(events: Sequence[DomainEvent]) -> dict[str, Any]:
    """`events`' outbox rows as the parameters of `insert_once(count=len(events))`, a driver
    statement."""
    rows = [_row(event) for event in events]
    for row in rows:
        row["headers"] = Jsonb(row["headers"])  # the driver's own statement: no SQLAlchemy types
    if len(rows) == 1:
        return {f"event_{name}": value for name, value in rows[0].items()}
    return {f"event_{name}": [row[name] for row in rows] for name in _COLUMNS}


def note_queued(session: AsyncSession) -> None:
    """Record that `session` queued an event (its commit then wakes the relay)."""
    session.info[_QUEUED] = True


@functools.cache
def _insert_once(outbox: Table) -> DriverStatement:
    return DriverStatement.of(insert_once(outbox))


@functools.cache
def _insert_many_once(outbox: Table) -> DriverStatement:
    return DriverStatement.of(insert_once(outbox, count=2))  # arrays: any number of events


def _row(event: DomainEvent) -> dict[str, Any]:
    return {
        "message_id": event.id,
        "subject": event.subject,
        "payload": event.model_dump_json().encode(),
        "headers": inject({"Tollgate-Event-Version": str(event.version)}),
    }


@functools.cache
def _claim(outbox: Table) -> DriverStatement:
    """The oldest unpublished rows, locked (rows another relay holds are skipped) and marked
    published in one statement: the mark only lasts if the transaction commits, which the
    relay does after JetStream acked every row."""
    t = outbox
    oldest = (
        select(t.c.id)
        .where(t.c.published_at.is_(None))
        .order_by(t.c.id)
        .limit(bindparam("limit"))
        .with_for_update(skip_locked=True)
    )
    statement = (
        update(t)
        .where(t.c.id.in_(oldest.scalar_subquery()))
        .values(published_at=func.now(), attempts=t.c.attempts + 1)
        .returning(t.c.id, t.c.message_id, t.c.subject, t.c.payload, t.c.headers)
    )
    return DriverStatement.of(statement)


class OutboxRelay:
    """Moves committed outbox rows to the DOMAIN stream, in id order, in batches."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        outbox: Table,
        js: JetStreamContext,
        *,
        batch_size: int = 100,
        poll_interval: float = 0.5,
    ) -> None:
        self._sessions = sessions
        self._outbox = outbox
        self._js = js
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._wakeup = asyncio.Event()

    def wake(self) -> None:
        """Ask the relay to look for new rows now instead of at its next poll."""
        self._wakeup.set()

    async def relay_once(self) -> int:
        """Publish one batch of unpublished rows; returns how many were published."""
        async with transaction(self._sessions) as session:
            claimed = await _claim(self._outbox).run(session, {"limit": self._batch_size})
            if not claimed:
                return 0
            rows = sorted(claimed, key=lambda row: row["id"])  # RETURNING keeps no order
            acks = await asyncio.gather(
                *(
                    publish_with_ack(
                        self._js,
                        row["subject"],
                        row["payload"],
                        msg_id=row["message_id"],
                        stream=DOMAIN.name,
                        headers=row["headers"],
                    )
                    for row in rows
                )
            )
        log.debug(
            "outbox.relayed",
            count=len(rows),
            duplicates=sum(1 for ack in acks if ack.duplicate),
        )
        return len(rows)

    async def run(self) -> None:
        """Relay until cancelled; back off on errors without losing rows."""
        while True:
            # Cleared before looking, not after: a commit that wakes the relay while it
            # publishes is relayed at once rather than at the next poll.
            self._wakeup.clear()
            try:
                if await self.relay_once() == self._batch_size:
                    continue
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox.relay_failed")
            # Not `wait_for`: on Python 3.11 it can swallow a cancellation that races with
            # the wake-up, and the relay would then never stop.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._poll_interval):
                    await self._wakeup.wait()
