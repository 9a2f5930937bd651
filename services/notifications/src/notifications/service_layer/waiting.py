"""The scheduled job that takes on member notifications kept waiting for Stripe's details or
for their member's address."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from notifications.adapters.deferred import PENDING
from notifications.service_layer import every
from notifications.service_layer.notifier import Notifier
from notifications.service_layer.unit_of_work import NotificationsUnitOfWork

DETAILS_KEPT = timedelta(days=30)
"""How long what Stripe's events told is kept: as long as the STRIPE stream keeps the events
(`streams.STRIPE.max_age`; a notification they complete comes within that, or not at all)."""
PRUNE_EVERY = 3600.0
"""Seconds between two deletions of what was kept longer."""


class Waits:
    """Records the notifications that waited for details once Stripe's event has told them (a
    receipt that came before its charge's or invoice's event, say), or once they waited
    `details_wait` (then with what is known); those that waited for their member's address once
    an event has carried it (a receipt that came before the purchase's own events); forgets
    those that waited longer than `keep` for an address. Safe on several instances: each
    waiting row is taken once, and each notification is recorded once by its key."""

    def __init__(
        self,
        units: Callable[[], NotificationsUnitOfWork],
        notifier: Notifier,
        *,
        interval: float,
        keep: timedelta,
        details_wait: timedelta,
    ) -> None:
        self._units = units
        self._notifier = notifier
        self._interval = interval
        self._keep = keep
        self._details_wait = details_wait
        self._pruned_at: float | None = None

    async def run_once(self) -> int:
        """Record what can go on now; returns how many notifications are new."""
        async with self._units() as uow:
            now = datetime.now(UTC)
            ready = await uow.notifications.take_ready(
                kept_since=now - self._keep, details_since=now - self._details_wait
            )
            for intent in ready:
                await self._notifier.notify(uow, intent)
            if self._pruned_at is None or time.monotonic() - self._pruned_at >= PRUNE_EVERY:
                await uow.details.forget(before=now - DETAILS_KEPT)
                self._pruned_at = time.monotonic()
            recorded = uow.deferred(PENDING)
            await uow.commit()
        return recorded.recorded

    async def run(self) -> None:
        """Look every `interval` seconds until cancelled."""
        await every(self._interval, self.run_once, name="waits")
