"""The schedule task's rules through the fake unit of work: a due schedule requests what is
available once per due date, approves and pays it below the group's threshold (else an admin
decides), moves its due date; a transfer Stripe refused is announced failed once, one it did not
confirm is sent again later; a rejection is announced with when it was decided."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import stripe

from ledger.domain.accounts import Account
from ledger.domain.payouts import PayoutStatus
from ledger.service_layer import payouts, schedules
from tollgate_shared.contracts.ledger import PayoutFailed, PayoutRecorded, PayoutRejected

from .test_handlers import GROUP, Ledger, _paid

AVAILABLE = 9_680
"""What a payment of 100.00 with a fee of 3.20 leaves available."""


@pytest.fixture
async def funded() -> Ledger:
    ledger = Ledger()
    await _paid(ledger, "ch_1", 10_000, 320)
    return ledger


def _schedule(ledger: Ledger, due: datetime, **fields: Any) -> None:
    ledger.store.schedules[GROUP] = {
        "group_id": GROUP,
        "interval": "weekly",
        "currency": "usd",
        "minimum_amount": 0,
        "destination_account": "acct_1",
        "next_due_at": due,
        **fields,
    }


async def _threshold(ledger: Ledger, usd: int) -> None:
    async with ledger.deps.uow() as uow:
        await uow.groups.apply(group_id=GROUP, name="Hikers", thresholds={"usd": usd}, revision=1)
        await uow.commit()


async def _due_below_threshold(ledger: Ledger, transfers: stripe.StripeError | None) -> datetime:
    """The schedule due now, what is available below the threshold, and what Stripe answers
    transfers with (None: it makes them); now."""
    now = datetime.now(UTC)
    _schedule(ledger, now)
    await _threshold(ledger, AVAILABLE + 1)
    ledger.stripe.transfers = transfers
    return now


async def test_a_due_schedule_below_the_threshold_is_requested_approved_and_paid_once(
    funded: Ledger,
) -> None:
    now = datetime.now(UTC)
    due = now - timedelta(minutes=1)
    _schedule(funded, due)
    await _threshold(funded, AVAILABLE + 1)

    [paid] = await schedules.run_due(funded.deps, now)

    assert (paid["status"], paid["amount"], paid["requested_by"], paid["decided_by"]) == (
        PayoutStatus.PAID,
        AVAILABLE,
        "schedule",
        "auto",
    )
    assert paid["idempotency_key"] == f"schedule:{due.isoformat()}"
    assert paid["decided_at"] is not None
    assert funded.moved()[Account.PAID_OUT] == AVAILABLE
    [recorded] = funded.store.emitted(PayoutRecorded)
    assert (recorded.payout_id, recorded.amount, recorded.status) == (
        paid["payout_id"],
        AVAILABLE,
        "paid",
    )
    moved = funded.store.schedules[GROUP]["next_due_at"]
    assert moved > now and moved.weekday() == 0 and moved.time().isoformat() == "00:00:00"

    await _paid(funded, "ch_2", 1_000, 59)
    assert await schedules.run_due(funded.deps, now) == [], "not due again before its date"
    _schedule(funded, due)  # the same due date once more (a restored backup, a hand edit)
    assert await schedules.run_due(funded.deps, now) == [], "one request per due date"
    assert len(funded.store.requests) == 1
    assert funded.store.schedules[GROUP]["next_due_at"] == moved


@pytest.mark.parametrize(
    ("threshold", "destination"),
    [(AVAILABLE, "acct_1"), (0, "acct_1"), (AVAILABLE + 1, None)],
    ids=["at the threshold", "no threshold", "no connected account"],
)
async def test_a_due_request_waits_for_an_admin_at_or_above_the_threshold(
    funded: Ledger, threshold: int, destination: str | None
) -> None:
    now = datetime.now(UTC)
    _schedule(funded, now, destination_account=destination)
    await _threshold(funded, threshold)

    [waiting] = await schedules.run_due(funded.deps, now)

    assert (waiting["status"], waiting["decided_by"]) == (PayoutStatus.REQUESTED, None)
    assert funded.stripe.objects.keys() == {"ch_1"}, "no transfer"
    assert funded.store.emitted(PayoutRecorded) == []
    async with funded.deps.uow() as uow:
        assert (await payouts.balance(uow, GROUP, "usd"))["pending"] == AVAILABLE


async def test_too_little_available_makes_no_request_and_the_schedule_moves_on(
    funded: Ledger,
) -> None:
    now = datetime.now(UTC)
    _schedule(funded, now, minimum_amount=AVAILABLE + 1)
    assert await schedules.run_due(funded.deps, now) == []
    assert funded.store.requests == {}
    assert funded.store.schedules[GROUP]["next_due_at"] > now


async def test_a_transfer_stripe_refused_fails_the_request_and_is_announced_once(
    funded: Ledger,
) -> None:
    refused = stripe.InvalidRequestError("No such destination: 'acct_1'", param="destination")
    now = await _due_below_threshold(funded, refused)

    [failed] = await schedules.run_due(funded.deps, now)

    assert (failed["status"], failed["failure"]) == (
        PayoutStatus.FAILED,
        "No such destination: 'acct_1'",
    )
    [announced] = funded.store.emitted(PayoutFailed)
    assert (announced.payout_id, announced.group_id, announced.amount, announced.currency) == (
        failed["payout_id"],
        GROUP,
        AVAILABLE,
        "usd",
    )
    assert announced.reason == "No such destination: 'acct_1'"
    assert await schedules.resume_unpaid(funded.deps, now + timedelta(hours=1)) == []
    assert len(funded.store.emitted(PayoutFailed)) == 1
    async with funded.deps.uow() as uow:
        assert (await payouts.balance(uow, GROUP, "usd"))["available"] == AVAILABLE


async def test_a_transfer_stripe_did_not_confirm_is_sent_again_by_a_later_round(
    funded: Ledger,
) -> None:
    now = await _due_below_threshold(funded, stripe.APIConnectionError("Stripe is down"))

    [approved] = await schedules.run_due(funded.deps, now)
    assert (approved["status"], approved["attempts"]) == (PayoutStatus.APPROVED, 1)

    funded.stripe.transfers = None
    soon = now + schedules.RETRY_AFTER / 2
    assert await schedules.resume_unpaid(funded.deps, soon) == [], "not before its wait is over"
    later = now + schedules.RETRY_AFTER * 2
    [paid] = await schedules.resume_unpaid(funded.deps, later)
    assert (paid["payout_id"], paid["status"], paid["attempts"]) == (
        approved["payout_id"],
        PayoutStatus.PAID,
        2,
    )
    assert await schedules.resume_unpaid(funded.deps, later) == []
    assert len(funded.store.emitted(PayoutRecorded)) == 1
    assert funded.moved()[Account.PAID_OUT] == AVAILABLE


async def test_a_rejection_records_and_announces_when_it_was_decided(funded: Ledger) -> None:
    ask = payouts.PayoutRequest(GROUP, 5_000, "usd", requested_by="org_1")
    request, _ = await payouts.request_payout(funded.deps, ask)
    rejected = await payouts.reject_payout(funded.deps, request["payout_id"], admin="adm_1")
    assert (rejected["status"], rejected["decided_by"]) == (PayoutStatus.REJECTED, "adm_1")
    assert rejected["decided_at"] is not None
    [announced] = funded.store.emitted(PayoutRejected)
    assert (announced.payout_id, announced.amount, announced.decided_at) == (
        request["payout_id"],
        5_000,
        rejected["decided_at"],
    )
