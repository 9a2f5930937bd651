"""Occupancy reports queued in one transaction leave what applying them one by one leaves."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from checkout.adapters.occupancy import OCCUPANCY
from checkout.adapters.orm import checkout_sessions, members
from checkout.domain.checkout import Member
from checkout.main import MIGRATIONS
from checkout.service_layer.unit_of_work import CheckoutUnitOfWork
from tollgate_shared.persistence.db import transaction
from tollgate_shared.testing import sessions_on
from tollgate_shared.web.validation import MAX_ID_LENGTH

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def at(days: int) -> datetime:
    return T0 + timedelta(days=days)


# (member, event time), in stream order: late and out-of-order reports, two as new as each
# other, a report without a tier.
REPORTS = [
    (Member("ann", "g1", "gold", True, "sub_a"), at(2)),
    (Member("ann", "g1", "gold", False, "sub_a"), at(1)),  # older, arrives later: ignored
    (Member("bob", "g1", "gold", True, "sub_b"), at(3)),
    (Member("bob", "g1", "silver", True, "sub_b2"), at(3)),  # as new: the later one wins
    (Member("cat", "g1", None, False, None), at(4)),
    (Member("ann", "g2", "plus", True, "sub_c"), at(5)),
]

# (id, user, tier, status, created): paid sessions stop holding a seat once membership counts
# their buyer on the tier at or after their creation.
SESSIONS = [
    ("cs_ann_before", "ann", "gold", "paid", at(1)),
    ("cs_ann_after", "ann", "gold", "paid", at(6)),
    ("cs_ann_open", "ann", "gold", "open", at(0)),
    ("cs_bob_gold", "bob", "gold", "paid", at(2)),
    ("cs_bob_silver", "bob", "silver", "paid", at(3)),
    ("cs_cat", "cat", "gold", "paid", at(0)),
]


async def _seed(sessions: async_sessionmaker[AsyncSession]) -> None:
    rows: list[dict[str, Any]] = [
        {
            "id": id_,
            "user_id": user,
            "group_id": "g1",
            "purpose": "membership",
            "tier_id": tier,
            "request_hash": "h",
            "price_id": "price_x",
            "amount": 1500,
            "currency": "eur",
            "status": status,
            "expires_at": at(30),
            "created_at": created,
        }
        for id_, user, tier, status, created in SESSIONS
    ]
    async with transaction(sessions) as session:
        await session.execute(insert(checkout_sessions), rows)


async def _state(sessions: async_sessionmaker[AsyncSession]) -> tuple[list[Any], set[str]]:
    async with sessions() as session:
        found = (await session.execute(select(members).order_by(*members.primary_key))).all()
        released = await session.execute(
            select(checkout_sessions.c.id).where(checkout_sessions.c.released_at.is_not(None))
        )
        return [tuple(row) for row in found], set(released.scalars())


def _report(uow: CheckoutUnitOfWork, member: Member, event_at: datetime) -> None:
    uow.deferred(OCCUPANCY).report(
        member, event_at=event_at, release_holds=member.tier_id is not None
    )


async def _seeded_and_reported_together(sessions: async_sessionmaker[AsyncSession]) -> None:
    """`SESSIONS` stored, then every report of `REPORTS` queued in one unit of work."""
    await _seed(sessions)
    async with CheckoutUnitOfWork(sessions) as uow:
        for member, event_at in REPORTS:
            _report(uow, member, event_at)
        await uow.commit()


async def test_a_fetch_of_reports_leaves_what_one_by_one_leaves(
    migrated_database: Callable[[Path], str],
) -> None:
    async with sessions_on(migrated_database(MIGRATIONS)) as one_by_one:
        await _seed(one_by_one)
        for member, event_at in REPORTS:
            async with CheckoutUnitOfWork(one_by_one) as uow:
                _report(uow, member, event_at)
                await uow.commit()
        expected = await _state(one_by_one)

    async with sessions_on(migrated_database(MIGRATIONS)) as together:
        await _seeded_and_reported_together(together)
        assert await _state(together) == expected

    found, released = expected
    assert found == [
        ("ann", "g1", "gold", True, "sub_a", at(2)),
        ("ann", "g2", "plus", True, "sub_c", at(5)),
        ("bob", "g1", "silver", True, "sub_b2", at(3)),
        ("cat", "g1", None, False, None, at(4)),
    ]
    assert released == {"cs_ann_before", "cs_bob_gold", "cs_bob_silver"}


async def test_a_session_paid_after_membership_counted_its_buyer_is_released_as_it_is_paid(
    migrated_database: Callable[[Path], str],
) -> None:
    async with sessions_on(migrated_database(MIGRATIONS)) as sessions:
        await _seeded_and_reported_together(sessions)
        _, released = await _state(sessions)
        async with CheckoutUnitOfWork(sessions) as uow:
            # ann is counted on gold since day 2: the session begun on day 0 is released as it
            # is paid, the one begun on day 6 (after that report) still holds.
            for checkout_id in ("cs_ann_open", "cs_ann_after"):
                await uow.checkouts.move(checkout_id, "paid", release=True, if_member=True)
            await uow.commit()
        assert (await _state(sessions))[1] == released | {"cs_ann_open"}


async def test_a_failed_unit_of_work_writes_nothing(
    migrated_database: Callable[[Path], str],
) -> None:
    async with sessions_on(migrated_database(MIGRATIONS)) as sessions:
        try:
            async with CheckoutUnitOfWork(sessions) as uow:
                _report(uow, *REPORTS[0])
                raise RuntimeError("a handler failed")
        except RuntimeError:
            pass
        assert await _state(sessions) == ([], set())


async def test_reports_with_ids_as_long_as_membership_takes_are_kept(
    migrated_database: Callable[[Path], str],
) -> None:
    user, group, tier = ("u" * MAX_ID_LENGTH, "g" * MAX_ID_LENGTH, "t" * MAX_ID_LENGTH)
    member = Member(user, group, tier, True, "sub_" + "x" * (MAX_ID_LENGTH - 4))
    async with sessions_on(migrated_database(MIGRATIONS)) as sessions:
        async with CheckoutUnitOfWork(sessions) as uow:
            _report(uow, member, at(1))
            await uow.commit()
        found, _ = await _state(sessions)
    assert found == [(user, group, tier, True, member.subscription_id, at(1))]
