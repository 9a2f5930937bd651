"""The ledger's rules without I/O: the entries of each movement, the balancing rule, keys,
payout rules and the order of statuses."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta, timezone

import pytest

from ledger.domain import accounts, payouts
from ledger.domain.accounts import Account, Kind, Posting
from ledger.domain.attribution import Attribution
from ledger.domain.errors import AlreadyDecided, InsufficientBalance, UnbalancedTransaction
from ledger.domain.payments import Payment
from ledger.domain.payouts import Interval, PayoutStatus
from ledger.domain.statuses import status_rank
from ledger.domain.transactions import Transaction, event_id

T0 = datetime(2026, 3, 1, tzinfo=UTC)
A = Account


def _signed(postings: list[Posting]) -> dict[Account, int]:
    """What the postings move on each account."""
    moved: dict[Account, int] = defaultdict(int)
    for posting in postings:
        moved[posting.account] += posting.amount
    return dict(moved)


@pytest.mark.parametrize(
    ("postings", "expected"),
    [
        (accounts.payment(1000, "usd"), {A.PAYABLE_TO_ORGANIZER: 1000, A.GROSS_REVENUE: -1000}),
        (accounts.fee(59, "usd"), {A.STRIPE_FEES: 59, A.PAYABLE_TO_ORGANIZER: -59}),
        (accounts.refund(400, "usd"), {A.REFUNDS: 400, A.PAYABLE_TO_ORGANIZER: -400}),
        (accounts.disbursement(700, "usd"), {A.PAID_OUT: 700, A.PAYABLE_TO_ORGANIZER: -700}),
        # Funds withdrawn: the disputed amount and the dispute fee leave the payable.
        (
            accounts.dispute_movement(-1000, 1500, "usd"),
            {A.DISPUTES: 1000, A.STRIPE_FEES: 1500, A.PAYABLE_TO_ORGANIZER: -2500},
        ),
        # Funds reinstated (a won dispute): both come back.
        (
            accounts.dispute_movement(1000, -1500, "usd"),
            {A.DISPUTES: -1000, A.STRIPE_FEES: -1500, A.PAYABLE_TO_ORGANIZER: 2500},
        ),
    ],
)
def test_each_movement_moves_its_accounts_with_their_signs_and_balances(
    postings: list[Posting], expected: dict[Account, int]
) -> None:
    assert _signed(postings) == expected
    assert {p.currency for p in postings} == {"usd"}
    accounts.check_balanced(postings)


def test_a_reversal_undoes_its_postings_and_balances_too() -> None:
    original = accounts.disbursement(700, "eur")
    undone = accounts.reversal(original)
    assert _signed(undone) == {A.PAID_OUT: -700, A.PAYABLE_TO_ORGANIZER: 700}
    accounts.check_balanced(undone)
    assert _signed(original + undone) == {A.PAID_OUT: 0, A.PAYABLE_TO_ORGANIZER: 0}


@pytest.mark.parametrize(
    "postings",
    [
        [],
        [Posting(A.GROSS_REVENUE, 0, "usd")],
        [Posting(A.PAYABLE_TO_ORGANIZER, 100, "usd"), Posting(A.GROSS_REVENUE, -99, "usd")],
        # Zero in total, but not in each currency.
        [Posting(A.PAYABLE_TO_ORGANIZER, 100, "usd"), Posting(A.GROSS_REVENUE, -100, "eur")],
    ],
)
def test_a_transaction_must_have_two_sides_summing_to_zero_in_every_currency(
    postings: list[Posting],
) -> None:
    with pytest.raises(UnbalancedTransaction):
        accounts.check_balanced(postings)
    with pytest.raises(UnbalancedTransaction):
        Transaction(Kind.PAYMENT, "ch_1", "g", "usd", 100, postings, occurred_at=T0)


def test_two_currencies_in_one_transaction_balance_each_on_its_own() -> None:
    accounts.check_balanced(accounts.payment(100, "usd") + accounts.payment(13000, "jpy"))


def test_a_payment_books_its_gross_and_its_fee_attributed_and_keyed_by_its_charge() -> None:
    who = Attribution(group_id="g", user_id="u", tier_id="gold")
    payment = Payment("ch_1", who, amount=2500, fee=103, currency="usd", created_at=T0)
    gross, fee = payment.transactions()
    assert (gross.key, gross.amount, gross.attribution) == ("payment:ch_1", 2500, who)
    assert (fee.key, fee.amount, fee.attribution) == ("fee:ch_1", 103, who)
    assert _signed(gross.postings) == {A.PAYABLE_TO_ORGANIZER: 2500, A.GROSS_REVENUE: -2500}
    assert _signed(fee.postings) == {A.STRIPE_FEES: 103, A.PAYABLE_TO_ORGANIZER: -103}
    free = Payment("ch_2", who, amount=2500, fee=0, currency="usd", created_at=T0)
    assert [t.kind for t in free.transactions()] == [Kind.PAYMENT]


def test_a_payment_without_a_group_cannot_be_booked() -> None:
    payment = Payment("ch_1", Attribution(), amount=1, fee=0, currency="usd", created_at=T0)
    with pytest.raises(ValueError, match="not attributed"):
        payment.transactions()


def test_a_later_movement_is_attributed_like_its_payment_and_keyed_by_its_own_object() -> None:
    payment = Payment("ch_1", Attribution(group_id="g"), 2500, 0, "usd", T0, invoice_id="in_1")
    dispute = payment.movement(
        Kind.DISPUTE_FUNDS_WITHDRAWN,
        source_id="dp_1",
        amount=2500,
        postings=accounts.dispute_movement(-2500, 1500, "usd"),
        occurred_at=T0,
        discriminator="txn_1",
    )
    assert dispute.key == "dispute_funds_withdrawn:dp_1:txn_1"
    assert (dispute.group_id, dispute.charge_id, dispute.invoice_id) == ("g", "ch_1", "in_1")


def test_yen_amounts_are_whole_yen_from_stripe_to_the_entries() -> None:
    """JPY has no minor unit: Stripe's 5000 is ¥5000, booked as the integer 5000."""
    payment = Payment("ch_1", Attribution(group_id="g"), 5000, 180, "jpy", T0)
    entries = [p for t in payment.transactions() for p in t.postings]
    assert [(p.account, p.amount) for p in entries] == [
        (A.PAYABLE_TO_ORGANIZER, 5000),
        (A.GROSS_REVENUE, -5000),
        (A.STRIPE_FEES, 180),
        (A.PAYABLE_TO_ORGANIZER, -180),
    ]
    assert all(type(p.amount) is int and p.currency == "jpy" for p in entries)


def test_event_ids_are_the_same_for_the_same_cause_only() -> None:
    assert event_id("payment_recorded", "ch_1") == event_id("payment_recorded", "ch_1")
    assert event_id("payment_recorded", "ch_1") != event_id("payment_recorded", "ch_2")
    assert event_id("payout_recorded", "po_1", "paid") != event_id("payout_recorded", "po_1")


def test_attribution_reads_blank_metadata_as_absent_and_fills_gaps_from_another() -> None:
    mine = Attribution.from_metadata({"group_id": "g", "user_id": ""})
    assert mine == Attribution(group_id="g")
    assert mine.known and not Attribution().known
    assert mine.or_else(Attribution(group_id="h", user_id="u")) == Attribution("g", "u")


def test_a_payout_may_take_what_is_available_and_not_one_unit_more() -> None:
    assert payouts.available(payable=1000, pending=300) == 700
    payouts.check_can_withdraw(700, payable=1000, pending=300)
    with pytest.raises(InsufficientBalance, match="available 700"):
        payouts.check_can_withdraw(701, payable=1000, pending=300)
    with pytest.raises(InsufficientBalance, match="available 0"):
        payouts.check_can_withdraw(1, payable=100, pending=300)


@pytest.mark.parametrize("status", list(PayoutStatus))
def test_only_a_requested_payout_can_be_rejected_and_a_pending_one_approved(
    status: PayoutStatus,
) -> None:
    if status in payouts.PENDING:
        payouts.check_can_approve(status)
    else:
        with pytest.raises(AlreadyDecided):
            payouts.check_can_approve(status)
    if status is PayoutStatus.REQUESTED:
        payouts.check_can_reject(status)
    else:
        with pytest.raises(AlreadyDecided):
            payouts.check_can_reject(status)


def test_a_schedule_is_due_each_monday_or_first_of_the_month_never_when_manual() -> None:
    week, month = Interval.WEEKLY, Interval.MONTHLY
    sunday_evening = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)
    monday = datetime(2026, 3, 2, tzinfo=UTC)
    assert payouts.next_due(week, sunday_evening) == monday
    assert payouts.next_due(week, monday) == monday + timedelta(days=7), "strictly after"
    assert payouts.next_due(month, sunday_evening) == datetime(2026, 4, 1, tzinfo=UTC)
    assert payouts.next_due(month, datetime(2026, 12, 31, 12, tzinfo=UTC)) == datetime(
        2027, 1, 1, tzinfo=UTC
    )
    assert payouts.next_due(month, datetime(2026, 1, 31, tzinfo=UTC)) == datetime(
        2026, 2, 1, tzinfo=UTC
    )
    assert payouts.next_due(Interval.MANUAL, monday) is None
    # A zone other than UTC is the same instant: due at 00:00 UTC all the same.
    auckland = timezone(timedelta(hours=13))
    assert payouts.next_due(week, datetime(2026, 3, 2, 9, tzinfo=auckland)) == monday


def test_a_due_date_handled_late_moves_past_now_once_not_period_by_period() -> None:
    due = datetime(2026, 3, 2, tzinfo=UTC)
    assert payouts.moved_due(Interval.WEEKLY, due, due + timedelta(seconds=5)) == datetime(
        2026, 3, 9, tzinfo=UTC
    )
    weeks_later = datetime(2026, 4, 1, 10, tzinfo=UTC)  # no replica ran for a month
    assert payouts.moved_due(Interval.WEEKLY, due, weeks_later) == datetime(2026, 4, 6, tzinfo=UTC)


def test_only_a_request_strictly_below_the_groups_threshold_in_its_currency_is_approved() -> None:
    thresholds = {"usd": 5000, "jpy": 0}
    assert payouts.auto_approves(4999, "usd", thresholds)
    assert not payouts.auto_approves(5000, "usd", thresholds)
    assert payouts.auto_approves(4999, "USD", thresholds)
    assert not payouts.auto_approves(1, "jpy", thresholds), "zero approves nothing"
    assert not payouts.auto_approves(1, "eur", thresholds), "no threshold: an admin decides"


def test_a_status_later_in_an_objects_life_ranks_higher_unknown_ones_in_the_middle() -> None:
    assert status_rank("needs_response") < status_rank("under_review") < status_rank("won")
    assert status_rank("draft") < status_rank("open") < status_rank("paid")
    assert status_rank("open") < status_rank("something_new") < status_rank("lost")
    assert status_rank(None) == status_rank("something_new")
