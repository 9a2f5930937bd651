"""What a member (or the group's organizers and admins for them) may do next with a
membership, and what ending one early gives back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from membership.domain import rules
from membership.domain.model import Entitlement, Sources, SubscriptionRecord
from tollgate_shared.contracts.checkout import ProrationBehavior
from tollgate_shared.contracts.stripe_objects import Invoice

__all__ = ["ProrationBehavior"]

Action = Literal["cancel_at_period_end", "resume", "cancel_now", "switch", "pause", "join"]
PauseBehavior = Literal["void", "mark_uncollectible", "keep_as_draft"]


@dataclass(frozen=True)
class MembershipView:
    """One group's membership as its member sees it: the entitlement, the subscription that
    gives it (if any), the credits, and what can be done next."""

    entitlement: Entitlement
    subscription: SubscriptionRecord | None
    credits: dict[str, int]
    actions: list[Action]

    @property
    def renews(self) -> bool:
        """Whether the subscription bills again at its period end (not while its collection
        is paused)."""
        s = self.subscription
        return (
            s is not None
            and s.status in rules.BILLABLE
            and not s.cancel_at_period_end
            and not s.collection_paused
        )


def current_subscription(entitlement: Entitlement, sources: Sources) -> SubscriptionRecord | None:
    """The subscription the membership comes from now, if it comes from one."""
    access = entitlement.access
    if access is None or access.source != "subscription":
        return None
    return next((s for s in sources.subscriptions if s.id == access.subscription_id), None)


def next_actions(
    subscription: SubscriptionRecord | None, *, active: bool, pausable: bool
) -> list[Action]:
    """What the member may ask next (`cancel_now` is the organizers' and admins' only;
    `pause` where the group allows it)."""
    if subscription is None or subscription.status in rules.FINAL | rules.FIRST:
        return [] if active else ["join"]
    stopped = subscription.cancel_at_period_end or subscription.collection_paused
    actions: list[Action] = ["resume" if stopped else "cancel_at_period_end", "switch"]
    if pausable and not subscription.collection_paused:
        actions.append("pause")
    return [*actions, "cancel_now"]


def renewal_uncollected(subscription: SubscriptionRecord) -> bool:
    """Whether the subscription's current period was not paid because a member's pause voided
    its invoice (what it paid ends before the period does): resuming then restarts the period
    and charges it. Unknown (no paid invoice seen) counts as paid: never charged twice."""
    s = subscription
    return (
        s.voids_renewals
        and s.paid_through is not None
        and s.period_end is not None
        and s.paid_through < s.period_end
    )


def prorated_refund(paid: int, subscription: SubscriptionRecord, now: datetime) -> int:
    """The part of the period's payment not used by `now` (whole minor units, rounded down):
    nothing for a period without known bounds or already over."""
    start, end = subscription.period_start, subscription.period_end
    if start is None or end is None or end <= start or now >= end:
        return 0
    unused = int((end - max(now, start)).total_seconds())
    return paid * unused // int((end - start).total_seconds())


@dataclass(frozen=True)
class SwitchPlan:
    """What a tier switch costs: paid now, and at the next renewal (prorations included)."""

    tier_id: str
    price_id: str
    currency: str
    behavior: ProrationBehavior
    due_now: int
    next_amount: int
    next_at: datetime | None
    lines: list[tuple[str | None, int]]


def switch_plan(
    tier_id: str,
    preview: Invoice,
    *,
    price_id: str,
    price_amount: int,
    behavior: ProrationBehavior,
    period_end: datetime | None,
) -> SwitchPlan:
    """The plan Stripe's preview tells: with `always_invoice` the preview is the invoice paid
    now and the renewal costs the new price; otherwise nothing is paid now and the preview is
    the next renewal's invoice."""
    billed_now = behavior == "always_invoice"
    return SwitchPlan(
        tier_id=tier_id,
        price_id=price_id,
        currency=preview.currency or "",
        behavior=behavior,
        due_now=preview.amount_due if billed_now else 0,
        next_amount=price_amount if billed_now else preview.amount_due,
        next_at=period_end,
        lines=[(line.description, line.amount) for line in preview.lines.data],
    )
