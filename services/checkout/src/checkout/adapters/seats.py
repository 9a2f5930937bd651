"""The seats checkouts hold on tiers with a capacity, announced in the transaction that changed
them (`checkout.tier.seats_held`): membership checks a tier switch against them.

A unit of work collects the tiers whose holds it changed and announces them once, when it
commits (`SEATS_HELD`, queued last by `CheckoutUnitOfWork.commit`): one revision and one count
per tier and transaction, however many savepoints changed it.
"""

from __future__ import annotations

from checkout.adapters.catalog_repo import next_seat_revisions
from checkout.adapters.sessions_repo import held_seats
from checkout.domain.catalog import HeldSeats
from tollgate_shared.persistence.unit_of_work import Deferred, UnitOfWork


async def announce(uow: UnitOfWork, tier_ids: set[str]) -> None:
    """Announce the seats held on each of `tier_ids` that has a capacity, as they are now:
    each tier's next revision is taken under its row lock before counting, so a later revision
    never misses a change an earlier one counted."""
    if not tier_ids:
        return
    revisions = await next_seat_revisions(uow.session, tier_ids)
    if not revisions:
        return
    held = await held_seats(uow.session, [tier_id for tier_id, _, _ in revisions])
    for tier_id, group_id, revision in revisions:
        count, until = held.get(tier_id, (0, None))
        uow.emit(HeldSeats(tier_id, group_id, revision, count, until).event())


SEATS_HELD = Deferred(set[str], announce)
"""Tiers whose seat holds changed (`uow.deferred(SEATS_HELD).update(tier_ids)`)."""
