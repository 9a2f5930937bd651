"""Allocating credits on paid cycles and spending them (each in the caller's transaction)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from membership.domain import credits
from membership.domain.credits import Allocation, Entry, SpendOutcome, SpendRequest
from membership.domain.errors import IdempotencyKeyReused, NotAMember
from membership.domain.model import MembershipKey
from membership.service_layer.memberships import entitlements
from membership.service_layer.unit_of_work import MembershipUnitOfWork


async def allocate(
    uow: MembershipUnitOfWork,
    key: MembershipKey,
    allocation: Allocation,
    *,
    now: datetime | None = None,
    after_terms: bool = False,
) -> bool:
    """Reset the member's balances to a paid cycle's allowances (a cycle of a tier without
    credits expires what is left), once per cycle and only if no newer cycle was allocated
    (see `domain.credits`); True if it was applied. A term's cycle starting after `now` is
    recorded and applied when it starts (`apply_due`, by the sweeper). With `after_terms` (a
    subscription's cycle, applied when paid) it starts no sooner than the member's paid
    one-time terms end: a subscription bought while a term runs trials until then, and the
    term's credits stay until it ends."""
    await uow.memberships.lock(key)
    balances = await uow.credits.balances(key, lock=True)
    if not (allocation.allowances or any(balances.values())):
        return False  # no credits before or after: nothing to record
    later = now  # a term's cycle may start later; a subscription's only after a term
    if after_terms:
        later = None
        paid_until = await uow.memberships.terms_end(key)
        if paid_until is not None and paid_until > allocation.cycle_start:
            allocation, later = replace(allocation, cycle_start=paid_until), now
    if not await uow.credits.record_allocation(key, allocation):
        return False
    if later is not None and allocation.cycle_start > later:
        return False
    return await _apply(uow, key, allocation, balances)


async def apply_due(uow: MembershipUnitOfWork, key: MembershipKey, now: datetime) -> int:
    """Apply the member's recorded cycles that have started by `now` (oldest first); how
    many were applied."""
    applied = 0
    for allocation in await uow.credits.due_allocations(key, now):
        balances = await uow.credits.balances(key, lock=True)
        applied += await _apply(uow, key, allocation, balances)
    return applied


async def _apply(
    uow: MembershipUnitOfWork,
    key: MembershipKey,
    allocation: Allocation,
    balances: dict[str, int],
) -> bool:
    latest = await uow.credits.latest_cycle_start(key)
    if latest is not None and allocation.cycle_start < latest:
        return False
    entries = credits.reset(balances, allocation)
    await uow.credits.apply_allocation(key, allocation, entries)
    return True


async def spend(
    uow: MembershipUnitOfWork,
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
    if not await uow.credits.claim_spend(key, idempotency_key, request):
        stored = await uow.credits.spend_answer(key, idempotency_key)
        if stored is None or stored[0] != request.fingerprint:
            raise IdempotencyKeyReused(f"idempotency key {idempotency_key!r} was used before")
        return stored[1]
    found = await entitlements(
        uow.session, key.user_id, grace=grace, now=now, group_id=key.group_id
    )
    if not (found and found[0].active):
        raise NotAMember(f"{key.user_id} is not an active member of {key.group_id}")
    balance = await uow.credits.debit(key, request.kind, request.amount)
    spent = balance is not None
    if balance is None:
        balance = (await uow.credits.balances(key)).get(request.kind, 0)
    else:
        entry = Entry(request.kind, "spent", -request.amount, balance, request.reference)
        await uow.credits.add_entries(key, [entry])
    at = await uow.credits.answer_spend(key, idempotency_key, spent=spent, balance=balance)
    return SpendOutcome(request, spent=spent, balance=balance, at=at)
