"""How the console words and shows what the ledger stores: statuses and Stripe's codes in plain
words (never a raw enum value), amounts in the currency's own units as the mails show them,
and times as `<time>` elements a small script puts in the browser's own zone."""

from __future__ import annotations

from datetime import UTC, datetime

from markupsafe import Markup, escape

from tollgate_shared.money import exponent, format_money, major_units

LOCALE = "en_US"
"""The locale amounts are shown in (the mails' default, `MAIL_LOCALE`)."""

STATUSES: dict[str, dict[str, str]] = {
    "payment": {
        "paid": "Paid",
        "partially_refunded": "Partly refunded",
        "refunded": "Refunded",
        "disputed": "Disputed",
    },
    "refund": {
        "pending": "Pending at Stripe",
        "requires_action": "Waiting for the customer",
        "succeeded": "Refunded",
        "failed": "Failed: the money was not returned",
        "canceled": "Canceled",
    },
    "dispute": {
        "warning_needs_response": "Inquiry: needs a response",
        "warning_under_review": "Inquiry under review",
        "warning_closed": "Inquiry closed",
        "needs_response": "Needs a response",
        "under_review": "Under review",
        "won": "Won",
        "lost": "Lost",
        "prevented": "Prevented",
    },
    "risk": {
        "actionable": "Needs action",
        "not_actionable": "No action needed",
        "open": "Open",
        "closed": "Closed",
    },
    "payout": {
        "requested": "Awaiting approval",
        "approved": "Approved, transfer not confirmed yet",
        "paid": "Paid out",
        "rejected": "Rejected",
        "failed": "Failed",
    },
    "failure": {
        "charge": "Card declined",
        "authentication": "3-D Secure not completed",
        "invoice": "Subscription payment failed",
    },
}
"""Each kind of object's statuses in words."""

WORDS = {
    "early_fraud_warning": "Early fraud warning",
    "review": "Radar review",
    "requested_by_customer": "Requested by the customer",
    "gross_revenue": "Gross revenue",
    "stripe_fees": "Stripe fees",
    "payable_to_organizer": "Payable to the organizer",
    "paid_out": "Paid out",
    "charge.refunded": "Refunded (charge)",
    "charge.refund.updated": "Refund updated",
    "refund.created": "Refund created",
    "refund.updated": "Refund updated",
    "refund.failed": "Refund failed",
    "charge.dispute.created": "Dispute opened",
    "charge.dispute.updated": "Dispute updated",
    "charge.dispute.funds_withdrawn": "Dispute: funds withdrawn",
    "charge.dispute.funds_reinstated": "Dispute: funds reinstated",
    "charge.dispute.closed": "Dispute closed",
    "radar.early_fraud_warning.created": "Early fraud warning",
    "radar.early_fraud_warning.updated": "Early fraud warning updated",
    "review.opened": "Radar review opened",
    "review.closed": "Radar review closed",
}
"""Stripe's codes (reasons, kinds, accounts, event types) whose plain words are not just the
code with spaces."""


def status(value: str | None, kind: str) -> str:
    """A status of a `kind` of object in words; an unknown one as its code in plain words."""
    if not value:
        return "—"
    return STATUSES.get(kind, {}).get(value) or words(value)


def words(code: str | None) -> str:
    """One of Stripe's codes (`insufficient_funds`, `product_not_received`) in plain words."""
    if not code:
        return ""
    return WORDS.get(code) or code.replace("_", " ").replace(".", " ").capitalize()


def money(amount: int | None, currency: str | None) -> str:
    """E.g. `$12.50`, `¥1,500`, `-$3.00`, as the mails show amounts."""
    if amount is None or not currency:
        return "—"
    return format_money(amount, currency, LOCALE)


def units(amount: int, currency: str) -> str:
    """An amount as a person types it in the currency's units (`12.50`, `1500`)."""
    return str(major_units(amount, currency))


def step(currency: str) -> str:
    """The smallest amount a form's number field takes in `currency` (`0.01`, `1`)."""
    return str(major_units(1, currency))


def when(at: datetime | None) -> Markup:
    """A `<time>` in UTC that the console's script shows in the browser's zone (with the zone's
    name), the UTC value staying its title."""
    if at is None:
        return Markup("—")
    utc = at.astimezone(UTC)
    shown = utc.strftime("%Y-%m-%d %H:%M UTC")
    return Markup('<time datetime="{}" title="{}">{}</time>').format(
        utc.isoformat(timespec="seconds").replace("+00:00", "Z"), escape(shown), escape(shown)
    )


FILTERS = {
    "money": money,
    "units": units,
    "step": step,
    "status": status,
    "words": words,
    "when": when,
    "decimals": exponent,
}
"""The templates' filters."""
