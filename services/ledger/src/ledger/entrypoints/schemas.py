"""The JSON API's bodies: what it takes, and what it answers (the rows of `adapters/queries.py`
and `adapters/payout_requests.py`, field for field)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from ledger.domain.payments import RefundReason
from ledger.domain.payouts import Interval
from tollgate_shared.web.validation import Int64, Text
from tollgate_shared.web.validation import ShortId as Id

Currency = Annotated[str, Field(pattern=r"^[a-z]{3}$")]


class RefundBody(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"amount": 1500, "reason": "requested_by_customer", "note": "double booking"}
            ]
        }
    )

    amount: Int64 | None = Field(default=None, gt=0, description="Minor units; omit for the rest")
    reason: RefundReason | None = None
    note: Text | None = Field(default=None, max_length=500)


class ScheduleBody(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"interval": "weekly", "minimum_amount": 5000, "currency": "nzd"}]
        }
    )

    interval: Interval
    minimum_amount: Int64 = Field(default=0, ge=0)
    currency: Currency
    destination_account: Id | None = None


class PayoutBody(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"amount": 25000, "currency": "nzd"}]}
    )

    amount: Int64 = Field(gt=0)
    currency: Currency


class Totals(BaseModel):
    """Amounts in minor units; `net` = gross - refunds - disputes - fees."""

    currency: str
    gross: int
    refunds: int
    disputes: int
    fees: int
    net: int
    paid_out: int


class Summary(BaseModel):
    group_id: str
    start: datetime | None = Field(alias="from")
    end: datetime | None = Field(alias="to", description="exclusive")
    totals: list[Totals]


class Entry(BaseModel):
    account: str
    currency: str
    amount: int = Field(description="signed: debit +, credit -")


class Transaction(BaseModel):
    id: int
    key: str
    kind: str
    group_id: str
    currency: str
    amount: int
    source_id: str
    charge_id: str | None
    invoice_id: str | None
    balance_transaction_id: str | None
    user_id: str | None
    tier_id: str | None
    purpose: str | None
    reference: str | None
    description: str | None
    causation_id: str | None
    occurred_at: datetime
    recorded_at: datetime
    entries: list[Entry]


class TransactionPage(BaseModel):
    data: list[Transaction]
    next_cursor: int | None


class Payment(BaseModel):
    charge_id: str
    payment_intent_id: str | None
    invoice_id: str | None
    customer_id: str | None
    group_id: str
    user_id: str | None
    tier_id: str | None
    purpose: str | None
    reference: str | None
    amount: int
    fee: int | None
    """Stripe's fee; null until the fee task has read it (seconds to a minute after booking)."""
    currency: str
    email: str | None
    description: str | None
    receipt_url: str | None
    hosted_invoice_url: str | None
    invoice_pdf: str | None
    period_start: datetime | None
    period_end: datetime | None
    created_at: datetime
    recorded_at: datetime
    refunded: int
    disputed: int
    status: Literal["paid", "partially_refunded", "refunded", "disputed"]


class PaymentPage(BaseModel):
    data: list[Payment]
    next_cursor: str | None


class Invoice(BaseModel):
    invoice_id: str
    customer_id: str | None
    group_id: str | None
    user_id: str | None
    tier_id: str | None
    number: str | None
    status: str | None
    amount_due: int
    amount_paid: int
    currency: str | None
    hosted_invoice_url: str | None
    invoice_pdf: str | None
    created_at: datetime
    status_at: int
    status_rank: int


class MemberHistory(BaseModel):
    payments: list[Payment]
    invoices: list[Invoice] = Field(description="on the first page only")
    next_cursor: str | None


class Refund(BaseModel):
    refund_id: str
    charge_id: str
    group_id: str
    amount: int
    currency: str
    status: str
    reason: str | None
    note: str | None
    requested_by: str | None
    created_at: datetime
    status_at: int
    status_rank: int


class Dispute(BaseModel):
    dispute_id: str
    charge_id: str
    group_id: str
    amount: int
    currency: str
    status: str
    reason: str | None
    created_at: datetime
    status_at: int
    status_rank: int


class ListedDispute(Dispute):
    """With its payment's member, if the payment is booked."""

    user_id: str | None
    email: str | None


class Risk(BaseModel):
    risk_id: str
    kind: str
    charge_id: str | None
    group_id: str | None
    user_id: str | None
    status: str
    reason: str | None
    created_at: datetime
    status_at: int
    status_rank: int


class ListedRisk(Risk):
    """With its payment's email and amount, if the payment is booked."""

    email: str | None
    amount: int | None
    currency: str | None


class TimelineStep(BaseModel):
    event_id: str
    object_id: str
    charge_id: str | None
    event_type: str
    status: str | None
    amount: int | None
    occurred_at: datetime


class PaymentDetail(Payment):
    transactions: list[Transaction]
    refunds: list[Refund]
    disputes: list[Dispute]
    risk: list[Risk]
    timeline: list[TimelineStep]


class RefundRequested(BaseModel):
    refund_id: str
    charge_id: str
    amount: int
    currency: str
    status: str | None = Field(description="Stripe's status of the refund")


class DisputePage(BaseModel):
    data: list[ListedDispute]
    next_cursor: str | None


class RiskPage(BaseModel):
    data: list[ListedRisk]
    next_cursor: str | None


class GroupRisk(BaseModel):
    disputes: list[ListedDispute]
    risk: list[ListedRisk]


class Balance(BaseModel):
    group_id: str
    currency: str
    payable: int = Field(description="net earned - paid out")
    pending: int = Field(description="reserved by pending payout requests")
    available: int


class Schedule(BaseModel):
    """A group's payout schedule; before one is set, only the manual default's first three
    fields."""

    group_id: str
    interval: Interval
    minimum_amount: int
    currency: str | None = None
    destination_account: str | None = None
    updated_at: datetime | None = None
    next_due_at: datetime | None = None
    """When the ledger next requests what is available (null when manual)."""


class Payout(BaseModel):
    """A payout request and what became of it."""

    payout_id: str
    group_id: str
    amount: int
    currency: str
    status: str
    requested_by: str
    decided_by: str | None
    destination_account: str | None
    transfer_id: str | None
    failure: str | None
    idempotency_key: str | None
    created_at: datetime
    decided_at: datetime | None
    attempts: int


class PayoutPage(BaseModel):
    data: list[Payout]
    next_cursor: str | None
