"""Events the membership service emits on `membership.<verb>`."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from tollgate_shared.contracts.base import DomainEvent

MembershipSource = Literal["subscription", "one_time", "grant"]


class MembershipEvent(DomainEvent):
    user_id: str
    group_id: str
    tier_id: str | None = None
    source: MembershipSource = "subscription"
    subscription_id: str | None = None
    expires_at: datetime | None = None
    email: str | None = None


class MembershipActivated(MembershipEvent):
    type: Literal["membership.activated"] = "membership.activated"


class MembershipRenewed(MembershipEvent):
    type: Literal["membership.renewed"] = "membership.renewed"


class MembershipTierChanged(MembershipEvent):
    type: Literal["membership.tier_changed"] = "membership.tier_changed"
    previous_tier_id: str | None = None
    previous_subscription_id: str | None = None


class MembershipPastDue(MembershipEvent):
    """A renewal payment failed; access continues until `grace_until`."""

    type: Literal["membership.past_due"] = "membership.past_due"
    grace_until: datetime | None = None


class MembershipEnded(MembershipEvent):
    """Base of the three ways a membership ends (it has no `type` of its own).

    `reason` says what ended it: `canceled`, `paused`, `incomplete` (canceled); `expired`,
    `payment_failed` (expired); `revoked`, `refunded`, `dispute_lost` (revoked).
    """

    reason: str


class MembershipCanceled(MembershipEnded):
    """The member (or Stripe, for an unfinished or paused subscription) canceled it."""

    type: Literal["membership.canceled"] = "membership.canceled"


class MembershipExpired(MembershipEnded):
    """Its period, term or grace period ran out without a payment."""

    type: Literal["membership.expired"] = "membership.expired"


class MembershipRevoked(MembershipEnded):
    """Access was taken back: a revoked grant, a full refund or a lost dispute."""

    type: Literal["membership.revoked"] = "membership.revoked"
