"""The notifications Stripe's own objects cause (a failed invoice attempt, a trial ending, a
failed payment intent), and the time formats every notification's context uses."""

from __future__ import annotations

from datetime import UTC, datetime

from notifications.domain.details import StripeSubscription
from notifications.domain.links import Links
from notifications.domain.model import Intent, Kind
from tollgate_shared.contracts.stripe_objects import Invoice, PaymentIntent


def day(at: datetime | None) -> str:
    """A moment's UTC day (`open` for none), as keys use it."""
    return at.astimezone(UTC).date().isoformat() if at else "open"


def iso(at: datetime | None) -> str | None:
    """A moment as ISO 8601 (None for none)."""
    return at.isoformat() if at else None


def moment(seconds: int | None) -> datetime | None:
    """A Stripe timestamp as a UTC datetime (None for none)."""
    return datetime.fromtimestamp(seconds, UTC) if seconds else None


def epoch(seconds: int | None) -> str | None:
    """A Stripe timestamp as ISO 8601 (None for none)."""
    return iso(moment(seconds))


def failed_attempt_key(invoice_id: str, attempt_count: int) -> str:
    """The fact of one failed attempt to pay an invoice."""
    return f"{invoice_id}#{attempt_count}"


def payment_failed(invoice: Invoice, links: Links) -> Intent:
    """The member hears of each failed attempt to pay an invoice once, unless the retry it
    announces is due before it goes out (`stale_after`)."""
    metadata = {**invoice.metadata, **invoice.subscription_metadata}
    group_id = metadata.get("group_id")
    return Intent(
        kind=Kind.PAYMENT_FAILED,
        source_id=failed_attempt_key(invoice.id, invoice.attempt_count),
        user_id=metadata.get("user_id"),
        group_id=group_id,
        email=invoice.customer_email,
        context={
            "amount": invoice.amount_due,
            "currency": invoice.currency or "usd",
            "tier_id": metadata.get("tier_id"),
            "invoice_number": invoice.number,
            "attempt_count": invoice.attempt_count,
            "next_payment_attempt": epoch(invoice.next_payment_attempt),
            "hosted_invoice_url": invoice.hosted_invoice_url,
            "billing_portal_url": links.billing_portal(group_id),
        },
        stale_after=moment(invoice.next_payment_attempt),
    )


def trial_ending(subscription: StripeSubscription, links: Links) -> Intent:
    """The member hears once per subscription and trial end that the trial is ending
    (`customer.subscription.trial_will_end`), what it costs then, and where to manage it; not
    after the trial has ended (`stale_after`)."""
    metadata = subscription.metadata
    group_id = metadata.get("group_id")
    trial_end = moment(subscription.trial_end)
    # What it costs once the trial ends, when one price bills it (Tollgate's subscriptions).
    items = [item for item in subscription.items.data if item.price is not None]
    price = items[0].price if len(items) == 1 else None
    amount = price.unit_amount * (items[0].quantity or 1) if price and price.unit_amount else None
    return Intent(
        kind=Kind.TRIAL_ENDING,
        source_id=f"{subscription.id}@trial-{day(trial_end)}",
        user_id=metadata.get("user_id"),
        group_id=group_id,
        context={
            "tier_id": metadata.get("tier_id"),
            "trial_end": iso(trial_end),
            "amount": amount,
            "currency": price.currency if price else None,
            "interval": (price.recurring or {}).get("interval") if price else None,
            "billing_portal_url": links.billing_portal(group_id),
        },
        stale_after=trial_end,
    )


class ChargedIntent(PaymentIntent):
    """A payment intent with what a mail about it shows: what it is for, the payer's email."""

    description: str | None = None
    receipt_email: str | None = None


def purchase_failed(intent: ChargedIntent, links: Links) -> Intent:
    """The buyer hears once that paying an intent of ours (a purchase in the app's own card
    form, or a Checkout's) failed: declined, or its 3-D Secure challenge failed."""
    metadata = intent.metadata
    error = intent.last_payment_error or {}
    return Intent(
        kind=Kind.PURCHASE_FAILED,
        source_id=intent.id,
        user_id=metadata.get("user_id"),
        group_id=metadata.get("group_id"),
        email=intent.receipt_email,
        context={
            "amount": intent.amount,
            "currency": intent.currency,
            "description": intent.description,
            "item_id": metadata.get("item_id"),
            "reference": metadata.get("reference"),
            "reason": error.get("message"),
            "group_url": links.group(metadata.get("group_id")),
        },
    )
