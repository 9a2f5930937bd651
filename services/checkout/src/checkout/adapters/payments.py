"""What Stripe says of a checkout: the parts of sessions, subscriptions and PaymentIntents
checkout reads, parsed from Stripe's objects (SDK answers or webhook events alike); and the
invoices of a member's customer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from checkout.domain.checkout import CheckoutRecord
from tollgate_shared.contracts.stripe_objects import (
    CheckoutSession,
    Invoice,
    PaymentIntent,
    Ref,
    TotalDetails,
)

CONFIRMATION_SECRET = "latest_invoice.confirmation_secret"  # noqa: S105 (a path, not a secret)
"""The expansion that gives a subscription's first invoice's client secret (since
`2025-03-31.basil`; `latest_invoice.payment_intent` is gone)."""
PENDING_SETUP = "pending_setup_intent"
"""The expansion that gives a trial's SetupIntent: Stripe makes one when a `default_incomplete`
subscription has nothing to pay now, to collect the card its first period is billed to."""


class SessionDiscount(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    coupon: Ref = None
    promotion_code: Ref = None


class DiscountedSession(CheckoutSession):
    """A Checkout Session with the discounts applied to it (for coupon redemptions)."""

    discounts: Annotated[list[SessionDiscount], BeforeValidator(lambda v: v or [])] = Field(
        default_factory=list
    )


@dataclass(frozen=True)
class Payment:
    """A checkout's payment as Stripe reports it: its Checkout Session or its PaymentIntent
    (a subscription's first payment only says it is paid, from the subscription's status)."""

    id: str
    """The session's or PaymentIntent's id: `session_id` of the purchase events."""
    paid: bool
    status: str | None
    owner: str | None
    """The user the object itself names (`client_reference_id`, or the intent's `user_id`)."""
    amount: int | None
    currency: str | None
    email: str | None = None
    payment_intent_id: str | None = None
    discounts: tuple[SessionDiscount, ...] = ()
    amount_discount: int | None = None

    @classmethod
    def of_session(cls, session: DiscountedSession) -> Payment:
        """A Checkout Session's payment (paid also when nothing was due)."""
        return cls(
            id=session.id,
            paid=session.payment_status in ("paid", "no_payment_required"),
            status=session.payment_status,
            owner=session.client_reference_id,
            amount=session.amount_total,
            currency=session.currency,
            email=session.email,
            payment_intent_id=session.payment_intent,
            discounts=tuple(session.discounts),
            amount_discount=(session.total_details or TotalDetails()).amount_discount,
        )

    @classmethod
    def recorded(cls, record: CheckoutRecord, *, paid: bool) -> Payment:
        """A checkout's payment as our record has it, where Stripe's object says no more: a
        card-form subscription paid (its status), or a checkout checkout itself withdrew at
        Stripe (Stripe's event about it changes nothing after this)."""
        assert record.stripe_id is not None
        intent = record.stripe_id if record.kind == "payment_intent" else None
        return cls(
            id=record.stripe_id,
            paid=paid,
            status="paid" if paid else "expired",
            owner=record.user_id,
            amount=None,
            currency=record.currency,
            payment_intent_id=intent,
        )

    @classmethod
    def of_intent(cls, intent: PaymentIntent) -> Payment:
        """A PaymentIntent's payment (the metadata is the intent's own: checkout set it)."""
        return cls(
            id=intent.id,
            paid=intent.status == "succeeded",
            status=intent.status,
            owner=intent.metadata.get("user_id"),
            amount=intent.amount_received or intent.amount,
            currency=intent.currency,
            payment_intent_id=intent.id,
        )


@dataclass(frozen=True)
class Started:
    """A subscription or PaymentIntent made for the app's own card form: what the browser
    needs to pay it (Stripe.js takes the client secret and handles 3-D Secure itself)."""

    id: str
    status: str
    client_secret: str | None
    """None when nothing is due (a subscription whose first invoice a coupon paid in full)."""
    created: int
    next_action: str | None = None
    """A PaymentIntent's pending `next_action` type (`use_stripe_sdk` for 3-D Secure)."""
    amount: int | None = None
    currency: str | None = None
    intent_type: Literal["payment", "setup"] | None = None
    """What Stripe.js confirms `client_secret` with: a PaymentIntent (`confirmPayment`), or a
    trial's SetupIntent (`confirmSetup`); None when there is nothing to confirm."""
    trial_end: int | None = None

    @classmethod
    def of_subscription(cls, subscription: dict[str, Any]) -> Started:
        """From a subscription with `latest_invoice.confirmation_secret` and
        `pending_setup_intent` expanded: a trial (nothing due now) confirms its SetupIntent,
        anything else its first invoice's PaymentIntent."""
        setup = subscription.get("pending_setup_intent")
        invoice = subscription.get("latest_invoice")
        payment = (invoice.get("confirmation_secret") or {}) if isinstance(invoice, dict) else {}
        secret = payment.get("client_secret")
        kind: Literal["payment", "setup"] = "payment"
        if isinstance(setup, dict) and setup.get("client_secret"):
            secret, kind = setup["client_secret"], "setup"
        return cls(
            id=subscription["id"],
            status=subscription["status"],
            client_secret=secret,
            created=subscription["created"],
            intent_type=kind if secret else None,
            trial_end=subscription.get("trial_end"),
        )

    @classmethod
    def of_intent(cls, intent: dict[str, Any]) -> Started:
        """From a PaymentIntent."""
        return cls(
            id=intent["id"],
            status=intent["status"],
            client_secret=intent.get("client_secret"),
            created=intent["created"],
            next_action=(intent.get("next_action") or {}).get("type"),
            amount=intent.get("amount"),
            currency=intent.get("currency"),
        )


class StatusTransitions(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    finalized_at: int | None = None
    paid_at: int | None = None


class MemberInvoice(Invoice):
    """An invoice as a member's list shows it."""

    description: str | None = None
    status_transitions: StatusTransitions = Field(default_factory=StatusTransitions)

    @property
    def summary(self) -> str | None:
        """The invoice's description, else what its lines bill (a subscription's invoice has
        no description of its own)."""
        lines = [line.description for line in self.lines.data if line.description]
        return self.description or "; ".join(lines) or None


@dataclass(frozen=True)
class InvoicePage:
    """A page of a customer's invoices, newest first, as Stripe lists them."""

    invoices: list[MemberInvoice]
    has_more: bool

    @property
    def next_cursor(self) -> str | None:
        """Stripe's cursor of the next page (`starting_after`): the last invoice's id."""
        return self.invoices[-1].id if self.has_more and self.invoices else None
