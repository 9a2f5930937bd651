"""The scheduled job: remind members N days before a one-time membership runs out."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from notifications.adapters import directory
from notifications.domain import intents
from notifications.domain.links import Links
from notifications.service_layer.notifier import Notifier
from tollgate_shared.db import transaction

log = structlog.get_logger(__name__)


class ReminderJob:
    """Safe to run often and on several instances: each reminder is recorded once by its key."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        notifier: Notifier,
        links: Links,
        *,
        days_before: int,
        interval: float,
    ) -> None:
        self._sessions = sessions
        self._notifier = notifier
        self._links = links
        self._days_before = days_before
        self._interval = interval

    async def run_once(self) -> int:
        """Record reminders for terms ending within the window; returns how many are new."""
        until = datetime.now(UTC) + timedelta(days=self._days_before)
        recorded = 0
        async with transaction(self._sessions) as session:
            for expiry in await directory.expiring(session, until=until):
                intent = intents.renewal_reminder(expiry, self._links)
                recorded += await self._notifier.notify(session, intent)
        return recorded

    async def run(self) -> None:
        """Check every `interval` seconds until cancelled."""
        while True:
            try:
                if recorded := await self.run_once():
                    log.info("reminders.recorded", count=recorded)
            except Exception:
                log.exception("reminders.failed")
            await asyncio.sleep(self._interval)
