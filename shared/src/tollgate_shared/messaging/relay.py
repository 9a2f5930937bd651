"""The outbox relay: publishes committed outbox rows to JetStream with Msg-Id = the event id,
through the service's publisher of each event type (`channels.domain_events`),
and its transaction marks them published and commits only after every ack. Rows are claimed
with `FOR UPDATE SKIP LOCKED`, so several relays share the work, and a relay that dies after
publishing but before its commit leaves the rows to be published again, which JetStream
deduplicates by Msg-Id."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Mapping

import structlog
from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tollgate_shared.messaging.channels import Publisher, publish
from tollgate_shared.messaging.outbox import Outbox
from tollgate_shared.persistence.db import DriverStatement
from tollgate_shared.persistence.unit_of_work import UnitOfWork

log = structlog.get_logger(__name__)


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
        publishers: Mapping[str, Publisher],
        *,
        batch_size: int = 100,
        poll_interval: float = 0.5,
    ) -> None:
        self._sessions = sessions
        self._outbox = outbox
        self._publishers = publishers
        self._batch_size = batch_size
        self._poll_interval = poll_interval

    async def relay_once(self) -> int:
        """Publish one batch of unpublished rows; returns how many were published."""
        async with UnitOfWork(self._sessions) as uow:
            claimed = await uow.execute(_claim(self._outbox.table), {"limit": self._batch_size})
            if not claimed:
                return 0
            rows = sorted(claimed, key=lambda row: row["id"])  # RETURNING keeps no order
            acks = await asyncio.gather(
                *(
                    publish(
                        self._publisher(row["subject"]),
                        row["subject"],
                        row["payload"],
                        msg_id=row["message_id"],
                        headers=row["headers"],
                    )
                    for row in rows
                )
            )
            await uow.commit()
        log.debug(
            "outbox.relayed",
            count=len(rows),
            duplicates=sum(1 for ack in acks if ack.duplicate),
        )
        return len(rows)

    def _publisher(self, subject: str) -> Publisher:
        publisher = self._publishers.get(subject)
        if publisher is None:
            raise LookupError(f"no publisher declared for {subject!r} (Runtime.build's emits)")
        return publisher

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
