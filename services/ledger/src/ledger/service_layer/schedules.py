"""The schedule task: payout schedules run by the ledger itself, no cron.

Every `LEDGER_PAYOUT_SCHEDULE_INTERVAL_SECONDS` each replica takes the schedules that are due,
one transaction each: the schedule's row is claimed with `FOR UPDATE SKIP LOCKED` (a replica
never waits for, nor takes, one another replica holds), the group's lock is taken as every
command that reserves money takes it, and what is available (at least the schedule's minimum)
is requested under the key `schedule:<due date>`, once per group and due date. A request
below the group's threshold (checkout's `payout_auto_approve_below`) is approved in the same
transaction, which also moves the schedule's due date; then its transfer is sent as an
admin's approval sends it. Above the threshold it waits for an admin.

An auto-approved request whose transfer Stripe did not confirm is sent again by a later round
(after `RETRY_AFTER` times its attempts), under the same idempotency key.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from ledger.domain import payouts
from ledger.domain.errors import InvalidState, StripeUnavailable
from ledger.domain.payouts import AUTO, SCHEDULE, Interval, PayoutStatus
from ledger.service_layer import Deps
from ledger.service_layer.payouts import (
    PayoutRequest,
    approve_in,
    balance,
    request_in,
    send_transfer,
)
from ledger.service_layer.unit_of_work import LedgerUnitOfWork

log = structlog.get_logger(__name__)

RETRY_AFTER = timedelta(minutes=1)
"""How long after its approval (times its attempts) an auto-approved request whose transfer
is not booked is sent again."""


def now_utc() -> datetime:
    """The wall clock: what the task's `clock` is but in tests."""
    return datetime.now(UTC)


async def run_due(deps: Deps, now: datetime) -> list[dict[str, Any]]:
    """Every schedule due at `now`, each in its own transaction (one whose transaction fails is
    logged and left due for the next round); the requests made, as they ended."""
    made: list[dict[str, Any]] = []
    seen: set[str] = set()
    while True:
        async with deps.uow() as uow:
            schedule = await uow.payouts.claim_due_schedule(now, skip=seen)
            if schedule is None:
                return made
            seen.add(schedule["group_id"])
            try:
                request, approved = await _request_due(uow, schedule, now)
                await uow.commit()
            except Exception:
                log.exception("payout_schedule.failed", group_id=schedule["group_id"])
                continue
        if request is not None:
            made.append(await _send(deps, request) if approved else request)


async def _request_due(
    uow: LedgerUnitOfWork, schedule: dict[str, Any], now: datetime
) -> tuple[dict[str, Any] | None, bool]:
    """The due schedule's request (None when too little is available, or when its due date
    was requested already), whether it was approved now; the schedule moved to its next due
    date."""
    group_id, currency, due = schedule["group_id"], schedule["currency"], schedule["next_due_at"]
    await uow.books.lock_group(group_id)
    await uow.payouts.move_schedule(
        group_id, payouts.moved_due(Interval(schedule["interval"]), due, now)
    )
    key = f"schedule:{due.astimezone(UTC).isoformat()}"
    if await uow.payouts.by_idempotency_key(group_id, key) is not None:
        return None, False
    free = (await balance(uow, group_id, currency))["available"]
    if free <= 0 or free < schedule["minimum_amount"]:
        return None, False
    command = PayoutRequest(group_id, free, currency, requested_by=SCHEDULE, idempotency_key=key)
    request, _ = await request_in(uow, command)
    thresholds = await uow.groups.thresholds(group_id)
    if not schedule["destination_account"] or not payouts.auto_approves(free, currency, thresholds):
        return request, False  # an admin decides
    approved, _ = await approve_in(uow, request["payout_id"], AUTO)
    return approved, True


async def _send(deps: Deps, request: dict[str, Any], *, resumed: bool = False) -> dict[str, Any]:
    """Send an auto-approved request's transfer; Stripe's refusal (announced as failed) and
    its silence (retried by a later round) end as the request then is."""
    try:
        return await send_transfer(deps, request, resumed=resumed)
    except (StripeUnavailable, InvalidState) as exc:
        log.warning(
            "payout_schedule.transfer_not_sent", payout_id=request["payout_id"], why=str(exc)
        )
    async with deps.uow() as uow:
        found = await uow.payouts.get(request["payout_id"])
    return found or request


async def resume_unpaid(deps: Deps, now: datetime, *, limit: int = 20) -> list[dict[str, Any]]:
    """Send again the transfers of auto-approved requests Stripe did not confirm; the requests
    as they ended."""
    async with deps.uow() as uow:
        waiting = await uow.payouts.auto_approved_unpaid(now - RETRY_AFTER, limit=limit)
    resumed = []
    for payout_id in waiting:
        async with deps.uow() as uow:
            request = await _resume(uow, payout_id, now)
            await uow.commit()
        if request is not None:
            resumed.append(await _send(deps, request, resumed=True))
    return resumed


async def _resume(uow: LedgerUnitOfWork, payout_id: str, now: datetime) -> dict[str, Any] | None:
    """Under the group's lock then the request's (as an admin's approval takes them), the
    request with one more attempt if it is still approved and its wait is over (a replica that
    resumed it meanwhile counted an attempt)."""
    found = await uow.payouts.get(payout_id)
    if found is None:
        return None
    await uow.books.lock_group(found["group_id"])
    request = await uow.payouts.get(payout_id, lock=True)
    if request is None or request["status"] != PayoutStatus.APPROVED:
        return None
    if request["decided_at"] + RETRY_AFTER * request["attempts"] > now:
        return None
    return await uow.payouts.update(payout_id, attempts=request["attempts"] + 1)


async def run(deps: Deps, *, interval: float, clock: Callable[[], datetime] = now_utc) -> None:
    """Run the due schedules and resume unpaid approvals every `interval` seconds until
    cancelled; `clock` tells when it is (the tests' seam)."""
    while True:
        try:
            now = clock()
            for request in await run_due(deps, now):
                log.info(
                    "payout_schedule.requested",
                    payout_id=request["payout_id"],
                    group_id=request["group_id"],
                    status=request["status"],
                )
            if resumed := await resume_unpaid(deps, now):
                log.info("payout_schedule.resumed", count=len(resumed))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("payout_schedules.failed")
        await asyncio.sleep(interval)
