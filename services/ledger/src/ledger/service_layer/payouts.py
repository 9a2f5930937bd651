"""Payout requests: organizer (or schedule) asks, admin (or the group's threshold) approves,
Stripe transfers, the ledger books it; each outcome announced once (paid, rejected, failed).

Every balance check runs under the group's lock, so concurrent requests can never reserve
more than the group has available. Every decision (approve, reject) runs under the request's
row lock and checks its status there, so of two concurrent decisions one wins and the other
answers 409 having changed nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import stripe

from ledger.adapters.stripe_gateway import BookedTransfer
from ledger.domain import payouts
from ledger.domain.accounts import Account
from ledger.domain.errors import IdempotencyKeyReused, InvalidState, NotFound, StripeUnavailable
from ledger.domain.payouts import PayoutStatus
from ledger.domain.transactions import event_id
from ledger.service_layer import Deps
from ledger.service_layer.disbursements import record_transfer
from ledger.service_layer.unit_of_work import LedgerUnitOfWork
from tollgate_shared.contracts.ledger import PayoutFailed, PayoutRejected
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
        requested = await request_in(uow, command)
        await uow.commit()
    return requested


async def request_in(uow: LedgerUnitOfWork, command: PayoutRequest) -> tuple[dict[str, Any], bool]:
    """`request_payout` in the caller's unit of work (not committed)."""
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


async def approve_in(
    uow: LedgerUnitOfWork, payout_id: str, admin: str
) -> tuple[dict[str, Any], bool]:
    """Approve the request under its row lock, in the caller's unit of work (not committed);
    returns it and whether an earlier approval already took it (the transfer is then resumed
    with the parameters recorded then)."""
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
        request, resumed = await approve_in(uow, payout_id, admin)
        await uow.commit()
    return await send_transfer(deps, request, resumed=resumed)


async def send_transfer(deps: Deps, request: dict[str, Any], *, resumed: bool) -> dict[str, Any]:
    """Send an approved request's transfer (a resumed one's is looked for first) and book it;
    the request as it is then."""
    payout_id = request["payout_id"]
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
        reason = str(exc.user_message or exc.code or "refused")
        async with deps.uow() as uow:
            if await uow.payouts.mark_failed(payout_id, failure=reason):
                _announce(uow, PayoutFailed, request, reason=reason[:500])
            await uow.commit()
        raise InvalidState(f"Stripe refused the transfer: {reason}") from None


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
        _announce(uow, PayoutRejected, rejected, decided_at=rejected["decided_at"])
        await uow.commit()
    return rejected


def _announce(
    uow: LedgerUnitOfWork,
    kind: type[PayoutFailed | PayoutRejected],
    request: dict[str, Any],
    **fields: Any,
) -> None:
    """Queue the request's outcome of `kind`, once (its id derives from the request's)."""
    payout_id = request["payout_id"]
    uow.emit(
        kind(
            id=event_id(kind.declared_type(), payout_id),
            causation_id=payout_id,
            group_id=request["group_id"],
            amount=request["amount"],
            currency=request["currency"],
            payout_id=payout_id,
            **fields,
        )
    )
