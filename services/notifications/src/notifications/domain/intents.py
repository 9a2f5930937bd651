"""Which facts become which notifications, and under which key (pure: events in, intents out).

Keys name the fact, not the message that carried it, so a replayed event, a second event
about the same payment, or a producer that emits the fact twice all map to one notification.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

from notifications.domain.details import period_key
from notifications.domain.digests import Digest
from notifications.domain.links import Links
from notifications.domain.model import Intent, Kind
from notifications.domain.stripe_intents import day, iso
from tollgate_shared.contracts.checkout import PurchasePaid
from tollgate_shared.contracts.ledger import (
    DisputeClosed,
    DisputeOpened,
    PaymentRecorded,
    PayoutFailed,
    PayoutRecorded,
    PayoutRejected,
    RefundRecorded,
)
from tollgate_shared.contracts.membership import (
    MembershipActivated,
    MembershipEnded,
    MembershipEvent,
    MembershipPastDue,
    MembershipRenewed,
)


def membership_ref(event: MembershipEvent) -> str:
    """The membership: its subscription, or the member's place in the group."""
    return event.subscription_id or f"{event.group_id}/{event.user_id}"


def _membership_context(event: MembershipEvent, links: Links) -> dict[str, Any]:
    return {
        "user_id": event.user_id,
        "group_id": event.group_id,
        "tier_id": event.tier_id,
        "source": event.source,
        "email": event.email,
        "expires_at": iso(event.expires_at),
        "group_url": links.group(event.group_id),
        "billing_portal_url": links.billing_portal(event.group_id),
    }


def _membership(
    kind: Kind, event: MembershipEvent, source_id: str, context: dict[str, Any]
) -> Intent:
    return Intent(
        kind=kind,
        source_id=source_id,
        user_id=event.user_id,
        group_id=event.group_id,
        email=event.email,
        context=context,
    )


def sale_keys(event: MembershipEvent) -> tuple[str, ...]:
    """A subscription's new member or renewal is completed by the amount its period's invoice
    was paid (`invoice.paid`); a one-time term names no Stripe object (its tier's price)."""
    if event.subscription_id and event.expires_at:
        return (period_key(event.subscription_id, event.expires_at),)
    return ()


def _sale(kind: Kind, event: MembershipEvent, source_id: str, links: Links) -> Intent:
    """A membership sold or renewed: the amount once its invoice tells it."""
    context = {
        **_membership_context(event, links),
        "amount": None,
        "currency": None,
        "sold_at": iso(event.occurred_at),
    }
    intent = _membership(kind, event, source_id, context)
    return replace(intent, details_keys=sale_keys(event))


def new_member(event: MembershipActivated, links: Links) -> Intent:
    """Organizers hear of a new member once per subscription (or per one-time term)."""
    ref = membership_ref(event)
    source = ref if event.subscription_id else f"{ref}@{day(event.expires_at)}"
    return _sale(Kind.NEW_MEMBER, event, source, links)


def renewal_notice(event: MembershipRenewed, links: Links) -> Intent:
    """Organizers hear of each renewed period once."""
    source = f"{membership_ref(event)}@{day(event.expires_at)}"
    return _sale(Kind.RENEWAL_NOTICE, event, source, links)


def access_at_risk(event: MembershipPastDue, links: Links) -> Intent:
    """The member is warned once per grace period."""
    source = f"{membership_ref(event)}@{day(event.grace_until or event.expires_at)}"
    context = {**_membership_context(event, links), "grace_until": iso(event.grace_until)}
    return _membership(Kind.ACCESS_AT_RISK, event, source, context)


def ending_keys(event: MembershipEnded) -> tuple[str, ...]:
    """A subscription canceled (`reason` `canceled`) is completed by Stripe's word on why:
    the member asked, or Stripe could not collect the payment (`customer.subscription.deleted`,
    its `cancellation_details.reason`)."""
    canceled = event.type == "membership.canceled" and event.reason == "canceled"
    return (event.subscription_id,) if canceled and event.subscription_id else ()


def membership_ended(event: MembershipEnded, links: Links) -> Intent:
    """The member hears once that a membership (or one term of it) was canceled, expired or was
    revoked (`ended_as`), and why (`reason`; for a canceled subscription, Stripe's
    `cancellation_reason` once known)."""
    ref = membership_ref(event)
    source = ref if event.subscription_id else f"{ref}@{day(event.expires_at)}"
    context = {
        **_membership_context(event, links),
        "ended_as": event.type.removeprefix("membership."),
        "reason": event.reason,
        "cancellation_reason": None,
    }
    intent = _membership(Kind.MEMBERSHIP_ENDED, event, source, context)
    return replace(intent, details_keys=ending_keys(event))


def _paid(
    kind: Kind,
    event: PaymentRecorded | RefundRecorded | PurchasePaid,
    source_id: str,
    links: Links,
    **context: Any,
) -> Intent:
    """A fact about money a member paid or got back: its amount, who, when, `context` and the
    group's link."""
    return Intent(
        kind=kind,
        source_id=source_id,
        user_id=event.user_id,
        group_id=event.group_id,
        email=event.email,
        context={
            "amount": event.amount,
            "currency": event.currency,
            "user_id": event.user_id,
            "email": event.email,
            "sold_at": iso(event.occurred_at),
            **context,
            "group_url": links.group(event.group_id),
        },
    )


def receipt_keys(event: PaymentRecorded) -> tuple[str, ...]:
    """A payment is completed by its charge's details (a one-time payment's: its metadata
    names the group) or its invoice's (a subscription's)."""
    return tuple(key for key in (event.charge_id, event.invoice_id) if key)


def payment_receipt(event: PaymentRecorded, links: Links) -> Intent:
    """One receipt per payment: keyed by the charge (else the invoice, else the event). When
    it was paid, the item and the reference come with its charge's or invoice's details (the
    ledger's event is not when the payment was made)."""
    intent = _paid(
        Kind.PAYMENT_RECEIPT,
        event,
        event.charge_id or event.invoice_id or event.id,
        links,
        description=event.description,
        tier_id=event.tier_id,
        item_id=None,
        reference=None,
        invoice_id=event.invoice_id,
        charge_id=event.charge_id,
        paid_at=None,
        period_start=iso(event.period_start),
        period_end=iso(event.period_end),
        receipt_url=event.receipt_url,
        hosted_invoice_url=event.hosted_invoice_url,
        manage_url=links.billing_portal(event.group_id),
    )
    return replace(intent, details_keys=receipt_keys(event))


PAID_FOR = ("tier_id", "item_id", "description", "reference")
"""What a payment was for, as its receipt named it: a refund or dispute of it names the same."""


def refund_notice(event: RefundRecorded, links: Links) -> Intent:
    """Organizers hear of each refund once: how much, to whom, of what (its payment's receipt
    completes what, `completed`)."""
    return _paid(
        Kind.REFUND_NOTICE,
        event,
        event.refund_id,
        links,
        **dict.fromkeys(PAID_FOR),
        reason=event.reason,
        charge_id=event.charge_id,
    )


def refund_confirmation(event: RefundRecorded, links: Links) -> Intent:
    """One confirmation per refund."""
    return _paid(
        Kind.REFUND_CONFIRMATION,
        event,
        event.refund_id,
        links,
        reason=event.reason,
        charge_id=event.charge_id,
        refunded_at=iso(event.occurred_at),
    )


def dispute_alert(event: DisputeOpened, links: Links) -> Intent:
    """Organizers hear once per dispute."""
    return _dispute(
        Kind.DISPUTE_ALERT, event, reason=event.reason, opened_at=iso(event.occurred_at)
    )


def dispute_outcome(event: DisputeClosed, links: Links) -> Intent:
    """Organizers hear once how a dispute ended: won (the amount comes back) or lost."""
    return _dispute(
        Kind.DISPUTE_OUTCOME, event, status=event.status, closed_at=iso(event.occurred_at)
    )


def _dispute(kind: Kind, event: DisputeOpened | DisputeClosed, **context: Any) -> Intent:
    """A dispute's notification, keyed by the dispute: what every dispute mail shows, and
    `context` besides."""
    return Intent(
        kind=kind,
        source_id=event.dispute_id,
        user_id=event.user_id,
        group_id=event.group_id,
        email=event.email,
        context={
            "amount": event.amount,
            "currency": event.currency,
            "dispute_id": event.dispute_id,
            "charge_id": event.charge_id,
            "user_id": event.user_id,
            "email": event.email,
            **dict.fromkeys(PAID_FOR),
            "sold_at": iso(event.occurred_at),
            **context,
        },
    )


def sale_notice(event: PurchasePaid, links: Links) -> Intent:
    """Organizers hear of each paid purchase once (Checkout's or the app's own card form's)."""
    return _paid(
        Kind.SALE_NOTICE,
        event,
        event.session_id,
        links,
        item_id=event.item_id,
        reference=event.reference,
    )


def sale_digest(digest: Digest, links: Links) -> Intent:
    """Organizers who want a digest hear of a period's sales once, in one mail."""
    return Intent(
        kind=Kind.SALE_DIGEST,
        source_id=digest.source_id,
        user_id=None,
        group_id=digest.group_id,
        context={
            "period_start": iso(digest.start),
            "period_end": iso(digest.end),
            "sales": [asdict(sale) for sale in digest.sales],
            "group_url": links.group(digest.group_id),
        },
    )


PayoutEvent = PayoutRecorded | PayoutRejected | PayoutFailed
CAME_BACK = {"failed": "the bank did not accept it", "canceled": "it was canceled"}
"""Why a payout to a group's bank came back, by `PayoutRecorded.status`."""


def payout_outcome(event: PayoutEvent, links: Links) -> Intent:
    """Organizers hear once of each outcome of a payout (`outcome`): paid (sent to the group's
    account), rejected by an admin, or failed, and why (`reason`)."""
    if isinstance(event, PayoutRejected):
        outcome, reason, decided = "rejected", None, event.decided_at
    elif isinstance(event, PayoutFailed):
        outcome, reason, decided = "failed", event.reason, event.occurred_at
    elif event.status == "paid":
        outcome, reason, decided = "paid", None, event.occurred_at
    else:  # a payout to the bank that came back
        outcome, reason = "failed", CAME_BACK.get(event.status, event.status)
        decided = event.occurred_at
    return Intent(
        kind=Kind.PAYOUT_OUTCOME,
        source_id=f"{event.payout_id}#{outcome}",
        user_id=None,
        group_id=event.group_id,
        context={
            "amount": event.amount,
            "currency": event.currency,
            "payout_id": event.payout_id,
            "outcome": outcome,
            "reason": reason,
            "decided_at": iso(decided),
            "group_url": links.group(event.group_id),
        },
    )


@dataclass(frozen=True)
class Expiry:
    """A one-time membership term the service learned of, and when it runs out."""

    group_id: str
    user_id: str
    tier_id: str | None
    expires_at: datetime
    email: str | None


def renewal_reminder(expiry: Expiry, links: Links) -> Intent:
    """The member is reminded once per term that it is about to run out."""
    return Intent(
        kind=Kind.RENEWAL_REMINDER,
        source_id=f"{expiry.group_id}/{expiry.user_id}@{day(expiry.expires_at)}",
        user_id=expiry.user_id,
        group_id=expiry.group_id,
        email=expiry.email,
        context={
            "tier_id": expiry.tier_id,
            "expires_at": iso(expiry.expires_at),
            "group_url": links.group(expiry.group_id),
        },
    )
