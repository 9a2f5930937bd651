"""Refreshing the gauges that describe state outside the process (consumer lag, DLQ depth,
outbox backlog) every few seconds, so `/metrics` answers without touching the broker or the
database."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import structlog
from nats.js import JetStreamContext
from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tollgate_shared.messaging.streams import DLQ, ConsumerSpec, dlq_subject
from tollgate_shared.observability.metrics import CONSUMER_LAG, DLQ_MESSAGES, OUTBOX_BACKLOG

log = structlog.get_logger(__name__)


async def refresh(
    js: JetStreamContext,
    consumers: Sequence[ConsumerSpec],
    *,
    service: str,
    sessions: async_sessionmaker[AsyncSession] | None = None,
    outbox: Table | None = None,
) -> None:
    """Read every consumer's lag, every consumer's DLQ depth and the outbox backlog once."""
    for spec in consumers:
        info = await js.consumer_info(spec.stream.name, spec.durable)
        CONSUMER_LAG.labels(spec.stream.name, spec.durable).set(
            info.num_pending + info.num_ack_pending
        )
    for durable in sorted({spec.durable for spec in consumers}):
        parked = await js.stream_info(DLQ.name, subjects_filter=dlq_subject(durable, ">"))
        DLQ_MESSAGES.labels(durable).set(sum((parked.state.subjects or {}).values()))
    if sessions is not None and outbox is not None:
        async with sessions() as session:
            backlog = await session.scalar(
                select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
            )
        OUTBOX_BACKLOG.labels(service).set(backlog or 0)


async def run(
    js: JetStreamContext,
    consumers: Sequence[ConsumerSpec],
    *,
    service: str,
    sessions: async_sessionmaker[AsyncSession] | None,
    outbox: Table | None,
    interval: float,
) -> None:
    """Refresh every `interval` seconds until cancelled; a failed refresh keeps the last values."""
    while True:
        try:
            await refresh(js, consumers, service=service, sessions=sessions, outbox=outbox)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("metrics.refresh_failed", error=repr(exc))
        await asyncio.sleep(interval)
