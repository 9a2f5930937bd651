"""The scheduled job that addresses member notifications kept waiting for an address."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from notifications.adapters.deferred import PENDING
from notifications.service_layer import every
from notifications.service_layer.notifier import Notifier
from notifications.service_layer.unit_of_work import NotificationsUnitOfWork


class AddressWaits:
    """Records the notifications that waited for their member's address once an event has
    carried it (a receipt that came before the purchase's own events, say), and forgets those
    that waited longer than `keep`. Safe on several instances: each waiting row is taken once,
    and each notification is recorded once by its key."""

    def __init__(
        self,
        units: Callable[[], NotificationsUnitOfWork],
        notifier: Notifier,
        *,
        interval: float,
        keep: timedelta,
    ) -> None:
        self._units = units
        self._notifier = notifier
        self._interval = interval
        self._keep = keep

    async def run_once(self) -> int:
        """Record what can be addressed now; returns how many notifications are new."""
        async with self._units() as uow:
            since = datetime.now(UTC) - self._keep
            for intent in await uow.notifications.take_addressed(kept_since=since):
                await self._notifier.notify(uow, intent)
            recorded = uow.deferred(PENDING)
            await uow.commit()
        return recorded.recorded

    async def run(self) -> None:
        """Look every `interval` seconds until cancelled."""
        await every(self._interval, self.run_once, name="address_waits")
