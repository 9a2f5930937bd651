"""Any permutation and duplication of one subscription's events (with the invoices and checkouts
naming it, which carry no state) — sign-ups, trials and their end, renewals, failed payments,
cancellations at period end and now, tier switches in place and pauses of collection — gives
the same entitlement as in-order delivery, including events stamped in the same second (placed
by their states and periods, else re-read from "Stripe"), and in order Stripe is read only for
two different states of one second and one period that their statuses cannot place; and
whatever the order and the delivery times (a backlog, a rewind), the state applied never goes
back to an older one, even when reads from Stripe run ahead of the events still to come."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from membership.domain import rules
from membership.domain.model import MembershipKey, Sources, StripeTime, SubscriptionRecord

START = 1_800_000_000
MONTH = timedelta(days=30)
NOW = datetime.fromtimestamp(START + 10_000, UTC)
GRACE = timedelta(seconds=600)
KEY = MembershipKey("user", "group")
GOLD = ("gold", "price_g")


@dataclass(frozen=True)
class Event:
    """A subscription's snapshot; with `record` None, an invoice or a checkout naming it."""

    id: str
    created: int
    record: SubscriptionRecord | None


def _next(state: SubscriptionRecord, move: str) -> SubscriptionRecord | None:
    """Stripe's transitions (None where `move` does not apply)."""
    period = state.period_end
    assert period is not None
    match (state.status, move):
        case ("incomplete", "pay"):
            return replace(state, status="active")
        case ("trialing", "trial_converts"):
            return replace(state, status="active", period_start=period, period_end=period + MONTH)
        case ("trialing", "trial_lapses"):  # no payment method when it ends
            return replace(state, status="canceled")
        case ("active" | "trialing", "switch"):  # the price changed in place, with the tier
            tier, price = ("platinum", "price_p") if state.tier_id == "gold" else GOLD
            return replace(state, tier_id=tier, price_id=price)
        case ("incomplete", "expire"):
            return replace(state, status="incomplete_expired")
        case ("active", "renew"):
            return replace(state, period_start=period, period_end=period + MONTH)
        case ("active", "renew_fails"):
            return replace(state, status="past_due", period_start=period, period_end=period + MONTH)
        case ("active", "toggle_pause"):  # a member's pause of collection, or its resume
            return replace(state, pause_behavior=None if state.pause_behavior else "void")
        case ("active" | "trialing", "toggle_cancel_at_period_end"):
            return replace(state, cancel_at_period_end=not state.cancel_at_period_end)
        case ("past_due" | "unpaid", "retry_succeeds"):
            return replace(state, status="active")
        case ("past_due", "retry_fails"):
            return replace(state, status="unpaid")
        case ("active" | "trialing" | "past_due" | "unpaid", "cancel"):
            return replace(state, status="canceled")
        case (_, "touch"):  # a change membership keeps nothing of (latest_invoice, ...)
            return state
    return None


CHANGES = [
    "pay",
    "trial_converts",
    "trial_lapses",
    "switch",
    "expire",
    "renew",
    "renew_fails",
    "toggle_cancel_at_period_end",
    "toggle_pause",
    "retry_succeeds",
    "retry_fails",
    "cancel",
]
MOVES = st.sampled_from([*CHANGES, "touch"])
"""Stripe's changes, and updates that change nothing membership keeps (a second snapshot)."""


@st.composite
def histories(draw: st.DrawFn) -> list[Event]:
    state = SubscriptionRecord(
        id="sub_1",
        user_id=KEY.user_id,
        group_id=KEY.group_id,
        tier_id=GOLD[0],
        price_id=GOLD[1],
        status=draw(st.sampled_from(["active", "incomplete", "trialing"])),
        cancel_at_period_end=False,
        period_start=datetime.fromtimestamp(START, UTC),
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


def deliver(
    order: list[Event], stripe_now: SubscriptionRecord
) -> tuple[SubscriptionRecord | None, int]:
    """What the consumer does with each delivery (a re-read gets Stripe's current object; an
    invoice or a checkout stores the subscription as awaited until a snapshot arrives), and how
    many times it read Stripe."""
    stored, reads = None, 0
    for event in order:
        if event.record is None:
            awaited = replace(stripe_now, status="incomplete", version=0, period_end=None)
            stored = stored or replace(awaited, period_start=None)
            continue
        seen = datetime.fromtimestamp(event.created, UTC)
        incoming = _as_received(event.record, event, seen)
        decision, record = rules.merge(stored, incoming, fresh=False)
        if decision is rules.Ordering.REREAD:
            reads += 1
            now = int(NOW.timestamp())
            current = _as_read(stripe_now, event.id, StripeTime(now, now), NOW)
            decision, record = rules.merge(stored, rules.reread(incoming, current), fresh=True)
        stored = record or stored
    return stored, reads


def _unplaceable(history: list[Event]) -> int:
    """Consecutive snapshots of one second that nothing but Stripe orders: different states of
    one period, the earlier not `incomplete` (a first status) and the later not a final one."""
    final = {"canceled", "incomplete_expired"}

    def shown(r: SubscriptionRecord) -> tuple[object, ...]:
        return (
            r.status,
            r.cancel_at_period_end,
            r.period_end,
            r.tier_id,
            r.price_id,
            r.pause_behavior,
        )

    return sum(
        1
        for (x, a), (y, b) in pairwise((e.created, e.record) for e in history)
        if a is not None
        and b is not None
        and x == y
        and shown(a) != shown(b)
        and a.period_start == b.period_start
        and a.status != "incomplete"
        and (b.status not in final or a.status in final)
    )


def _as_received(state: SubscriptionRecord, event: Event, seen: datetime) -> SubscriptionRecord:
    return replace(
        state,
        version=event.created,
        last_event_id=event.id,
        past_due_since=seen if state.status == "past_due" else None,
    )


def _as_read(
    state: SubscriptionRecord, event_id: str, at: StripeTime, seen: datetime
) -> SubscriptionRecord:
    """`state` as read from Stripe sometime within `at` (while handling `event_id`)."""
    received = _as_received(state, Event(event_id, at.until, state), seen)
    return replace(received, version_from=at.since)


def _entitlement(record: SubscriptionRecord | None, at: datetime) -> rules.Entitlement:
    sources = Sources(subscriptions=[record] if record else [])
    return rules.entitlement(KEY, sources, grace=GRACE, now=at)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), history=histories())
def test_any_order_and_duplication_gives_the_in_order_result(
    data: st.DataObject, history: list[Event]
) -> None:
    final = history[-1].record
    assert final is not None
    in_order, reads = deliver(history, final)
    assert reads <= _unplaceable(history)
    notes = [Event(f"evt_note_{n}", START + n, None) for n in range(data.draw(st.integers(0, 2)))]
    duplicates = data.draw(st.lists(st.sampled_from(history), max_size=len(history)))
    shuffled = data.draw(st.permutations(history + notes + duplicates))
    out_of_order, _ = deliver(shuffled, final)

    assert in_order is not None and out_of_order is not None
    fields = (
        "status",
        "cancel_at_period_end",
        "period_end",
        "tier_id",
        "price_id",
        "past_due_since",
        "pause_behavior",
    )
    assert {f: getattr(out_of_order, f) for f in fields} == {
        f: getattr(in_order, f) for f in fields
    }
    assert (in_order.status, in_order.period_end, in_order.tier_id) == (
        final.status,
        final.period_end,
        final.tier_id,
    )
    for at in (NOW, NOW + GRACE, final.period_end):
        assert at is not None
        assert _entitlement(out_of_order, at) == _entitlement(in_order, at)


@dataclass(frozen=True)
class Step:
    """A change Stripe made at `at` (fractional seconds): its subscription event, and maybe an
    event that makes membership read the subscription (an invoice's, a checkout's)."""

    at: float
    record: SubscriptionRecord
    reads: bool


@dataclass(frozen=True)
class Sent:
    id: str
    step: int
    snapshot: bool


@st.composite
def timed_histories(draw: st.DrawFn) -> list[Step]:
    """Stripe's changes with their times; each state carries its place in history (`email`)."""
    first = draw(histories())[0].record
    assert first is not None
    state = replace(first, email="0")
    at = START + 0.5
    steps = [Step(at, state, reads=True)]
    for move in draw(st.lists(st.sampled_from(CHANGES), max_size=10)):  # each state its own
        following = _next(state, move)
        if following is None:
            continue
        at += draw(st.sampled_from([0.1, 0.4, 1.0, 2.5]))
        state = replace(following, email=str(len(steps)))
        steps.append(Step(at, state, reads=draw(st.booleans())))
    return steps


def _stripe_at(steps: list[Step], moment: float) -> SubscriptionRecord:
    return [step.record for step in steps if step.at <= moment][-1]


def consume(
    steps: list[Step], deliveries: list[tuple[Sent, float]], slack: tuple[float, float]
) -> list[int]:
    """The consumer's handling of each delivery at its time: a subscription event's snapshot
    is merged (re-read when ambiguous), another event reads Stripe. Reads are stamped with a
    window around the true moment (`slack` early, late: clocks and round trips). Returns the
    place in history of the state stored after each delivery."""
    stored: SubscriptionRecord | None = None
    places = []
    for sent, moment in deliveries:
        at = StripeTime(math.floor(moment - slack[0]), math.floor(moment + slack[1]))
        seen = datetime.fromtimestamp(moment, UTC)
        current = _as_read(_stripe_at(steps, moment), sent.id, at, seen)
        if sent.snapshot:
            step = steps[sent.step]
            event = Event(sent.id, math.floor(step.at), step.record)
            incoming = _as_received(step.record, event, datetime.fromtimestamp(event.created, UTC))
            decision, record = rules.merge(stored, incoming, fresh=False)
            if decision is rules.Ordering.REREAD:
                decision, record = rules.merge(stored, rules.reread(incoming, current), fresh=True)
        else:
            decision, record = rules.merge(stored, current, fresh=True)
        stored = record or stored
        assert stored is not None and stored.email is not None
        places.append(int(stored.email))
    return places


@settings(max_examples=300, deadline=None)
@given(data=st.data(), steps=timed_histories())
def test_whatever_the_delivery_times_no_older_state_follows_a_newer_one(
    data: st.DataObject, steps: list[Step]
) -> None:
    sent = [Sent(f"evt_{n}", n, snapshot=True) for n in range(len(steps))]
    sent += [Sent(f"evt_{n}_read", n, snapshot=False) for n, s in enumerate(steps) if s.reads]
    sent.sort(key=lambda each: (each.step, each.snapshot))
    duplicates = data.draw(st.lists(st.sampled_from(sent), max_size=len(sent)))
    order = data.draw(st.one_of(st.just(sent + duplicates), st.permutations(sent + duplicates)))
    delays = st.sampled_from([0.0, 0.3, 1.0, 60.0])
    deliveries, moment = [], START + 0.0
    for each in order:
        moment = max(moment, steps[each.step].at) + data.draw(delays)
        deliveries.append((each, moment))
    slack = data.draw(st.tuples(st.sampled_from([0, 0.5, 1.5]), st.sampled_from([0, 0.5, 1.5])))

    places = consume(steps, deliveries, slack)

    assert places == sorted(places), places
    assert places[-1] == len(steps) - 1
