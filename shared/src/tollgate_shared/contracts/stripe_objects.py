"""The parts of Stripe's objects Tollgate relies on (the events carrying them: `stripe`).

Models ignore fields we do not use and accept the shapes of the API versions we know of:
`current_period_*` on the subscription (before `2025-03-31.basil`) or on its items (after),
and `invoice.subscription`/`subscription_details`/`charge`/`payment_intent` (before) or
`invoice.parent.subscription_details` and `invoice.payments` (after). Webhook events come in
the API version of their endpoint, so old shapes keep arriving after our own calls (pinned to
the current version) moved on. Expandable references are read as ids whether or not expanded.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field


def _id_of(value: Any) -> Any:
    return value.get("id") if isinstance(value, dict) else value


Ref = Annotated[str | None, BeforeValidator(_id_of)]
"""An expandable reference: the id, whether Stripe sent the id or the expanded object."""

Metadata = Annotated[dict[str, str], BeforeValidator(lambda v: v or {})]


class StripeObject(BaseModel):
    """Base of Stripe objects: tolerant of unknown fields, immutable once parsed."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    object: str | None = None
    livemode: bool = False
    created: int | None = None


class Price(StripeObject):
    product: Ref = None
    unit_amount: int | None = None
    currency: str | None = None
    recurring: dict[str, Any] | None = None
    metadata: Metadata = Field(default_factory=dict)


class SubscriptionItem(StripeObject):
    price: Price | None = None
    quantity: int | None = None
    current_period_start: int | None = None
    current_period_end: int | None = None


class ListOf(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    data: list[dict[str, Any]] = Field(default_factory=list)


class SubscriptionItems(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    data: list[SubscriptionItem] = Field(default_factory=list)


class PauseCollection(BaseModel):
    """A subscription's paused payment collection: what its invoices become meanwhile, and
    when collection resumes by itself."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    behavior: Literal["keep_as_draft", "mark_uncollectible", "void"]
    resumes_at: int | None = None


class Subscription(StripeObject):
    status: str
    customer: Ref = None
    metadata: Metadata = Field(default_factory=dict)
    cancel_at_period_end: bool = False
    cancel_at: int | None = None
    canceled_at: int | None = None
    ended_at: int | None = None
    start_date: int | None = None
    current_period_start: int | None = None
    current_period_end: int | None = None
    items: SubscriptionItems = Field(default_factory=SubscriptionItems)
    latest_invoice: Ref = None
    pause_collection: PauseCollection | None = None

    @property
    def period_end(self) -> int | None:
        """End of the paid period: on the subscription (old APIs) or the latest of its items."""
        if self.current_period_end is not None:
            return self.current_period_end
        ends = [i.current_period_end for i in self.items.data if i.current_period_end]
        return max(ends) if ends else None

    @property
    def period_start(self) -> int | None:
        """Start of the current period, wherever the API version puts it."""
        if self.current_period_start is not None:
            return self.current_period_start
        starts = [i.current_period_start for i in self.items.data if i.current_period_start]
        return min(starts) if starts else None

    @property
    def price_ids(self) -> list[str]:
        """Ids of the prices the subscription bills."""
        return [i.price.id for i in self.items.data if i.price is not None]


class CustomerDetails(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    email: str | None = None
    name: str | None = None


class TotalDetails(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    amount_discount: int | None = None
    amount_tax: int | None = None
    amount_shipping: int | None = None


class CheckoutSession(StripeObject):
    mode: str
    status: str | None = None
    payment_status: str | None = None
    customer: Ref = None
    customer_email: str | None = None
    customer_details: CustomerDetails | None = None
    client_reference_id: str | None = None
    subscription: Ref = None
    payment_intent: Ref = None
    invoice: Ref = None
    metadata: Metadata = Field(default_factory=dict)
    amount_subtotal: int | None = None
    amount_total: int | None = None
    currency: str | None = None
    total_details: TotalDetails | None = None
    expires_at: int | None = None
    url: str | None = None

    @property
    def email(self) -> str | None:
        """The payer's email, from the details Checkout collected or the one it was given."""
        if self.customer_details and self.customer_details.email:
            return self.customer_details.email
        return self.customer_email


class Period(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    start: int
    end: int


class InvoiceLine(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    id: str | None = None
    amount: int = 0
    currency: str | None = None
    description: str | None = None
    period: Period | None = None
    metadata: Metadata = Field(default_factory=dict)
    subscription: Ref = None
    parent: dict[str, Any] | None = None
    price: Price | None = None
    pricing: dict[str, Any] | None = None


class InvoiceLines(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    data: list[InvoiceLine] = Field(default_factory=list)


class Invoice(StripeObject):
    status: str | None = None
    customer: Ref = None
    customer_email: str | None = None
    subscription: Ref = None
    subscription_details: dict[str, Any] | None = None
    charge: Ref = None
    payment_intent: Ref = None
    parent: dict[str, Any] | None = None
    payments: ListOf | None = None
    billing_reason: str | None = None
    amount_due: int = 0
    amount_paid: int = 0
    amount_remaining: int = 0
    total: int | None = None
    currency: str | None = None
    number: str | None = None
    hosted_invoice_url: str | None = None
    invoice_pdf: str | None = None
    period_start: int | None = None
    period_end: int | None = None
    attempt_count: int = 0
    next_payment_attempt: int | None = None
    metadata: Metadata = Field(default_factory=dict)
    lines: InvoiceLines = Field(default_factory=InvoiceLines)

    @property
    def _subscription_details(self) -> dict[str, Any]:
        """`parent.subscription_details` (basil+) or the top-level `subscription_details`."""
        details = (self.parent or {}).get("subscription_details") or self.subscription_details
        return details or {}

    @property
    def subscription_id(self) -> str | None:
        """The billed subscription: `parent.subscription_details` (basil+) or `subscription`."""
        return _id_of(self._subscription_details.get("subscription")) or self.subscription

    @property
    def subscription_metadata(self) -> dict[str, str]:
        """The subscription's metadata as copied onto the invoice, in either API shape; {}
        when it carries none."""
        return dict(self._subscription_details.get("metadata") or {})

    @property
    def carries_subscription_metadata(self) -> bool:
        """Whether the invoice carries a copy of its subscription's metadata (empty or not):
        API versions before `subscription_details` do not, and then only the subscription
        itself tells."""
        return self._subscription_details.get("metadata") is not None

    @property
    def payment_intent_id(self) -> str | None:
        """The paying payment intent: the default invoice payment (basil+) or `payment_intent`."""
        for payment in self.payments.data if self.payments else []:
            inner = payment.get("payment") or {}
            if inner.get("payment_intent"):
                return str(_id_of(inner["payment_intent"]))
        return self.payment_intent

    @property
    def line_period_end(self) -> int | None:
        """The latest period end among the invoice's lines."""
        ends = [line.period.end for line in self.lines.data if line.period]
        return max(ends) if ends else None


class BalanceTransaction(StripeObject):
    amount: int = 0
    fee: int = 0
    net: int = 0
    currency: str | None = None
    type: str | None = None


class Charge(StripeObject):
    amount: int
    amount_captured: int = 0
    amount_refunded: int = 0
    currency: str
    customer: Ref = None
    payment_intent: Ref = None
    invoice: Ref = None
    balance_transaction: Annotated[
        str | BalanceTransaction | None, Field(union_mode="left_to_right")
    ] = None
    metadata: Metadata = Field(default_factory=dict)
    paid: bool = False
    refunded: bool = False
    disputed: bool = False
    status: str | None = None
    receipt_url: str | None = None
    receipt_email: str | None = None
    failure_code: str | None = None
    failure_message: str | None = None

    @property
    def balance_transaction_id(self) -> str | None:
        """The balance transaction's id, expanded or not."""
        bt = self.balance_transaction
        return bt.id if isinstance(bt, BalanceTransaction) else bt

    @property
    def fee(self) -> int | None:
        """Stripe's fee if the balance transaction came expanded, else None (fetch it)."""
        bt = self.balance_transaction
        return bt.fee if isinstance(bt, BalanceTransaction) else None


class Refund(StripeObject):
    amount: int
    currency: str
    charge: Ref = None
    payment_intent: Ref = None
    status: str | None = None
    reason: str | None = None
    metadata: Metadata = Field(default_factory=dict)
    balance_transaction: Ref = None


class Dispute(StripeObject):
    amount: int
    currency: str
    charge: Ref = None
    payment_intent: Ref = None
    status: str
    reason: str | None = None
    is_charge_refundable: bool = False
    balance_transactions: list[BalanceTransaction] = Field(default_factory=list)
    metadata: Metadata = Field(default_factory=dict)


class PaymentIntent(StripeObject):
    amount: int
    amount_received: int = 0
    currency: str
    customer: Ref = None
    status: str
    latest_charge: Ref = None
    invoice: Ref = None
    metadata: Metadata = Field(default_factory=dict)
    last_payment_error: dict[str, Any] | None = None


class EarlyFraudWarning(StripeObject):
    charge: Ref = None
    payment_intent: Ref = None
    fraud_type: str | None = None
    actionable: bool = False


class Review(StripeObject):
    charge: Ref = None
    payment_intent: Ref = None
    reason: str | None = None
    opened_reason: str | None = None
    closed_reason: str | None = None
    open: bool = False


class Payout(StripeObject):
    amount: int
    currency: str
    status: str | None = None
    arrival_date: int | None = None
    destination: Ref = None
    metadata: Metadata = Field(default_factory=dict)


class Transfer(StripeObject):
    amount: int
    currency: str
    destination: Ref = None
    amount_reversed: int = 0
    reversed: bool = False
    transfer_group: str | None = None
    metadata: Metadata = Field(default_factory=dict)


OBJECT_MODELS: dict[str, type[StripeObject]] = {
    "checkout.session": CheckoutSession,
    "subscription": Subscription,
    "invoice": Invoice,
    "charge": Charge,
    "refund": Refund,
    "dispute": Dispute,
    "payment_intent": PaymentIntent,
    "radar.early_fraud_warning": EarlyFraudWarning,
    "review": Review,
    "payout": Payout,
    "transfer": Transfer,
    "balance_transaction": BalanceTransaction,
    "price": Price,
}
"""Stripe's `object` names mapped to the models above."""
