"""The fee task: Stripe's fees on booked payments, read a page of balance transactions at a
time, and the pending parts of payments that never came together, forgotten.

No event carries a charge's fee (it is on the charge's balance transaction, which events never
expand), and reading each charge's would cost a Stripe call per payment. So a payment is booked
with its gross only, and this task lists the balance transactions of charges created over the
span of the payments whose fee is unknown (of type `charge`, then `payment`), 100 a page,
and books each fee (`fee:<charge>`, on the payment's balance transaction) once. A replica
remembers what its rounds listed (`Listed`), so each balance transaction is listed about once.
Every replica runs it; one round runs at a time (the others find the lock taken and skip
theirs).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import structlog

from ledger.service_layer import Deps

if TYPE_CHECKING:
    from ledger.adapters.stripe_gateway import SourcedBalanceTransaction
    from ledger.domain.payments import Payment
    from ledger.service_layer.unit_of_work import LedgerUnitOfWork

log = structlog.get_logger(__name__)

LOCK = "ledger.fees"
PAYMENT_TYPES = ("charge", "payment")
"""The types of a charge's balance transaction: `charge` for a card's, `payment` for a local
payment method's (Stripe's "Balance transaction types"); listed in this order, the second only
while some fee is still unknown."""
SLACK = 60
"""Seconds around a charge's creation within which its balance transaction is created."""
RELIST = 5
"""The last seconds before a listing that the next lists again: a balance transaction may show
in a list a little after its `created`, and our clock is not Stripe's."""
SPANS = 100
"""Apart spans listed kept per type (the newest)."""
KEEP = 100_000
"""Listed balance transactions no payment claimed yet kept per replica; past that, the listing
starts over."""


@dataclass
class Listed:
    """What a replica's rounds listed: per type, the spans of `created` listed whole, and the
    balance transactions no payment claimed yet (a payment booked later, its events late,
    finds its fee here without a listing)."""

    spans: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    unclaimed: dict[str, SourcedBalanceTransaction] = field(default_factory=dict)
    starts: int = 0
    """How many times it started over."""

    def missing(self, kind: str, start: int, end: int) -> list[tuple[int, int]]:
        """The parts of [start, end) not listed whole yet."""
        parts = []
        for lo, hi in self.spans.get(kind, []):
            if lo > start:
                parts.append((start, min(lo, end)))
            start = max(start, hi)
            if start >= end:
                break
        else:
            parts.append((start, end))
        return [(a, b) for a, b in parts if a < b]

    def listed(self, kind: str, start: int, end: int, *, at: int) -> None:
        """[start, end) was listed whole at `at` (all but its last RELIST seconds count)."""
        end = min(end, at - RELIST)
        if end <= start:
            return
        merged: list[tuple[int, int]] = []
        for lo, hi in sorted([*self.spans.get(kind, []), (start, end)]):
            if merged and lo <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
            else:
                merged.append((lo, hi))
        self.spans[kind] = merged[-SPANS:]

    def keep(self, txn: SourcedBalanceTransaction) -> None:
        """Keep a listed balance transaction; past KEEP, forget all and start over."""
        if len(self.unclaimed) >= KEEP:
            self.spans.clear()
            self.unclaimed.clear()
            self.starts += 1
        if txn.source:
            self.unclaimed[txn.source] = txn


async def book_fees(
    deps: Deps,
    *,
    limit: int = 1000,
    lookback: timedelta = timedelta(days=7),
    listed: Listed | None = None,
) -> int:
    """One round over the oldest `limit` payments of the last `lookback` whose fee is unknown;
    how many became known. Only what `listed` (this replica's earlier rounds) has not listed
    whole is listed, so each balance transaction is listed about once per replica."""
    listed = Listed() if listed is None else listed
    since = datetime.now(UTC) - lookback
    async with deps.uow() as uow:
        if not await uow.books.claim(LOCK):
            return 0
        waiting = {p.charge_id: p for p in await uow.books.payments_without_fee(limit, since=since)}
        claimed: list[str] = []
        known = await _claim(uow, waiting, listed, claimed)
        for kind in PAYMENT_TYPES:
            if not waiting:
                break
            created = [int(p.created_at.timestamp()) for p in waiting.values()]
            for start, end in listed.missing(kind, min(created) - SLACK, max(created) + SLACK):
                at, starts = int(time.time()), listed.starts
                pages = deps.stripe.balance_transactions_of_type(
                    kind, created_from=start, created_to=end
                )
                async for txn in pages:
                    listed.keep(txn)
                if listed.starts == starts:  # what it listed is all kept
                    listed.listed(kind, start, end, at=at)
            known += await _claim(uow, waiting, listed, claimed)
        await uow.commit()
    for charge_id in claimed:  # booked: no longer kept (a round rolled back claims them again)
        listed.unclaimed.pop(charge_id, None)
    return known


async def _claim(
    uow: LedgerUnitOfWork, waiting: dict[str, Payment], listed: Listed, claimed: list[str]
) -> int:
    """Book the fees of the waiting payments whose balance transaction was listed."""
    found = [c for c in waiting if c in listed.unclaimed]
    fees = [(waiting.pop(c), listed.unclaimed[c].fee, listed.unclaimed[c].id) for c in found]
    claimed += found
    return await uow.books.record_fees(fees) if fees else 0


async def prune(deps: Deps, *, older_than: timedelta) -> int:
    """Forget the parts of payments kept longer than `older_than`: their partners never came
    (another app's charges, invoice payments and the events about its charges on a shared
    account, mostly)."""
    async with deps.uow() as uow:
        if not await uow.books.claim(LOCK):
            return 0
        pruned = await uow.parts.prune(datetime.now(UTC) - older_than)
        await uow.commit()
    return pruned


async def run(deps: Deps, *, interval: float, keep_parts: timedelta) -> None:
    """Book known fees and prune stale parts every `interval` seconds until cancelled."""
    listed = Listed()
    while True:
        try:
            if known := await book_fees(deps, listed=listed):
                log.info("fees.booked", count=known)
            if pruned := await prune(deps, older_than=keep_parts):
                log.info("parts.pruned", count=pruned)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("fees.failed")
        await asyncio.sleep(interval)
