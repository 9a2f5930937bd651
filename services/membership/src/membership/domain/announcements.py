"""Which `membership.*` events a change of a membership announces."""

from __future__ import annotations

import uuid

from membership.domain.model import Announced, Entitlement
from tollgate_shared.contracts.membership import (
    MembershipActivated,
    MembershipCanceled,
    MembershipEnded,
    MembershipEvent,
    MembershipExpired,
    MembershipPastDue,
    MembershipRenewed,
    MembershipRevoked,
    MembershipTierChanged,
)

_NAMESPACE = uuid.UUID("6f1f8f43-5d0a-4c3e-9a57-5bb1b0a2c6f1")

_ENDED_BY_REASON: dict[str, type[MembershipEnded]] = {
    "canceled": MembershipCanceled,
    "paused": MembershipCanceled,
    "incomplete": MembershipCanceled,
    "expired": MembershipExpired,
    "payment_failed": MembershipExpired,
    "revoked": MembershipRevoked,
    "refunded": MembershipRevoked,
    "dispute_lost": MembershipRevoked,
}


def ended_type(reason: str) -> type[MembershipEnded]:
    """Which ended event a reason announces (a reason not listed is an expiry)."""
    return _ENDED_BY_REASON.get(reason, MembershipExpired)


def event_id(cause: str, event_type: str, user_id: str, group_id: str) -> str:
    """The same id whenever the same cause announces the same event for the same membership."""
    return uuid.uuid5(_NAMESPACE, "\x1f".join((cause, event_type, user_id, group_id))).hex


def announce(
    before: Announced | None, after: Entitlement, *, cause: str, causation_id: str | None
) -> list[MembershipEvent]:
    """activated / canceled|expired|revoked / tier_changed / past_due, and renewed when a
    one-time membership or a grant is extended (a subscription's renewal is announced from its
    paid invoice instead)."""
    now = Announced.of(after)
    was_active = before is not None and before.active
    if not was_active and now.active:
        return [build(MembershipActivated, after, cause=cause, causation_id=causation_id)]
    if before is None or not was_active:
        return []
    if not now.active:
        reason = after.access.end_reason if after.access else "expired"
        return [
            build(ended_type(reason), after, cause=cause, causation_id=causation_id, reason=reason)
        ]
    if now.tier_id != before.tier_id:
        return [
            build(
                MembershipTierChanged,
                after,
                cause=cause,
                causation_id=causation_id,
                previous_tier_id=before.tier_id,
                previous_subscription_id=before.subscription_id,
            )
        ]
    if now.status == "past_due" and before.status != "past_due":
        grace_until = after.access.grace_until if after.access else None
        return [
            build(
                MembershipPastDue,
                after,
                cause=cause,
                causation_id=causation_id,
                grace_until=grace_until,
            )
        ]
    extended = (
        now.source in ("one_time", "grant")
        and before.expires_at is not None
        and now.expires_at is not None
        and now.expires_at > before.expires_at
    )
    if extended:
        return [build(MembershipRenewed, after, cause=cause, causation_id=causation_id)]
    return []


def build(
    kind: type[MembershipEvent],
    entitlement: Entitlement,
    *,
    cause: str,
    causation_id: str | None,
    **fields: object,
) -> MembershipEvent:
    """An event about `entitlement` with an id derived from its cause."""
    access = entitlement.access
    key = entitlement.key
    event_type = str(kind.model_fields["type"].default)
    return kind.model_validate(
        {
            "id": event_id(cause, event_type, key.user_id, key.group_id),
            "causation_id": causation_id,
            "user_id": key.user_id,
            "group_id": key.group_id,
            "tier_id": access.tier_id if access else None,
            "source": access.source if access else "subscription",
            "subscription_id": access.subscription_id if access else None,
            "expires_at": access.expires_at if access else None,
            "email": entitlement.email,
            **fields,
        }
    )
