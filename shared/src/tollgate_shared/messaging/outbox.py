"""The transactional outbox and its relay.

A unit of work writes a service's events to its outbox table in the transaction of the change
they announce (`UnitOfWork.emit`, never committing on its own); the relay publishes committed
rows to JetStream with Msg-Id = the event id, and its transaction marks them published and
commits only after every ack. Rows are claimed with `FOR UPDATE SKIP LOCKED`, so several relays
share the work, and a relay that dies after publishing but before its commit leaves the rows
to be published again, which JetStream deduplicates by Msg-Id.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Awaitable, Callable, Mapping, Sequence
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

_COLUMNS = ("message_id", "subject", "payload", "headers")

Execute = Callable[[DriverStatement, Mapping[str, Any]], Awaitable[list[dict[str, Any]]]]
"""Runs a driver statement in a unit of work's transaction (`UnitOfWork.execute`)."""


class Outbox:
    """A service's outbox table and the wake-up of its relay: units of work write events to
    it (`UnitOfWork.emit`) and wake the relay after a commit that queued some."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self._wakeup = asyncio.Event()

    @staticmethod
    def row(event: DomainEvent) -> dict[str, Any]:
        """`event`'s row, with the current trace context, so its consumers continue the
        trace."""
        return {
            "message_id": event.id,
            "subject": event.subject,
            "payload": event.model_dump_json().encode(),
            "headers": Jsonb(inject({"Tollgate-Event-Version": str(event.version)})),
        }

    async def insert(self, execute: Execute, rows: Sequence[Mapping[str, Any]]) -> int:
        """Insert `rows` in their order in one statement, each unless an event with its id was
        queued before (ids derived from their cause make a re-applied cause queue nothing);
        how many were queued now. One row's values are plain parameters, several rows'
        arrays (the driver dumps an array of one for several times the cost of its value)."""
        if len(rows) == 1:
            params = {f"event_{name}": value for name, value in rows[0].items()}
            return len(await execute(_insert_one(self.table), params))
        params = {f"event_{name}": [row[name] for row in rows] for name in _COLUMNS}
        return len(await execute(_insert_many(self.table), params))

    def wake(self) -> None:
        """Ask the relay to look for new rows now instead of at its next poll."""
        self._wakeup.set()

    async def woken(self, timeout: float) -> None:
        """Wait for a wake-up (cleared when this returns) or `timeout` seconds."""
        # Not `wait_for`: on Python 3.11 it can swallow a cancellation that races with the
        # wake-up, and the relay would then never stop.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._wakeup.wait()
        self._wakeup.clear()


@functools.cache
def _insert_one(outbox: Table) -> DriverStatement:
    rows = select(*[bindparam(f"event_{c}", type_=outbox.c[c].type) for c in _COLUMNS])
    return _inserting(outbox, rows)


@functools.cache
def _insert_many(outbox: Table) -> DriverStatement:
    arrays = [bindparam(f"event_{c}", type_=ARRAY(outbox.c[c].type)) for c in _COLUMNS]
    events = (
        func.unnest(*arrays)
        .table_valued(*[column(c, outbox.c[c].type) for c in _COLUMNS], with_ordinality="n")
        .render_derived(name="e")
    )
    return _inserting(outbox, select(*[events.c[c] for c in _COLUMNS]).order_by(events.c.n))


def _inserting(outbox: Table, rows: Any) -> DriverStatement:
    statement = (
        insert(outbox)
        .from_select(list(_COLUMNS), rows)
        .on_conflict_do_nothing(index_elements=[outbox.c.message_id])
        .returning(outbox.c.id)
    )
    return DriverStatement.of(statement)


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
        outbox: Outbox,
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

    async def relay_once(self) -> int:
        """Publish one batch of unpublished rows; returns how many were published."""
        async with transaction(self._sessions) as session:
            claim = _claim(self._outbox.table)
            claimed = await claim.run(session, {"limit": self._batch_size})
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
        """Relay until cancelled; back off on errors without losing rows. A wake-up during a
        pass makes the next pass start at once rather than at the next poll."""
        while True:
            try:
                if await self.relay_once() == self._batch_size:
                    continue
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox.relay_failed")
            await self._outbox.woken(self._poll_interval)


# Legacy: what services used before their units of work; removed once none does.
_QUEUED = "tollgate.outbox.queued"


def queued(session: AsyncSession) -> bool:
    """Whether `session` queued an event: only then does its commit give the relay work."""
    return bool(session.info.get(_QUEUED))


async def add(session: AsyncSession, outbox: Table, event: DomainEvent) -> None:
    """Queue `event` for publishing in the session's transaction."""
    await add_many(session, outbox, [event])


async def add_many(session: AsyncSession, outbox: Table, events: Sequence[DomainEvent]) -> int:
    """Queue several events once each; how many were queued now."""
    if not events:
        return 0
    statement = _insert_one(outbox) if len(events) == 1 else _insert_many(outbox)
    added = len(await statement.run(session, driver_rows(events)))
    if added:
        note_queued(session)
    return added


async def add_once(session: AsyncSession, outbox: Table, event: DomainEvent) -> bool:
    """Queue `event` unless its id was queued; True if queued now."""
    return await add_many(session, outbox, [event]) == 1


def insert_once(
    outbox: Table, *, count: int = 1, when: ColumnElement[bool] | None = None
) -> Insert:
    """The outbox insert of `count` events as one statement, if `when` holds."""
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
    """`events`' outbox rows as the parameters of `insert_once(count=len(events))`."""
    rows = [Outbox.row(event) for event in events]
    if len(rows) == 1:
        return {f"event_{name}": value for name, value in rows[0].items()}
    return {f"event_{name}": [row[name] for row in rows] for name in _COLUMNS}


def note_queued(session: AsyncSession) -> None:
    """Record that `session` queued an event (its commit then wakes the relay)."""
    session.info[_QUEUED] = True
