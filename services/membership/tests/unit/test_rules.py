"""Domain rules without I/O: one-time terms, superseded subscriptions, announcements."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from membership.domain import rules
from membership.domain.announcements import announce, ended_type
from membership.domain.legacy import LegacyMember, choose_legacy
from membership.domain.model import Announced, MembershipKey, Sources, SubscriptionRecord, Term

T0 = datetime(2026, 1, 1, tzinfo=UTC)
KEY = MembershipKey("u", "g")


def _term(id: str, paid_at: datetime) -> Term:
    return Term(id=id, user_id="u", group_id="g", tier_id="annual", paid_at=paid_at, term_days=365)


def _sub(id: str, created: int, status: str = "active", **changes: object) -> SubscriptionRecord:
    values: dict[str, object] = {
        "id": id,
        "user_id": "u",
        "group_id": "g",
        "tier_id": id,
        "status": status,
        "cancel_at_period_end": False,
        "period_end": T0 + timedelta(days=30),
        "created": created,
        "version": created,
    }
    return SubscriptionRecord(**{**values, **changes})  # type: ignore[arg-type]


def test_terms_run_back_to_back_whatever_order_they_arrive_in() -> None:
    early, late = _term("a", T0), _term("b", T0 + timedelta(days=100))
    assert rules.term_end([early, late]) == rules.term_end([late, early])
    assert rules.term_end([early, late]) == T0 + timedelta(days=730)
    expired_then_renewed = [early, _term("c", T0 + timedelta(days=400))]
    assert rules.term_end(expired_then_renewed) == T0 + timedelta(days=765)


def test_the_newest_entitling_subscription_supersedes_older_billable_ones() -> None:
    old, new, ended = _sub("old", 100), _sub("new", 200), _sub("ended", 50, "canceled")
    assert [(o.id, n) for o, n in rules.superseded([new, old, ended])] == [("old", "new")]
    named = _sub("named", 300, group_id="other", previous_subscription_id=None)
    replacing = _sub("replacing", 250, previous_subscription_id="named")
    assert ("named", "replacing") in [(o.id, n) for o, n in rules.superseded([named, replacing])]
    requested = _sub("old", 100, cancel_requested_at=T0)
    assert rules.superseded([new, requested]) == []


def test_snapshots_of_one_second_are_placed_by_their_periods_before_reading() -> None:
    month = timedelta(days=30)
    signed_up = _sub("s", 100, period_start=T0, period_end=T0 + month)
    renewed = _sub("s", 100, period_start=T0 + month, period_end=T0 + 2 * month)
    assert rules.place(signed_up, renewed) is rules.Ordering.APPLY
    assert rules.place(renewed, signed_up) is rules.Ordering.IGNORE
    declined = replace(renewed, status="past_due")  # one period: only Stripe tells
    assert rules.place(declined, renewed) is rules.Ordering.REREAD
    stored_without_start = replace(signed_up, period_start=None)  # saved before periods were
    assert rules.place(stored_without_start, renewed) is rules.Ordering.REREAD


def test_past_due_keeps_access_for_the_grace_period_only() -> None:
    sub = _sub("s", 1, "past_due", past_due_since=T0)
    grace = timedelta(days=3)
    sources = Sources(subscriptions=[sub])
    assert rules.entitlement(KEY, sources, grace=grace, now=T0 + timedelta(days=2)).active
    assert not rules.entitlement(KEY, sources, grace=grace, now=T0 + timedelta(days=3)).active


def test_a_members_pause_grants_what_was_paid_an_organizers_grace_goes_on() -> None:
    month, grace = timedelta(days=30), timedelta(days=3)
    renewed_unpaid = _sub(
        "s",
        1,
        period_start=T0 + month,
        period_end=T0 + 2 * month,
        pause_behavior="void",
        paid_through=T0 + month,
    )

    def at(sub: SubscriptionRecord, now: datetime) -> rules.Entitlement:
        return rules.entitlement(KEY, Sources(subscriptions=[sub]), grace=grace, now=now)

    paid = at(renewed_unpaid, T0 + month - timedelta(seconds=1))
    assert paid.active and not paid.open_ended and paid.access_until == T0 + month
    assert paid.next_change_at == T0 + month
    ended = at(renewed_unpaid, T0 + month)
    assert not ended.active and ended.access and ended.access.end_reason == "paused"
    assert ended_type("paused").__name__ == "MembershipCanceled"
    unknown = replace(renewed_unpaid, paid_through=None)  # no paid invoice seen: the start
    assert at(unknown, T0 + month).access_until is None
    assert not at(unknown, T0 + month).active
    ending = replace(renewed_unpaid, cancel_at_period_end=True, paid_through=T0 + 3 * month)
    assert at(ending, T0 + month).access_until == T0 + 2 * month
    for kept in ("keep_as_draft", "mark_uncollectible"):
        organizers = at(replace(renewed_unpaid, pause_behavior=kept), T0 + 5 * month)
        assert organizers.active and organizers.open_ended
    # A pause shows in what a snapshot holds: one second's two snapshots are told apart.
    assert rules.place(replace(renewed_unpaid, pause_behavior=None), renewed_unpaid) is (
        rules.Ordering.REREAD
    )


def test_what_paid_invoices_reach_is_kept_across_snapshots() -> None:
    stored = _sub("s", 100, paid_through=T0 + timedelta(days=30))
    _, merged = rules.merge(stored, _sub("s", 200, pause_behavior="void"), fresh=False)
    assert merged is not None and merged.paid_through == T0 + timedelta(days=30)
    assert merged.pause_behavior == "void"


def test_announcements_follow_the_membership_not_the_subscription() -> None:
    grace = timedelta(days=3)
    silver = rules.entitlement(KEY, Sources([_sub("silver", 1)]), grace=grace, now=T0)
    both = Sources([_sub("silver", 1), _sub("gold", 2)])
    gold = rules.entitlement(KEY, both, grace=grace, now=T0)
    assert [e.type for e in announce(None, silver, cause="e1", causation_id="e1")] == [
        "membership.activated"
    ]
    changed = announce(Announced.of(silver), gold, cause="e2", causation_id="e2")
    assert [(e.type, e.tier_id, e.previous_tier_id) for e in changed] == [  # type: ignore[attr-defined]
        ("membership.tier_changed", "gold", "silver")
    ]
    assert announce(Announced.of(gold), gold, cause="e3", causation_id="e3") == []
    again = announce(None, silver, cause="e1", causation_id="e1")
    assert again[0].id == announce(None, silver, cause="e1", causation_id="e1")[0].id


def test_each_way_of_ending_is_announced_as_canceled_expired_or_revoked() -> None:
    grace = timedelta(days=3)
    active = rules.entitlement(KEY, Sources([_sub("s", 1)]), grace=grace, now=T0)
    expected = {
        "canceled": "membership.canceled",
        "paused": "membership.canceled",
        "incomplete_expired": "membership.canceled",
        "unpaid": "membership.expired",
    }
    for status, event_type in expected.items():
        after = rules.entitlement(KEY, Sources([_sub("s", 1, status)]), grace=grace, now=T0)
        [ended] = announce(Announced.of(active), after, cause=status, causation_id=None)
        assert ended.type == event_type
    assert [ended_type(r).model_fields["type"].default for r in ("refunded", "dispute_lost")] == [
        "membership.revoked",
        "membership.revoked",
    ]


def test_legacy_members_by_cutoff_and_cap_oldest_first() -> None:
    members = [
        LegacyMember("late", member_since=T0 + timedelta(days=1)),
        LegacyMember("unknown"),
        LegacyMember("old", member_since=T0 - timedelta(days=9)),
        LegacyMember("older", member_since=T0 - timedelta(days=99)),
    ]
    chosen = choose_legacy(members, cutoff=T0, cap=2)
    assert chosen.granted == ["older", "old"]
    assert chosen.skipped == {"late": "after_cutoff", "unknown": "over_cap"}
