"""The sweeper: announces memberships that ended (or changed source) by time alone.

The gate never needs it — it computes `active` at read time — but subscribers of
`membership.*` (seat counts, mails) learn of an expiry only from an event.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from membership.adapters import repository
from membership.service_layer.memberships import reconcile
from tollgate_shared.db import transaction

log = structlog.get_logger(__name__)


async def sweep_once(
    sessions: async_sessionmaker[AsyncSession],
    *,
    grace: timedelta,
    now: datetime,
    batch_size: int = 200,
) -> int:
    """Reconcile one batch of memberships due at `now`; returns how many."""
    async with transaction(sessions) as session:
        due = await repository.due_for_sweep(session, now=now, limit=batch_size)
        for key, at in due:
            await reconcile(session, key, grace=grace, now=now, cause=f"sweep:{at.isoformat()}")
    return len(due)


async def run(
    sessions: async_sessionmaker[AsyncSession],
    *,
    grace: timedelta,
    interval: float,
    clock: Callable[[], datetime],
    on_change: Callable[[], None],
) -> None:
    """Sweep every `interval` seconds until cancelled; errors are logged and retried."""
    while True:
        try:
            if await sweep_once(sessions, grace=grace, now=clock()):
                on_change()
                continue
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("sweep.failed")
        await asyncio.sleep(interval)
