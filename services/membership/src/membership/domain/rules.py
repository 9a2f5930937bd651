"""The rules: what each source grants, which one wins, and which Stripe data is newest."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta

from membership.domain.model import (
    Access,
    Entitlement,
    Grant,
    MembershipKey,
    Sources,
    SubscriptionRecord,
    Term,
)
from tollgate_shared.terms import back_to_back_end

ENTITLING = frozenset({"trialing", "active"})
"""Subscription statuses that grant access (past_due does, for the grace period only)."""
BILLABLE = frozenset({"trialing", "active", "past_due", "unpaid", "paused"})
"""Statuses of a subscription that may still charge the member: superseded ones get canceled."""
FIRST = frozenset({"incomplete"})
"""Statuses only a new subscription has (its first payment not made yet): none comes back."""
FINAL = frozenset({"canceled", "incomplete_expired"})
"""Statuses a subscription never leaves."""
_END_REASONS = {
    "canceled": "canceled",
    "past_due": "payment_failed",
    "unpaid": "payment_failed",
    "paused": "paused",
    "incomplete": "incomplete",
    "incomplete_expired": "incomplete",
}
_PAID, _GRANTED = 1, 0
"""Paid sources (subscriptions, one-time terms) come before grants; among paid ones a renewing
subscription first, then the latest bought (a term bought to replace a subscription shows
while that subscription runs out; bought in the same second as the subscription, the term)."""


class Ordering(enum.Enum):
    """What to do with a snapshot of a subscription given the version already applied."""

    APPLY = "apply"
    IGNORE = "ignore"
    REREAD = "reread"


def order(stored: SubscriptionRecord | None, *, event_id: str, created: int) -> Ordering:
    """Newer Stripe data wins; older is ignored; the same second is ambiguous (see `place`).

    Stripe stamps events in whole seconds and does not order deliveries, so two snapshots of
    one subscription from the same second cannot be told apart by their time. A state read from
    Stripe ranks by when it was read, not by the event that made us read it: a snapshot from
    before the read is older, one from a second the read may have been taken in is ambiguous.
    A repeat of the event last applied changes nothing.
    """
    if stored is None or created > stored.version:
        return Ordering.APPLY
    if created < stored.since or event_id == stored.last_event_id:
        return Ordering.IGNORE
    return Ordering.REREAD


def _same_state(a: SubscriptionRecord, b: SubscriptionRecord) -> bool:
    """Whether two snapshots show the same of what membership keeps of a subscription."""
    shown = (a.status, a.cancel_at_period_end, a.period_end, a.tier_id, a.price_id)
    same = shown == (b.status, b.cancel_at_period_end, b.period_end, b.tier_id, b.price_id)
    same = same and a.pause_behavior == b.pause_behavior
    return same and not _later_period(a, b) and not _later_period(b, a)


def _later_period(a: SubscriptionRecord, b: SubscriptionRecord) -> bool:
    """Whether `a` is in a later period than `b`: a subscription's period never starts before
    the one it follows (a renewal's starts at the last one's end, a reset's now)."""
    return (
        a.period_start is not None
        and b.period_start is not None
        and a.period_start > b.period_start
    )


def place(stored: SubscriptionRecord, incoming: SubscriptionRecord) -> Ordering:
    """Two snapshots of one subscription that their seconds cannot order, placed by what they
    show: the same state needs no choice (IGNORE); a subscription never goes back to a `FIRST`
    status nor leaves a `FINAL` one, nor to an earlier period. REREAD (from Stripe) only when
    none of that tells."""
    if _same_state(stored, incoming):
        return Ordering.IGNORE
    if incoming.status in FINAL and stored.status not in FINAL:
        return Ordering.APPLY
    if stored.status in FINAL and incoming.status not in FINAL:
        return Ordering.IGNORE
    if stored.status in FIRST and incoming.status not in FIRST:
        return Ordering.APPLY
    if incoming.status in FIRST and stored.status not in FIRST:
        return Ordering.IGNORE
    if _later_period(incoming, stored):
        return Ordering.APPLY
    if _later_period(stored, incoming):
        return Ordering.IGNORE
    return Ordering.REREAD


def _same_past_due_spell(a: SubscriptionRecord, b: SubscriptionRecord) -> bool:
    return (
        a.status == b.status == "past_due"
        and a.period_end == b.period_end
        and a.past_due_since is not None
        and b.past_due_since is not None
    )


def reread(ambiguous: SubscriptionRecord, current: SubscriptionRecord) -> SubscriptionRecord:
    """The object re-read from Stripe, keeping when the ambiguous snapshot saw its past_due
    spell begin (a re-read only knows it is past_due now)."""
    if _same_past_due_spell(ambiguous, current):
        assert ambiguous.past_due_since is not None and current.past_due_since is not None
        return replace(
            current, past_due_since=min(ambiguous.past_due_since, current.past_due_since)
        )
    return current


def merge(
    stored: SubscriptionRecord | None, incoming: SubscriptionRecord, *, fresh: bool
) -> tuple[Ordering, SubscriptionRecord | None]:
    """What to store given a snapshot (`incoming.since`..`incoming.version` = its Stripe time;
    `fresh` when just read from Stripe, after everything stored): the decision of `order` (of
    `place` in a second it cannot order), and the record to save, if any.

    A past_due spell starts at the earliest time any snapshot of it shows (older snapshots,
    otherwise ignored, still move it earlier), so the grace period ends at the same moment
    whatever the delivery order.
    """
    decision = (
        Ordering.APPLY
        if fresh
        else order(stored, event_id=incoming.last_event_id or "", created=incoming.version)
    )
    placed = decision is Ordering.REREAD
    if placed:
        assert stored is not None  # `order` finds a second ambiguous only against a stored one
        decision = place(stored, incoming)
    if decision is Ordering.REREAD:
        return decision, None
    if stored is None:
        return (decision, incoming if decision is Ordering.APPLY else None)
    since = incoming.past_due_since
    if _same_past_due_spell(stored, incoming):
        since = min(stored.past_due_since, incoming.past_due_since)  # type: ignore[type-var]
    if decision is Ordering.IGNORE:
        changed = since != stored.past_due_since and _same_past_due_spell(stored, incoming)
        return decision, replace(stored, past_due_since=since) if changed else None
    return decision, replace(
        incoming,
        # Placed after what is stored, the snapshot is from its own second: a later one applies.
        version=incoming.version if placed else max(stored.version, incoming.version),
        version_from=max(stored.since, incoming.since) if fresh else None,
        past_due_since=since,
        customer_id=incoming.customer_id or stored.customer_id,
        email=incoming.email or stored.email,
        cancel_requested_at=stored.cancel_requested_at,
        paid_through=latest(stored.paid_through, incoming.paid_through),
    )


def latest(*moments: datetime | None) -> datetime | None:
    """The latest of the known moments (None when none is known)."""
    return max((m for m in moments if m is not None), default=None)


def subscription_access(sub: SubscriptionRecord, grace: timedelta) -> Access:
    """trialing/active grant access (until the period end if it cancels then); past_due during
    the grace period; every other status none. Collection paused to void its invoices (a
    member's pause) grants what was paid: until `paid_through` (before the first paid invoice
    is seen, the period's start); paused to leave them unpaid or uncollectible (an organizer's
    grace), access goes on as Stripe describes it."""
    until: datetime | None = None
    grace_until: datetime | None = None
    paused = sub.status in ENTITLING and sub.voids_renewals
    if paused:
        ends = [sub.paid_through or sub.period_start]
        ends += [sub.period_end] if sub.cancel_at_period_end else []
        until = min((end for end in ends if end is not None), default=None)
    elif sub.status in ENTITLING and sub.cancel_at_period_end:
        until = sub.period_end
    elif sub.status == "past_due" and sub.past_due_since is not None:
        until = grace_until = sub.past_due_since + grace
    open_ended = sub.status in ENTITLING and not sub.cancel_at_period_end and not paused
    reason = "canceled" if sub.cancel_at_period_end else _END_REASONS.get(sub.status, "expired")
    reason = "paused" if paused and not sub.cancel_at_period_end else reason
    return Access(
        source="subscription",
        tier_id=sub.tier_id,
        status=sub.status,
        open_ended=open_ended,
        until=until,
        subscription_id=sub.id,
        period_end=sub.period_end,
        cancel_at_period_end=sub.cancel_at_period_end,
        grace_until=grace_until,
        end_reason=reason,
        preference=(_PAID, int(open_ended), sub.created, 0, sub.id),
    )


def term_end(terms: Iterable[Term]) -> datetime | None:
    """The end of back-to-back terms: each runs `term_days` from the later of its start (its
    payment, or the end of the subscription period it follows) and the previous end. Folded in
    payment order, so the answer does not depend on arrival order."""
    paid = sorted((t for t in terms if t.voided_at is None), key=lambda t: (t.paid_at, t.id))
    return back_to_back_end((term.start, term.term_days) for term in paid)


def one_time_access(terms: list[Term]) -> Access | None:
    """The one-time membership the terms add up to; voided terms count for nothing."""
    if not terms:
        return None
    latest = max(terms, key=lambda t: (t.paid_at, t.id))
    end = term_end(terms)
    voided = end is None
    return Access(
        source="one_time",
        tier_id=latest.tier_id,
        status=(latest.void_reason or "voided") if voided else "active",
        open_ended=False,
        until=end,
        period_end=end,
        end_reason=(latest.void_reason or "voided") if voided else "expired",
        preference=(_PAID, 0, int(latest.paid_at.timestamp()), 1, latest.id),
    )


def grant_access(grant: Grant) -> Access:
    """A grant lasts until it ends (`Grant.ends_at`) unless revoked."""
    revoked = grant.revoked_at is not None
    return Access(
        source="grant",
        tier_id=grant.tier_id,
        status="revoked" if revoked else "active",
        open_ended=False,
        until=None if revoked else grant.ends_at,
        period_end=grant.ends_at,
        end_reason="revoked" if revoked else "expired",
        preference=(_GRANTED, 0, int(grant.ends_at.timestamp()), 0, grant.kind),
    )


def entitlement(
    key: MembershipKey,
    sources: Sources,
    *,
    grace: timedelta,
    now: datetime,
    email: str | None = None,
) -> Entitlement:
    """The membership at `now`: among active sources a renewing subscription, else the latest
    bought paid source (subscription or one-time term), else a grant; with none active, the
    most preferred inactive one. A term that starts later (after a subscription it replaces)
    is a change by time alone: `next_change_at` includes its start."""
    accesses = [subscription_access(s, grace) for s in sources.subscriptions]
    accesses += [a for a in (one_time_access(sources.terms),) if a is not None]
    accesses += [grant_access(sources.grant)] if sources.grant is not None else []
    active = [a for a in accesses if a.active_at(now)]
    pool = active or accesses
    chosen = max(pool, key=lambda a: a.preference) if pool else None
    if chosen is not None and not active and chosen.status in ENTITLING:
        chosen = replace(chosen, status="expired")
    open_ended = any(a.open_ended for a in active)
    ends = [a.until for a in active if a.until is not None]
    changes = [t.start for t in sources.terms if t.voided_at is None and t.start > now]
    if chosen is not None and active and chosen.until is not None:
        changes.append(chosen.until)
    return Entitlement(
        key=key,
        access=chosen,
        active=bool(active),
        open_ended=open_ended,
        access_until=None if open_ended or not ends else max(ends),
        next_change_at=min(changes, default=None),
        email=email or sources.email,
    )


def superseded(subscriptions: Iterable[SubscriptionRecord]) -> list[tuple[SubscriptionRecord, str]]:
    """Billable subscriptions another entitling one replaces, paired with the replacing id.

    In one group a member keeps the newest entitling subscription (Stripe's `created`, then id);
    a `previous_subscription_id` names a replaced one explicitly, whatever its group.
    Ones whose cancellation was already requested are left out.
    """
    subs = list(subscriptions)
    entitling = [s for s in subs if s.status in ENTITLING]
    replaced: dict[str, tuple[SubscriptionRecord, str]] = {}
    for new in entitling:
        for old in subs:
            if old.id == new.id or old.status not in BILLABLE or old.cancel_requested_at:
                continue
            named = new.previous_subscription_id == old.id and old.user_id == new.user_id
            older = (old.user_id, old.group_id) == (new.user_id, new.group_id) and (
                old.created,
                old.id,
            ) < (new.created, new.id)
            if (named or older) and old.previous_subscription_id != new.id:
                replaced.setdefault(old.id, (old, new.id))
    return list(replaced.values())
