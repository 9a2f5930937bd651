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
    """Money sent to a group was booked (`paid`), or a payout to its bank came back.

    `paid`: a transfer to the group's connected account (`payout_id` the payout request that
    caused it, else the transfer's id) or a payout naming the group (its `po_…` id); `failed`
    or `canceled`: such a payout came back."""

    type: Literal["ledger.payout_recorded"] = "ledger.payout_recorded"
    payout_id: str
    status: str


class PayoutRejected(MoneyEvent):
    """An admin turned a payout request down: nothing was sent, its money is available again."""

    type: Literal["ledger.payout_rejected"] = "ledger.payout_rejected"
    payout_id: str
    """The payout request's id (`payreq_…`)."""
    decided_at: datetime


class PayoutFailed(MoneyEvent):
    """Stripe refused a payout request's transfer: nothing was sent.

    The request was approved (by an admin, or by the group's threshold); it ends `failed` and
    its money is available again."""

    type: Literal["ledger.payout_failed"] = "ledger.payout_failed"
    payout_id: str
    """The payout request's id (`payreq_…`)."""
    reason: str
    """Why, in Stripe's words (e.g. the connected account cannot receive transfers)."""
