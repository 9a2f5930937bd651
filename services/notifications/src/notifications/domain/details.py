"""What Stripe's own objects tell about the facts mailed (pure): the details that complete a
receipt (when the payment was made, what was bought, its reference) or the end of a
membership (why Stripe canceled it), kept by the id of the object they come from; and when a
failed attempt to pay an invoice is superseded.

The ledger's and membership's events say what happened in Tollgate's terms; Stripe's events of
the same payment or subscription say when and why. They reach the service on two streams in
either order, so a notification names the objects whose details complete it
(`Intent.details_keys`) and waits for them a bounded time (`service_layer/waiting.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tollgate_shared.contracts.stripe_objects import Charge, Invoice, Subscription

Details = dict[str, Any]
"""Values of a notification's context (ISO dates, ids, names), by context key."""

NON_PAYMENT = frozenset({"payment_failed", "payment_disputed"})
"""Stripe's `cancellation_details.reason`s of a subscription it canceled for non-payment."""


def iso(seconds: int | None) -> str | None:
    """A Stripe timestamp (seconds) as an ISO date-time in UTC."""
    return datetime.fromtimestamp(seconds, UTC).isoformat() if seconds else None


class PaidCharge(Charge):
    """A charge as `charge.succeeded` carries it, with what a receipt shows of it."""

    description: str | None = None


class PaidInvoice(Invoice):
    """An invoice with its status transitions (`paid_at`)."""

    status_transitions: dict[str, Any] | None = None

    @property
    def paid_at(self) -> int | None:
        """When it was paid (Stripe's `status_transitions.paid_at`)."""
        return (self.status_transitions or {}).get("paid_at")

    @property
    def group_metadata(self) -> dict[str, str]:
        """Its own metadata overlaid with its subscription's: names the group when it is ours."""
        return {**self.metadata, **self.subscription_metadata}


class StripeSubscription(Subscription):
    """A subscription with why it was canceled and when its trial ends."""

    cancellation_details: dict[str, Any] | None = None
    trial_end: int | None = None

    @property
    def cancellation_reason(self) -> str | None:
        """Stripe's `cancellation_details.reason`: `cancellation_requested`, `payment_failed`,
        `payment_disputed`, or None."""
        return (self.cancellation_details or {}).get("reason")


def of_charge(charge: PaidCharge) -> Details:
    """A charge of ours (its metadata names a group: a one-time payment, whose intent's
    metadata Stripe copied onto it): when it was made, for what, under which reference."""
    metadata = charge.metadata
    return {
        "paid_at": iso(charge.created),
        "tier_id": metadata.get("tier_id"),
        "item_id": metadata.get("item_id"),
        "reference": metadata.get("reference"),
        "description": charge.description,
    }


def of_invoice(invoice: PaidInvoice) -> Details:
    """A paid invoice of ours: when it was paid, its lines' descriptions (Stripe writes the
    product's name in them), its tier."""
    lines = [line.description for line in invoice.lines.data if line.description]
    return {
        "paid_at": iso(invoice.paid_at),
        "tier_id": invoice.group_metadata.get("tier_id"),
        "description": "; ".join(lines) or None,
    }


def period_key(subscription_id: str, period_end: datetime | None) -> str:
    """A subscription's period, by the day (UTC) it ends: the paid invoice of that period tells
    its amount under it, for the sale notice of the membership the period starts or renews."""
    day = period_end.astimezone(UTC).date().isoformat() if period_end else "open"
    return f"{subscription_id}@{day}"


def of_period(invoice: PaidInvoice) -> tuple[str, Details] | None:
    """A paid subscription invoice: what the period it bills was paid (its lines' latest end
    is the period's end), under `period_key`; None for an invoice of no subscription."""
    ends = [line.period.end for line in invoice.lines.data if line.period]
    if invoice.subscription_id is None or not ends:
        return None
    end = datetime.fromtimestamp(max(ends), UTC)
    details = {"amount": invoice.amount_paid, "currency": invoice.currency}
    return period_key(invoice.subscription_id, end), details


def of_ended_subscription(subscription: StripeSubscription) -> Details:
    """A subscription Stripe ended: why (`cancellation_reason`)."""
    return {"cancellation_reason": subscription.cancellation_reason}


@dataclass(frozen=True)
class InvoiceAttempts:
    """What the service knows of an invoice's payment attempts, whatever order their events
    came in: the latest attempt's number, and whether it is paid."""

    attempt_count: int
    paid: bool


def superseded(invoice: Invoice, known: InvoiceAttempts) -> str | None:
    """Why the mail about `invoice`'s failed attempt must not go out, or None: the invoice is
    paid, or a later attempt is known (its own outcome is told instead). A retry already due
    supersedes it too: the intent's `stale_after`."""
    if known.paid:
        return "invoice paid"
    if known.attempt_count > invoice.attempt_count:
        return "later attempt known"
    return None
