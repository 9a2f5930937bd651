"""Payout rules: what a group may withdraw, and when its schedule is due."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from ledger.domain.errors import InsufficientBalance


class PayoutStatus(StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    PAID = "paid"
    REJECTED = "rejected"
    FAILED = "failed"


PENDING = (PayoutStatus.REQUESTED, PayoutStatus.APPROVED)
"""Requests whose money is reserved until their transfer is booked or they are turned down."""


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
