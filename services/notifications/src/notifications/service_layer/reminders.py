"""The scheduled job: remind members N days before a one-time membership runs out."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from notifications.adapters.deferred import PENDING
from notifications.domain import intents
from notifications.domain.links import Links
from notifications.service_layer import every
from notifications.service_layer.notifier import Notifier
from notifications.service_layer.unit_of_work import NotificationsUnitOfWork


class ReminderJob:
    """Safe to run often and on several instances: each reminder is recorded once by its key."""

    def __init__(
        self,
        units: Callable[[], NotificationsUnitOfWork],
        notifier: Notifier,
        links: Links,
        *,
        days_before: int,
        interval: float,
    ) -> None:
        self._units = units
        self._notifier = notifier
        self._links = links
        self._days_before = days_before
        self._interval = interval

    async def run_once(self) -> int:
        """Record reminders for terms ending within the window; returns how many are new."""
        until = datetime.now(UTC) + timedelta(days=self._days_before)
        async with self._units() as uow:
            for expiry in await uow.directory.expiring(until=until):
                intent = intents.renewal_reminder(expiry, self._links)
                await self._notifier.notify(uow, intent)
            recorded = uow.deferred(PENDING)
            await uow.commit()
        return recorded.recorded

    async def run(self) -> None:
        """Check every `interval` seconds until cancelled."""
        await every(self._interval, self.run_once, name="reminders")
