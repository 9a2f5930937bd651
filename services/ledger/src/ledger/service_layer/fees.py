"""The fee task: Stripe's fees on booked payments, read a page of balance transactions at a
time, and the pending parts of payments that never came together, forgotten.

No event carries a charge's fee (it is on the charge's balance transaction, which events never
expand), and reading each charge's would cost a Stripe call per payment. So a payment is booked
with its gross only, and this task lists the balance transactions of charges created over the
span of the payments whose fee is unknown (of type `charge`, then `payment`), 100 a page,
newest first, and books each fee (`fee:<charge>`, on the payment's balance transaction) once.
Every replica runs it; one round runs at a time (the others find the lock taken and skip
theirs).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import structlog

from ledger.service_layer import Deps

log = structlog.get_logger(__name__)

LOCK = "ledger.fees"
PAYMENT_TYPES = ("charge", "payment")
"""The types of a charge's balance transaction: `charge` for a card's, `payment` for a local
payment method's (Stripe's "Balance transaction types"); listed in this order, the second only
while some fee is still unknown."""
SLACK = 60
"""Seconds around a charge's creation within which its balance transaction is created."""


async def book_fees(
    deps: Deps, *, limit: int = 1000, lookback: timedelta = timedelta(days=7)
) -> int:
    """One round over the oldest `limit` payments of the last `lookback` whose fee is unknown
    (an older one, whose balance transaction never showed, no longer widens every round's
    span); how many became known."""
    since = datetime.now(UTC) - lookback
    async with deps.uow() as uow:
        if not await uow.books.claim(LOCK):
            return 0
        waiting = {p.charge_id: p for p in await uow.books.payments_without_fee(limit, since=since)}
        if not waiting:
            return 0
        created = [int(p.created_at.timestamp()) for p in waiting.values()]
        known = 0
        for kind in PAYMENT_TYPES:
            if not waiting:
                break
            pages = deps.stripe.balance_transactions_of_type(
                kind, created_from=min(created) - SLACK, created_to=max(created) + SLACK
            )
            async for txn in pages:
                payment = waiting.pop(txn.source, None) if txn.source else None
                if payment is not None:
                    fee, txn_id = txn.fee, txn.id
                    known += await uow.books.record_fee(payment, fee, txn_id, causation_id=txn_id)
                if not waiting:
                    break
        await uow.commit()
    return known


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
    while True:
        try:
            if known := await book_fees(deps):
                log.info("fees.booked", count=known)
            if pruned := await prune(deps, older_than=keep_parts):
                log.info("parts.pruned", count=pruned)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("fees.failed")
        await asyncio.sleep(interval)
