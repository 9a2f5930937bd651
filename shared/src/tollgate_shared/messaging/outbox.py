"""The transactional outbox: a unit of work writes a service's events to its outbox table in
the transaction of the change they announce (`UnitOfWork.emit`, never committing on its own),
and wakes the relay (`relay.py`) after the commit."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import structlog
from psycopg.types.json import Jsonb
from sqlalchemy import Table, bindparam, column, func, select
from sqlalchemy.dialects.postgresql import ARRAY, insert

from tollgate_shared.contracts.base import DomainEvent
from tollgate_shared.observability.tracing import inject
from tollgate_shared.persistence.db import DriverStatement

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
