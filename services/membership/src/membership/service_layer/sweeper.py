"""The sweeper: announces memberships that ended (or changed source) by time alone, and
counts the active ones (`tollgate_memberships_active`) once nothing is due.

The gate never needs it — it computes `active` at read time — but subscribers of
`membership.*` (seat counts, mails) learn of an expiry only from an event.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

import structlog

from membership.service_layer import credits
from membership.service_layer.memberships import MEMBERSHIPS_ACTIVE, reconcile
from membership.service_layer.unit_of_work import MembershipUnitOfWork

log = structlog.get_logger(__name__)


async def sweep_once(
    units: Callable[[], MembershipUnitOfWork],
    *,
    grace: timedelta,
    now: datetime,
    batch_size: int = 200,
) -> int:
    """Reconcile one batch of memberships due at `now`; returns how many."""
    async with units() as uow:
        due = await uow.memberships.due_for_sweep(now=now, limit=batch_size)
        for key, at in due:
            await reconcile(uow, key, grace=grace, now=now, cause=f"sweep:{at.isoformat()}")
        # Credits recorded for later (a term after a subscription, and the other way) start.
        starting = await uow.credits.due_members(now, limit=batch_size)
        for key in starting:
            await credits.apply_due(uow, key, now)
        await uow.commit()
    return len(due) + len(starting)


async def run(
    units: Callable[[], MembershipUnitOfWork],
    *,
    grace: timedelta,
    interval: float,
    clock: Callable[[], datetime],
) -> None:
    """Sweep every `interval` seconds until cancelled; errors are logged and retried."""
    while True:
        try:
            if await sweep_once(units, grace=grace, now=clock()):
                continue
            async with units() as uow:
                MEMBERSHIPS_ACTIVE.set(await uow.memberships.count_active())
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("sweep.failed")
        await asyncio.sleep(interval)
