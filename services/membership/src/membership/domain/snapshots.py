"""A Stripe subscription as membership keeps it: the snapshot's record, stamped with the Stripe
time it describes."""

from __future__ import annotations

from datetime import UTC, datetime

from membership.domain.metadata import MembershipMetadata
from membership.domain.model import StripeTime, SubscriptionRecord
from tollgate_shared.contracts.stripe_objects import Subscription


def from_timestamp(timestamp: int | None) -> datetime | None:
    """A Stripe timestamp as a UTC datetime (None for none)."""
    return datetime.fromtimestamp(timestamp, UTC) if timestamp is not None else None


def record_of(
    snapshot: Subscription,
    meta: MembershipMetadata,
    *,
    event_id: str,
    event_created: int,
    read_at: StripeTime | None,
    seen: datetime,
    email: str | None,
) -> SubscriptionRecord:
    """The snapshot's record, stamped with its Stripe time: the event's second, or when read
    from Stripe (`read_at`) the read's round trip; `seen` when a past_due one was first seen
    so."""
    billed = next((i.price for i in snapshot.items.data if i.price is not None), None)
    pause = snapshot.pause_collection
    recurring = billed.recurring if billed is not None and billed.recurring else {}
    return SubscriptionRecord(
        id=snapshot.id,
        user_id=meta.user_id,
        group_id=meta.group_id,
        tier_id=meta.tier_id,
        status=snapshot.status,
        cancel_at_period_end=snapshot.cancel_at_period_end,
        period_end=from_timestamp(snapshot.period_end),
        period_start=from_timestamp(snapshot.period_start),
        created=snapshot.created or event_created,
        version=read_at.until if read_at else event_created,
        version_from=read_at.since if read_at else None,
        last_event_id=event_id,
        past_due_since=seen if snapshot.status == "past_due" else None,
        previous_subscription_id=meta.previous_subscription_id,
        customer_id=snapshot.customer,
        email=email,
        price_id=billed.id if billed is not None else None,
        unit_amount=billed.unit_amount if billed is not None else None,
        currency=billed.currency if billed is not None else None,
        interval=recurring.get("interval"),
        pause_behavior=pause.behavior if pause else None,
        pause_resumes_at=from_timestamp(pause.resumes_at) if pause else None,
    )
