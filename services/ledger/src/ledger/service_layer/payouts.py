"""Payout requests: organizer asks, admin approves, Stripe transfers, the ledger books it.

Every balance check runs under the group's lock, so concurrent requests can never reserve
more than the group has available.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import stripe
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ledger.adapters import payout_requests as requests
from ledger.adapters import repository as repo
from ledger.domain import payouts
from ledger.domain.accounts import Account
from ledger.domain.errors import InvalidState, NotFound
from ledger.domain.payouts import PENDING, Interval, PayoutStatus
from ledger.service_layer import Deps
from ledger.service_layer.disbursements import record_transfer
from tollgate_shared.db import transaction
from tollgate_shared.stripe_client import idempotency_key


async def balance(session: AsyncSession, group_id: str, currency: str) -> dict[str, int]:
    """Payable (net earned - paid out), reserved by pending requests, and available."""
    payable = await repo.account_balance(
        session, group_id=group_id, currency=currency, account=Account.PAYABLE_TO_ORGANIZER
    )
    pending = await requests.pending_total(session, group_id=group_id, currency=currency)
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


async def request_payout(
    session: AsyncSession, command: PayoutRequest
) -> tuple[dict[str, Any], bool]:
    """Reserve `amount` for a payout; returns the request and whether it is new."""
    await repo.lock_group(session, command.group_id)
    if command.idempotency_key:
        existing = await requests.by_idempotency_key(
            session, command.group_id, command.idempotency_key
        )
        if existing is not None:
            return existing, False
    now = await balance(session, command.group_id, command.currency)
    payouts.check_can_withdraw(command.amount, payable=now["payable"], pending=now["pending"])
    created = await requests.add(
        session,
        group_id=command.group_id,
        amount=command.amount,
        currency=command.currency,
        requested_by=command.requested_by,
        idempotency_key=command.idempotency_key,
    )
    return created, True


async def _approve(session: AsyncSession, payout_id: str, admin: str) -> dict[str, Any]:
    request = await requests.get(session, payout_id)
    if request is None:
        raise NotFound(f"no payout request {payout_id}")
    await repo.lock_group(session, request["group_id"])
    request = await requests.get(session, payout_id) or request
    if request["status"] not in PENDING:
        return request
    now = await balance(session, request["group_id"], request["currency"])
    # The request's own reservation is part of `pending`; it must still be covered.
    payouts.check_can_withdraw(
        request["amount"], payable=now["payable"], pending=now["pending"] - request["amount"]
    )
    schedule = await requests.get_schedule(session, request["group_id"])
    destination = schedule and schedule["destination_account"]
    if not destination:
        raise InvalidState("the group has no connected account to pay out to")
    return await requests.update(
        session,
        payout_id,
        status=PayoutStatus.APPROVED,
        decided_by=admin,
        destination_account=destination,
        attempts=request["attempts"] + 1,
    )


async def approve_payout(
    deps: Deps, sessions: async_sessionmaker[AsyncSession], payout_id: str, *, admin: str
) -> dict[str, Any]:
    """Approve and send the transfer (retrying an approved one is safe: same idempotency key)."""
    async with transaction(sessions) as session:
        request = await _approve(session, payout_id, admin)
    if request["status"] != PayoutStatus.APPROVED:
        return request
    try:
        transfer = await deps.stripe.create_transfer(
            amount=request["amount"],
            currency=request["currency"],
            destination=request["destination_account"],
            metadata={"group_id": request["group_id"], "payout_id": payout_id},
            transfer_group=payout_id,
            idempotency_key=idempotency_key("transfer", payout_id),
        )
    except stripe.InvalidRequestError as exc:
        async with transaction(sessions) as session:
            await requests.update(
                session, payout_id, status=PayoutStatus.FAILED, failure=str(exc.user_message)
            )
        raise InvalidState(f"Stripe refused the transfer: {exc.user_message}") from None
    async with transaction(sessions) as session:
        await record_transfer(deps, session, transfer, causation_id=payout_id)
        found = await requests.get(session, payout_id)
    assert found is not None
    return found


async def reject_payout(session: AsyncSession, payout_id: str, *, admin: str) -> dict[str, Any]:
    """Turn a request down, releasing its reservation."""
    request = await requests.get(session, payout_id)
    if request is None:
        raise NotFound(f"no payout request {payout_id}")
    if request["status"] == PayoutStatus.REJECTED:
        return request
    if request["status"] != PayoutStatus.REQUESTED:
        raise InvalidState(f"a {request['status']} request cannot be rejected")
    return await requests.update(session, payout_id, status=PayoutStatus.REJECTED, decided_by=admin)


async def request_scheduled_payouts(
    sessions: async_sessionmaker[AsyncSession], now: datetime
) -> list[dict[str, Any]]:
    """For every weekly/monthly schedule that is due, request what is available above its
    minimum (admins still approve it)."""
    async with sessions() as session:
        schedules = await requests.schedules(session)
    created = []
    for schedule in schedules:
        async with transaction(sessions) as session:
            group_id = schedule["group_id"]
            last = await requests.last_scheduled(session, group_id)
            if not payouts.schedule_due(Interval(schedule["interval"]), last, now):
                continue
            await repo.lock_group(session, group_id)
            free = (await balance(session, group_id, schedule["currency"]))["available"]
            if free <= 0 or free < schedule["minimum_amount"]:
                continue
            request, _ = await request_payout(
                session,
                PayoutRequest(group_id, free, schedule["currency"], requested_by="schedule"),
            )
            created.append(request)
    return created
