"""Events the ledger service emits on `ledger.<verb>`."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from tollgate_shared.contracts.base import DomainEvent


class MoneyEvent(DomainEvent):
    group_id: str | None = None
    user_id: str | None = None
    amount: int
    """In the currency's minor unit."""
    currency: str
    charge_id: str | None = None
    email: str | None = None


class PaymentRecorded(MoneyEvent):
    type: Literal["ledger.payment_recorded"] = "ledger.payment_recorded"
    fee: int = 0
    tier_id: str | None = None
    invoice_id: str | None = None
    description: str | None = None
    receipt_url: str | None = None
    hosted_invoice_url: str | None = None
    period_start: datetime | None = None
    """The billing period a subscription payment covers (from the invoice's lines)."""
    period_end: datetime | None = None


class RefundRecorded(MoneyEvent):
    type: Literal["ledger.refund_recorded"] = "ledger.refund_recorded"
    refund_id: str
    reason: str | None = None


class DisputeOpened(MoneyEvent):
    type: Literal["ledger.dispute_opened"] = "ledger.dispute_opened"
    dispute_id: str
    reason: str | None = None


class DisputeClosed(MoneyEvent):
    type: Literal["ledger.dispute_closed"] = "ledger.dispute_closed"
    dispute_id: str
    status: str
    """Stripe's final status: `won`, `lost`, `warning_closed`."""


class PayoutRecorded(MoneyEvent):
    type: Literal["ledger.payout_recorded"] = "ledger.payout_recorded"
    payout_id: str
    status: str
