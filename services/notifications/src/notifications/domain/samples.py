"""A sample of the fact behind each kind, for previews: one member of one group, paying what
the preview asks for."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from notifications.domain.details import StripeSubscription
from notifications.domain.digests import Digest, Sale
from notifications.domain.intents import Expiry
from notifications.domain.stripe_intents import ChargedIntent
from tollgate_shared.contracts.checkout import PurchasePaid
from tollgate_shared.contracts.ledger import (
    DisputeClosed,
    DisputeOpened,
    PaymentRecorded,
    PayoutFailed,
    RefundRecorded,
)
from tollgate_shared.contracts.membership import (
    MembershipActivated,
    MembershipCanceled,
    MembershipPastDue,
    MembershipRenewed,
)
from tollgate_shared.contracts.stripe_objects import Invoice

INVOICE_URL = "https://pay.example.com/invoices/sample"


@dataclass(frozen=True)
class Sample:
    """What a preview asks for: `amount` in `currency`'s minor unit, shown at `now`."""

    amount: int
    currency: str
    now: datetime

    @property
    def member(self) -> dict[str, Any]:
        """The member's fields of a membership event."""
        return {
            "user_id": "usr_sample",
            "group_id": "grp_sample",
            "tier_id": "tier_sample",
            "subscription_id": "sub_sample",
            "expires_at": self.now + timedelta(days=30),
            "email": "member@example.com",
        }

    @property
    def money(self) -> dict[str, Any]:
        """The member's fields and the charge of a ledger event."""
        return {
            **self.member,
            "amount": self.amount,
            "currency": self.currency,
            "charge_id": "ch_sample",
        }


def details(sample: Sample) -> dict[str, Any]:
    """What Stripe's events tell of a sample fact whose notification waits for them."""
    return {
        "paid_at": sample.now.isoformat(),
        "cancellation_reason": "cancellation_requested",
        "amount": sample.amount,
        "currency": sample.currency,
    }


def payment(sample: Sample) -> PaymentRecorded:
    return PaymentRecorded(
        **sample.money,
        invoice_id="in_sample",
        description="Annual membership",
        receipt_url="https://pay.example.com/receipts/sample",
        hosted_invoice_url=INVOICE_URL,
        period_start=sample.now,
        period_end=sample.now + timedelta(days=30),
    )


def activated(sample: Sample) -> MembershipActivated:
    return MembershipActivated(**sample.member)


def renewed(sample: Sample) -> MembershipRenewed:
    return MembershipRenewed(**sample.member)


def failed_invoice(sample: Sample) -> Invoice:
    return Invoice(
        id="in_sample",
        amount_due=sample.amount,
        currency=sample.currency,
        attempt_count=1,
        customer_email="member@example.com",
        next_payment_attempt=int((sample.now + timedelta(days=3)).timestamp()),
        hosted_invoice_url=INVOICE_URL,
        parent={"subscription_details": {"metadata": {"group_id": "grp_sample"}}},
    )


def past_due(sample: Sample) -> MembershipPastDue:
    return MembershipPastDue(**sample.member, grace_until=sample.now + timedelta(days=7))


def canceled(sample: Sample) -> MembershipCanceled:
    return MembershipCanceled(**sample.member, reason="canceled")


def refund(sample: Sample) -> RefundRecorded:
    return RefundRecorded(**sample.money, refund_id="re_sample", reason="requested_by_customer")


def dispute(sample: Sample) -> DisputeOpened:
    return DisputeOpened(**sample.money, dispute_id="dp_sample", reason="fraudulent")


def dispute_closed(sample: Sample) -> DisputeClosed:
    return DisputeClosed(**sample.money, dispute_id="dp_sample", status="lost")


def expiry(sample: Sample) -> Expiry:
    return Expiry("grp_sample", "usr_sample", "tier_sample", sample.now, "member@example.com")


PURCHASE = {"item_id": "item_sample", "reference": "booking_sample"}


def failed_intent(sample: Sample) -> ChargedIntent:
    return ChargedIntent(
        id="pi_sample",
        amount=sample.amount,
        currency=sample.currency,
        status="requires_payment_method",
        description="Workshop seat",
        metadata={"user_id": "usr_sample", "group_id": "grp_sample", **PURCHASE},
        last_payment_error={"message": "Your card was declined."},
    )


def sale(sample: Sample) -> PurchasePaid:
    return PurchasePaid(
        **{k: v for k, v in sample.money.items() if k in ("user_id", "group_id", "email")},
        **PURCHASE,
        session_id="pi_sample",
        payment_intent_id="pi_sample",
        amount=sample.amount,
        currency=sample.currency,
    )


def trial(sample: Sample) -> StripeSubscription:
    price = {"id": "price_sample", "unit_amount": sample.amount, "currency": sample.currency}
    return StripeSubscription.model_validate(
        {
            "id": "sub_sample",
            "status": "trialing",
            "metadata": {
                "user_id": "usr_sample",
                "group_id": "grp_sample",
                "tier_id": "tier_sample",
            },
            "trial_end": int((sample.now + timedelta(days=3)).timestamp()),
            "items": {
                "data": [
                    {"id": "si_sample", "price": {**price, "recurring": {"interval": "month"}}}
                ]
            },
        }
    )


def digest(sample: Sample) -> Digest:
    """A day of sales: a new member and a purchase."""
    day = sample.now.replace(hour=0, minute=0, second=0, microsecond=0)
    at = sample.now.isoformat()
    return Digest(
        "grp_sample",
        day - timedelta(days=1),
        day,
        [
            Sale(
                "New member", "member@example.com", "Supporter", sample.amount, sample.currency, at
            ),
            Sale(
                "Purchase",
                "member@example.com",
                "Workshop seat",
                sample.amount,
                sample.currency,
                at,
            ),
        ],
    )


def payout(sample: Sample) -> PayoutFailed:
    """A payout whose transfer Stripe refused."""
    return PayoutFailed(
        group_id="grp_sample",
        amount=sample.amount,
        currency=sample.currency,
        payout_id="payreq_sample",
        reason="The destination account cannot receive transfers.",
    )
