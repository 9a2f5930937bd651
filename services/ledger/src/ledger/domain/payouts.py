"""Payout rules: what a group may withdraw, when its schedule is due, and what is approved
without an admin."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from ledger.domain.errors import AlreadyDecided, InsufficientBalance


class PayoutStatus(StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    PAID = "paid"
    REJECTED = "rejected"
    FAILED = "failed"


PENDING = (PayoutStatus.REQUESTED, PayoutStatus.APPROVED)
"""Requests whose money is reserved until their transfer is booked or they are turned down."""

TRANSFERABLE = (*PENDING, PayoutStatus.FAILED)
"""Requests a booked transfer marks paid: a transfer Stripe made is what happened, even for a
request whose concurrent retry was refused."""


def check_can_approve(status: str) -> None:
    """Requested, or approved with its transfer not booked yet (approving again resumes it)."""
    if status not in PENDING:
        raise AlreadyDecided(f"the payout request is already {status}")


def check_can_reject(status: str) -> None:
    """Only a requested one: once approved, its transfer may already exist at Stripe."""
    if status != PayoutStatus.REQUESTED:
        raise AlreadyDecided(f"the payout request is already {status}")


class Interval(StrEnum):
    MANUAL = "manual"
    WEEKLY = "weekly"
    MONTHLY = "monthly"


def available(payable: int, pending: int) -> int:
    """Net earned - paid out (the payable balance) - what pending requests reserve."""
    return payable - pending


def check_can_withdraw(amount: int, *, payable: int, pending: int) -> None:
    """Raise unless `amount` fits in the available balance."""
    free = available(payable, pending)
    if amount > free:
        raise InsufficientBalance(f"requested {amount}, available {max(free, 0)}")


def next_due(interval: Interval, after: datetime) -> datetime | None:
    """A schedule's first due date strictly after `after`: the next Monday 00:00 UTC (weekly),
    the next 1st of a month 00:00 UTC (monthly); None when manual."""
    if interval is Interval.MANUAL:
        return None
    day = after.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if interval is Interval.WEEKLY:
        return day + timedelta(days=7 - day.weekday())
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


def moved_due(interval: Interval, due: datetime, now: datetime) -> datetime | None:
    """Where a schedule's due date moves once `due` was handled at `now`: the first due date
    after both, so periods missed while no replica ran make one request, not one each."""
    return next_due(interval, max(due, now))


AUTO = "auto"
"""`decided_by` of a request approved without an admin (below its group's threshold)."""
SCHEDULE = "schedule"
"""`requested_by` of a request a schedule made."""


def auto_approves(amount: int, currency: str, thresholds: Mapping[str, int]) -> bool:
    """Whether a scheduled request is approved without an admin: strictly below the group's
    threshold in its currency (no threshold: an admin decides)."""
    return amount < thresholds.get(currency.lower(), 0)
