"""Any permutation and duplication of one subscription's events gives the same entitlement as
in-order delivery, including events stamped in the same second (re-read from "Stripe")."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from membership.domain import rules
from membership.domain.model import MembershipKey, Sources, SubscriptionRecord

START = 1_800_000_000
MONTH = timedelta(days=30)
NOW = datetime.fromtimestamp(START + 10_000, UTC)
GRACE = timedelta(seconds=600)
KEY = MembershipKey("user", "group")


@dataclass(frozen=True)
class Event:
    id: str
    created: int
    record: SubscriptionRecord


def _next(state: SubscriptionRecord, move: str) -> SubscriptionRecord | None:
    """Stripe's transitions (None where `move` does not apply)."""
    period = state.period_end
    assert period is not None
    match (state.status, move):
        case ("active", "renew"):
            return replace(state, period_end=period + MONTH)
        case ("active", "renew_fails"):
            return replace(state, status="past_due", period_end=period + MONTH)
        case ("active", "toggle_cancel_at_period_end"):
            return replace(state, cancel_at_period_end=not state.cancel_at_period_end)
        case ("past_due" | "unpaid", "retry_succeeds"):
            return replace(state, status="active")
        case ("past_due", "retry_fails"):
            return replace(state, status="unpaid")
        case ("active" | "past_due" | "unpaid", "cancel"):
            return replace(state, status="canceled")
    return None


MOVES = st.sampled_from(
    [
        "renew",
        "renew_fails",
        "toggle_cancel_at_period_end",
        "retry_succeeds",
        "retry_fails",
        "cancel",
    ]
)


@st.composite
def histories(draw: st.DrawFn) -> list[Event]:
    state = SubscriptionRecord(
        id="sub_1",
        user_id=KEY.user_id,
        group_id=KEY.group_id,
        tier_id="gold",
        status="active",
        cancel_at_period_end=False,
        period_end=datetime.fromtimestamp(START, UTC) + MONTH,
        created=START,
        version=START,
    )
    created = START
    events = [Event("evt_0", created, state)]
    for n, move in enumerate(draw(st.lists(MOVES, max_size=12)), start=1):
        following = _next(state, move)
        if following is None:
            continue
        created += draw(st.sampled_from([0, 0, 1, 2]))
        state = following
        events.append(Event(f"evt_{n}", created, state))
    return events


def deliver(order: list[Event], stripe_now: SubscriptionRecord) -> SubscriptionRecord | None:
    """What the consumer does with each delivery (a re-read gets Stripe's current object)."""
    stored = None
    for event in order:
        seen = datetime.fromtimestamp(event.created, UTC)
        incoming = _as_received(event.record, event, seen)
        decision, record = rules.merge(stored, incoming, fresh=False)
        if decision is rules.Ordering.REREAD:
            fresh = rules.reread(incoming, _as_received(stripe_now, event, NOW))
            decision, record = rules.merge(stored, fresh, fresh=True)
        stored = record or stored
    return stored


def _as_received(state: SubscriptionRecord, event: Event, seen: datetime) -> SubscriptionRecord:
    return replace(
        state,
        version=event.created,
        last_event_id=event.id,
        past_due_since=seen if state.status == "past_due" else None,
    )


def _entitlement(record: SubscriptionRecord | None, at: datetime) -> rules.Entitlement:
    sources = Sources(subscriptions=[record] if record else [])
    return rules.entitlement(KEY, sources, grace=GRACE, now=at)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), history=histories())
def test_any_order_and_duplication_gives_the_in_order_result(
    data: st.DataObject, history: list[Event]
) -> None:
    final = history[-1].record
    in_order = deliver(history, final)
    duplicates = data.draw(st.lists(st.sampled_from(history), max_size=len(history)))
    shuffled = data.draw(st.permutations(history + duplicates))
    out_of_order = deliver(shuffled, final)

    assert in_order is not None and out_of_order is not None
    fields = ("status", "cancel_at_period_end", "period_end", "tier_id", "past_due_since")
    assert {f: getattr(out_of_order, f) for f in fields} == {
        f: getattr(in_order, f) for f in fields
    }
    assert (in_order.status, in_order.period_end) == (final.status, final.period_end)
    for at in (NOW, NOW + GRACE, final.period_end):
        assert at is not None
        assert _entitlement(out_of_order, at) == _entitlement(in_order, at)
