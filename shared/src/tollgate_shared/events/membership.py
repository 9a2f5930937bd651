"""Events the membership service emits on `membership.<verb>`."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from tollgate_shared.events.base import DomainEvent

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


class MembershipAtRisk(MembershipEvent):
    """A payment failed; access continues until the grace period ends."""

    type: Literal["membership.at_risk"] = "membership.at_risk"
    grace_until: datetime | None = None


class MembershipEnded(MembershipEvent):
    type: Literal["membership.ended"] = "membership.ended"
    reason: str
