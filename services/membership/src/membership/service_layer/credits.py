"""Allocating credits on paid cycles and spending them (each in the caller's transaction)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from membership.adapters import credits_repo, repository
from membership.domain import credits
from membership.domain.credits import Allocation, Entry, SpendOutcome, SpendRequest
from membership.domain.errors import IdempotencyKeyReused, NotAMember
from membership.domain.model import MembershipKey
from membership.service_layer.memberships import entitlements


async def allocate(session: AsyncSession, key: MembershipKey, allocation: Allocation) -> bool:
    """Reset the member's balances to a paid cycle's allowances (a cycle of a tier without
    credits expires what is left), once per cycle and only if no newer cycle was allocated
    (see `domain.credits`); True if it was applied."""
    await repository.lock(session, key)
    balances = await credits_repo.balances(session, key, lock=True)
    if not (allocation.allowances or any(balances.values())):
        return False  # no credits before or after: nothing to record
    if not await credits_repo.record_allocation(session, key, allocation):
        return False
    latest = await credits_repo.latest_cycle_start(session, key)
    if latest is not None and allocation.cycle_start < latest:
        return False
    entries = credits.reset(balances, allocation)
    await credits_repo.apply_allocation(session, key, allocation, entries)
    return True


async def spend(
    session: AsyncSession,
    key: MembershipKey,
    request: SpendRequest,
    *,
    idempotency_key: str,
    grace: timedelta,
    now: datetime,
) -> SpendOutcome:
    """Spend credits of an active member; the same key answers the same (a refused spend too).

    Raises NotAMember before anything is stored, IdempotencyKeyReused for a key used with
    another request. The caller commits, also when the outcome says nothing was spent.
    """
    if not await credits_repo.claim_spend(session, key, idempotency_key, request):
        stored = await credits_repo.spend_answer(session, key, idempotency_key)
        if stored is None or stored[0] != request.fingerprint:
            raise IdempotencyKeyReused(f"idempotency key {idempotency_key!r} was used before")
        return stored[1]
    found = await entitlements(session, key.user_id, grace=grace, now=now, group_id=key.group_id)
    if not (found and found[0].active):
        raise NotAMember(f"{key.user_id} is not an active member of {key.group_id}")
    balance = await credits_repo.debit(session, key, request.kind, request.amount)
    spent = balance is not None
    if balance is None:
        balance = (await credits_repo.balances(session, key)).get(request.kind, 0)
    else:
        entry = Entry(request.kind, "spent", -request.amount, balance, request.reference)
        await credits_repo.add_entries(session, key, [entry])
    at = await credits_repo.answer_spend(
        session, key, idempotency_key, spent=spent, balance=balance
    )
    return SpendOutcome(request, spent=spent, balance=balance, at=at)
