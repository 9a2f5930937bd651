"""Payout rules: what a group may withdraw, and when its schedule is due."""

from __future__ import annotations

from datetime import datetime, timedelta
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


def schedule_due(interval: Interval, last: datetime | None, now: datetime) -> bool:
    """Whether a scheduled payout is due: never for manual, else a week/month after the last."""
    if interval is Interval.MANUAL:
        return False
    if last is None:
        return True
    return now - last >= (timedelta(days=7) if interval is Interval.WEEKLY else timedelta(days=30))
