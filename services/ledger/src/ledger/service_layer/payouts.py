"""Payout requests: organizer asks, admin approves, Stripe transfers, the ledger books it.

Every balance check runs under the group's lock, so concurrent requests can never reserve
more than the group has available. Every decision (approve, reject) runs under the request's
row lock and checks its status there, so of two concurrent decisions one wins and the other
answers 409 having changed nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import stripe

from ledger.adapters.stripe_gateway import BookedTransfer
from ledger.domain import payouts
from ledger.domain.accounts import Account
from ledger.domain.errors import IdempotencyKeyReused, InvalidState, NotFound, StripeUnavailable
from ledger.domain.payouts import Interval, PayoutStatus
from ledger.service_layer import Deps
from ledger.service_layer.disbursements import record_transfer
from ledger.service_layer.unit_of_work import LedgerUnitOfWork
from tollgate_shared.infra.stripe_client import idempotency_key


async def balance(uow: LedgerUnitOfWork, group_id: str, currency: str) -> dict[str, int]:
    """Payable (net earned - paid out), reserved by pending requests, and available."""
    payable = await uow.books.account_balance(group_id, currency, Account.PAYABLE_TO_ORGANIZER)
    pending = await uow.payouts.pending_total(group_id, currency)
    return {
        "payable": payable,
        "pending": pending,
        "available": payouts.available(payable, pending),
    }


@dataclass(frozen=True)
class PayoutRequest:
    group_id: str
    amount: int
    currency: str
    requested_by: str
    idempotency_key: str | None = None


async def request_payout(deps: Deps, command: PayoutRequest) -> tuple[dict[str, Any], bool]:
    """Reserve `amount` for a payout; returns the request and whether it is new (a key sent
    again answers the request it made, if it asked for the same)."""
    async with deps.uow() as uow:
        requested = await _request(uow, command)
        await uow.commit()
    return requested


async def _request(uow: LedgerUnitOfWork, command: PayoutRequest) -> tuple[dict[str, Any], bool]:
    await uow.books.lock_group(command.group_id)
    if command.idempotency_key:
        existing = await uow.payouts.by_idempotency_key(command.group_id, command.idempotency_key)
        if existing is not None:
            if (existing["amount"], existing["currency"]) != (command.amount, command.currency):
                raise IdempotencyKeyReused("this Idempotency-Key was used with a different request")
            return existing, False
    now = await balance(uow, command.group_id, command.currency)
    payouts.check_can_withdraw(command.amount, payable=now["payable"], pending=now["pending"])
    created = await uow.payouts.add(
        group_id=command.group_id,
        amount=command.amount,
        currency=command.currency,
        requested_by=command.requested_by,
        idempotency_key=command.idempotency_key,
    )
    return created, True


async def _approve(
    uow: LedgerUnitOfWork, payout_id: str, admin: str
) -> tuple[dict[str, Any], bool]:
    """Approve the request under its row lock; returns it and whether an earlier approval
    already took it (the transfer is then resumed with the parameters recorded then)."""
    found = await uow.payouts.get(payout_id)
    if found is None:
        raise NotFound(f"no payout request {payout_id}")
    # The group's lock first, like every command that reserves money, then the request's row.
    await uow.books.lock_group(found["group_id"])
    request = await uow.payouts.get(payout_id, lock=True) or found
    payouts.check_can_approve(request["status"])
    if request["status"] == PayoutStatus.APPROVED:
        resumed = await uow.payouts.update(payout_id, attempts=request["attempts"] + 1)
        return resumed, True
    now = await balance(uow, request["group_id"], request["currency"])
    # The request's own reservation is part of `pending`; it must still be covered.
    payouts.check_can_withdraw(
        request["amount"], payable=now["payable"], pending=now["pending"] - request["amount"]
    )
    schedule = await uow.payouts.get_schedule(request["group_id"])
    destination = schedule and schedule["destination_account"]
    if not destination:
        raise InvalidState("the group has no connected account to pay out to")
    approved = await uow.payouts.decide(
        payout_id,
        status=PayoutStatus.APPROVED,
        decided_by=admin,
        destination_account=destination,
        attempts=request["attempts"] + 1,
    )
    return approved, False


async def approve_payout(deps: Deps, payout_id: str, *, admin: str) -> dict[str, Any]:
    """Approve a request, then send its transfer and book it.

    The approval commits before Stripe is called: from then on the request cannot be rejected
    and its money stays reserved, so no transfer leaves for a request that ends rejected.
    A crash before the transfer leaves it `approved`: approving again sends it. A crash after
    Stripe made it, before it is booked, leaves it `approved` too: `transfer.created` books it
    and marks it paid, and approving again finds it by transfer group (Stripe forgets
    idempotency keys after a day) or gets it back by its key; it is booked once (keyed by the
    transfer id).
    """
    async with deps.uow() as uow:
        request, resumed = await _approve(uow, payout_id, admin)
        await uow.commit()
    try:
        earlier = await deps.stripe.transfer_in_group(payout_id) if resumed else None
        transfer = earlier or await _create_transfer(deps, request)
    except stripe.StripeError as exc:
        # No answer, or a concurrent approval's call in flight: the outcome is unknown, so the
        # request stays approved (reserved, not rejectable) until approving again settles it.
        raise StripeUnavailable(
            f"Stripe did not complete the transfer ({exc.user_message}); approve again to retry"
        ) from None
    async with deps.uow() as uow:
        await record_transfer(deps, uow, transfer, causation_id=payout_id)
        found = await uow.payouts.get(payout_id)
        await uow.commit()
    assert found is not None
    return found


async def _create_transfer(deps: Deps, request: dict[str, Any]) -> BookedTransfer:
    payout_id = request["payout_id"]
    try:
        return await deps.stripe.create_transfer(
            amount=request["amount"],
            currency=request["currency"],
            destination=request["destination_account"],
            metadata={"group_id": request["group_id"], "payout_id": payout_id},
            transfer_group=payout_id,
            idempotency_key=idempotency_key("transfer", payout_id),
        )
    except stripe.InvalidRequestError as exc:
        # Refused, nothing moved: the request ends failed and its money is free again.
        async with deps.uow() as uow:
            await uow.payouts.mark_failed(payout_id, failure=str(exc.user_message))
            await uow.commit()
        raise InvalidState(f"Stripe refused the transfer: {exc.user_message}") from None


async def reject_payout(deps: Deps, payout_id: str, *, admin: str) -> dict[str, Any]:
    """Turn a request down, releasing its reservation; a concurrent decision on it is waited
    for, and if it won this one is refused."""
    async with deps.uow() as uow:
        request = await uow.payouts.get(payout_id, lock=True)
        if request is None:
            raise NotFound(f"no payout request {payout_id}")
        payouts.check_can_reject(request["status"])
        rejected = await uow.payouts.decide(
            payout_id, status=PayoutStatus.REJECTED, decided_by=admin
        )
        await uow.commit()
    return rejected


async def request_scheduled_payouts(deps: Deps, now: datetime) -> list[dict[str, Any]]:
    """For every weekly/monthly schedule that is due, request what is available above its
    minimum (admins still approve it)."""
    async with deps.uow() as uow:
        schedules = await uow.payouts.schedules()
    created = []
    for schedule in schedules:
        async with deps.uow() as uow:
            group_id = schedule["group_id"]
            # Under the group's lock: a run beside this one (two cron pods, an overlap) that
            # requested first is seen, and the schedule is not due twice.
            await uow.books.lock_group(group_id)
            last = await uow.payouts.last_scheduled(group_id)
            if not payouts.schedule_due(Interval(schedule["interval"]), last, now):
                continue
            free = (await balance(uow, group_id, schedule["currency"]))["available"]
            if free <= 0 or free < schedule["minimum_amount"]:
                continue
            request, _ = await _request(
                uow, PayoutRequest(group_id, free, schedule["currency"], requested_by="schedule")
            )
            await uow.commit()
            created.append(request)
    return created
