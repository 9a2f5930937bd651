"""Template previews: every kind rendered from a sample of the event that triggers it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from notifications.adapters.templates import Renderer
from notifications.domain import intents
from notifications.domain.links import Links
from notifications.domain.model import Intent, Kind, Rendered
from tollgate_shared.events.ledger import DisputeOpened, PaymentRecorded, RefundRecorded
from tollgate_shared.events.membership import (
    MembershipActivated,
    MembershipCanceled,
    MembershipPastDue,
    MembershipRenewed,
)
from tollgate_shared.events.stripe import Invoice

SAMPLE_GROUP = "Sample group"


def _sample(kind: Kind, amount: int, currency: str, links: Links) -> Intent:
    now = datetime.now(UTC)
    member = {
        "user_id": "usr_sample",
        "group_id": "grp_sample",
        "tier_id": "tier_sample",
        "subscription_id": "sub_sample",
        "expires_at": now + timedelta(days=30),
        "email": "member@example.com",
    }
    money = {**member, "amount": amount, "currency": currency, "charge_id": "ch_sample"}
    samples: dict[Kind, Callable[[], Intent]] = {
        Kind.PAYMENT_RECEIPT: lambda: intents.payment_receipt(
            PaymentRecorded(
                **money,
                invoice_id="in_sample",
                description="Annual membership",
                receipt_url="https://pay.example.com/receipts/sample",
                hosted_invoice_url="https://pay.example.com/invoices/sample",
                period_start=now,
                period_end=now + timedelta(days=30),
            ),
            links,
        ),
        Kind.NEW_MEMBER: lambda: intents.new_member(MembershipActivated(**member), links),
        Kind.RENEWAL_NOTICE: lambda: intents.renewal_notice(MembershipRenewed(**member), links),
        Kind.PAYMENT_FAILED: lambda: intents.payment_failed(
            Invoice(
                id="in_sample",
                amount_due=amount,
                currency=currency,
                attempt_count=1,
                customer_email="member@example.com",
                next_payment_attempt=int((now + timedelta(days=3)).timestamp()),
                hosted_invoice_url="https://pay.example.com/invoices/sample",
                parent={"subscription_details": {"metadata": {"group_id": "grp_sample"}}},
            ),
            links,
        ),
        Kind.ACCESS_AT_RISK: lambda: intents.access_at_risk(
            MembershipPastDue(**member, grace_until=now + timedelta(days=7)), links
        ),
        Kind.MEMBERSHIP_ENDED: lambda: intents.membership_ended(
            MembershipCanceled(**member, reason="canceled"), links
        ),
        Kind.REFUND_CONFIRMATION: lambda: intents.refund_confirmation(
            RefundRecorded(**money, refund_id="re_sample", reason="requested_by_customer"), links
        ),
        Kind.DISPUTE_ALERT: lambda: intents.dispute_alert(
            DisputeOpened(**money, dispute_id="dp_sample", reason="fraudulent"), links
        ),
        Kind.RENEWAL_REMINDER: lambda: intents.renewal_reminder(
            intents.Expiry("grp_sample", "usr_sample", "tier_sample", now, "member@example.com"),
            links,
        ),
    }
    return samples[kind]()


def preview(
    renderer: Renderer, links: Links, kind: Kind, *, amount: int, currency: str, locale: str
) -> Rendered:
    """`kind` rendered with sample data, `amount` in `currency`'s minor unit, in `locale`."""
    intent = _sample(kind, amount, currency.lower(), links)
    context = {**intent.context, "group_name": SAMPLE_GROUP}
    return renderer.render(kind, context, locale=locale)
