"""The scheduled job that mails each group that wants a digest the sales held for it, once a
digest period has ended."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from notifications.adapters.deferred import PENDING
from notifications.domain import intents
from notifications.domain.digests import Digest, Periods, Sale, sale_of
from notifications.domain.kinds import KINDS
from notifications.domain.links import Links
from notifications.domain.model import Kind
from notifications.service_layer import every
from notifications.service_layer.notifier import Notifier
from notifications.service_layer.unit_of_work import NotificationsUnitOfWork

LOCK = "sale-digests"
"""The advisory lock runs of the job take turns on (one per database, whatever the instances)."""


class SaleDigests:
    """Once a period has ended, one digest per group of the sale notices held for it
    (`Status.DIGEST`) until then, each listed once (then `Status.DIGESTED`). Safe on several
    instances: runs take turns (an advisory lock), and a group's digest of a period is recorded
    once; sales held after it was (recorded late) wait for the next period's."""

    def __init__(
        self,
        units: Callable[[], NotificationsUnitOfWork],
        notifier: Notifier,
        links: Links,
        *,
        periods: Periods,
        interval: float,
    ) -> None:
        self._units = units
        self._notifier = notifier
        self._links = links
        self._periods = periods
        self._interval = interval

    async def run_once(self) -> int:
        """Record the digests of the period that ended last; returns how many are new."""
        start, end = self._periods.last_ended(datetime.now(UTC))
        async with self._units() as uow:
            await uow.lock(LOCK)
            sales: dict[str, list[Sale]] = {}
            ids: dict[str, list[str]] = {}
            for held in await uow.notifications.held(before=end):
                label = KINDS[Kind(held.kind)].sale or held.kind
                sales.setdefault(held.group_id, []).append(sale_of(label, held.context, held.at))
                ids.setdefault(held.group_id, []).extend(held.ids)
            digests = [Digest(group_id, start, end, listed) for group_id, listed in sales.items()]
            done = await uow.notifications.recorded(
                Kind.SALE_DIGEST, [d.source_id for d in digests]
            )
            for digest in digests:
                if digest.source_id in done:  # this period's went out: the next one lists them
                    continue
                await self._notifier.notify(uow, intents.sale_digest(digest, self._links))
                await uow.notifications.digested(ids[digest.group_id])
            recorded = uow.deferred(PENDING)
            await uow.commit()
        return recorded.recorded

    async def run(self) -> None:
        """Look every `interval` seconds until cancelled."""
        await every(self._interval, self.run_once, name="digests")
