"""Saving a subscription reads back, in the same statement, what separate reads would see;
memberships and credit balances a unit saved or locked are answered as it left them and
written once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, text

from membership.domain import credits, rules
from membership.domain.credits import Allocation
from membership.domain.model import Announced, Grant, MembershipKey, SubscriptionRecord, Term
from membership.main import MIGRATIONS
from membership.service_layer.unit_of_work import MembershipUnitOfWork as Unit
from tollgate_shared.persistence.db import DriverStatement, transaction
from tollgate_shared.testing import count_writes, sessions_on, unique, writes

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def _subscription(
    sub_id: str, user: str, group: str, *, created: int = 1_000, **fields: str
) -> SubscriptionRecord:
    return SubscriptionRecord(
        id=sub_id,
        user_id=user,
        group_id=group,
        tier_id="gold",
        status="active",
        cancel_at_period_end=False,
        period_end=NOW + timedelta(days=30),
        created=created,
        version=created,
        **fields,
    )


async def test_saving_reads_the_member_state_and_related_subscriptions_after_the_save(
    migrated_database: Callable[[Path], str],
) -> None:
    async with sessions_on(migrated_database(MIGRATIONS)) as sessions:
        user, group, other_group = unique("user"), unique("group"), unique("group")
        key = MembershipKey(user, group)
        older = _subscription(unique("sub"), user, group, created=900, email="old@example.com")
        elsewhere = _subscription(unique("sub"), user, other_group)  # named as replaced below
        stranger = _subscription(unique("sub"), unique("user"), group)
        term = Term(
            id=unique("cs"),
            user_id=user,
            group_id=group,
            tier_id="silver",
            paid_at=NOW,
            term_days=30,
        )
        tomorrow = NOW + timedelta(days=1)
        grant = Grant(
            user_id=user, group_id=group, tier_id="comp", kind="comp", expires_at=tomorrow
        )
        async with Unit(sessions) as uow:
            for record in (older, elsewhere, stranger):
                await uow.memberships.save_subscription(record)
            await uow.memberships.add_term(term)
            await uow.memberships.save_grant(grant, granted_by="admin-1")
            before = await uow.memberships.member_state(key)
            entitlement = rules.entitlement(key, before[0], grace=timedelta(days=3), now=NOW)
            await uow.memberships.save_membership(entitlement)
            await uow.commit()

        newer = _subscription(
            unique("sub"), user, group, created=2_000, previous_subscription_id=elsewhere.id
        )
        async with Unit(sessions) as uow:
            await uow.memberships.save_subscription(replace(newer, status="incomplete"))
            related, state = await uow.memberships.save_subscription_reading(newer)
            read_after = await uow.memberships.member_state(key)

        assert sorted(s.id for s in related) == sorted([older.id, elsewhere.id, newer.id])
        assert next(s for s in related if s.id == newer.id) == newer  # the saved row, not the old
        assert sorted(s.id for s in state[0].subscriptions) == sorted([older.id, newer.id])
        assert sorted(state[0].subscriptions, key=lambda s: s.id) == sorted(
            read_after[0].subscriptions, key=lambda s: s.id
        )
        assert state[0].terms == read_after[0].terms == [term]
        assert state[0].grant == read_after[0].grant == grant
        assert state[1:] == read_after[1:]
        assert state[1] is not None and state[1].active


async def test_locked_ahead_members_stay_locked_and_each_subscription_is_read_ahead_once(
    migrated_database: Callable[[Path], str],
) -> None:
    async with sessions_on(migrated_database(MIGRATIONS)) as sessions:
        user, group = unique("user"), unique("group")
        stored = _subscription(unique("sub"), user, group)
        unknown = unique("sub")
        async with Unit(sessions) as uow:
            await uow.memberships.save_subscription(stored)
            await uow.commit()

        key = MembershipKey(user, group)
        try_lock = text("SELECT pg_try_advisory_xact_lock(hashtextextended(:k, 0))")
        async with Unit(sessions) as uow:
            await uow.memberships.lock_ahead({key}, [stored.id, unknown])
            async with transaction(sessions) as other:  # another transaction: the member is taken
                assert await other.scalar(try_lock, {"k": f"{group}\x1f{user}"}) is False
            # The first read answers from what was read ahead; once saved, as saved.
            assert await uow.memberships.subscription(stored.id) == stored
            await uow.memberships.save_subscription(replace(stored, status="past_due"))
            again = await uow.memberships.subscription(stored.id)
            assert again is not None and again.status == "past_due"
            assert await uow.memberships.subscription(unknown) is None


async def test_a_membership_saved_twice_is_read_as_last_saved_and_written_once_at_commit(
    migrated_database: Callable[[Path], str],
) -> None:
    async with sessions_on(migrated_database(MIGRATIONS)) as sessions:
        await count_writes(sessions, "memberships")
        user, group = unique("user"), unique("group")
        key = MembershipKey(user, group)
        gold = _subscription(unique("sub"), user, group)
        silver = replace(gold, tier_id="silver", version=gold.version + 1)
        grace = timedelta(days=3)
        async with Unit(sessions) as uow:
            await uow.memberships.save_subscription(gold)
            found, announced, _ = await uow.memberships.member_state(key)
            assert announced is None
            first = rules.entitlement(key, found, grace=grace, now=NOW, email="a@example.com")
            await uow.memberships.save_membership(first)
            _, as_saved = await uow.memberships.save_subscription_reading(silver)
            assert as_saved[1:] == (Announced.of(first), "a@example.com")
            second = rules.entitlement(key, as_saved[0], grace=grace, now=NOW)
            await uow.memberships.save_membership(second)
            assert (await uow.memberships.member_state(key))[1:] == (Announced.of(second), None)
            await uow.commit()
        assert await writes(sessions, "memberships") == {"INSERT": 1}
        async with Unit(sessions) as uow:
            _, stored, _ = await uow.memberships.member_state(key)
            assert stored == Announced.of(second)
            assert stored is not None and stored.tier_id == "silver"


async def test_locked_balances_are_read_once_and_answered_as_the_unit_leaves_them(
    migrated_database: Callable[[Path], str],
) -> None:
    async with sessions_on(migrated_database(MIGRATIONS)) as sessions:
        key = MembershipKey(unique("user"), unique("group"))
        cycle = Allocation(unique("in"), {"posts": 5}, NOW, NOW + timedelta(days=30))
        reads: list[str] = []

        def count_reads(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            if statement.startswith("SELECT") and "FROM credit_balances" in statement:
                reads.append(statement)

        event.listen(sessions.kw["bind"].sync_engine, "before_cursor_execute", count_reads)
        async with Unit(sessions) as uow:
            driver = uow.execute

            async def execute(statement: DriverStatement, params: Any = None) -> Any:
                count_reads(None, None, statement.sql)  # the driver's statements too
                return await driver(statement, params)

            uow.execute = execute  # type: ignore[method-assign]
            await uow.memberships.lock(key)
            await uow.credits.lock_ahead({key})
            assert await uow.credits.balances(key, lock=True) == {}
            assert await uow.credits.record_allocation(key, cycle)
            await uow.credits.apply_allocation(key, cycle, credits.reset({}, cycle))
            assert await uow.credits.balances(key, lock=True) == {"posts": 5}
            assert await uow.credits.debit(key, "posts", 2) == 3
            assert await uow.credits.balances(key, lock=True) == {"posts": 3}
            await uow.commit()
        assert len(reads) == 1
        async with Unit(sessions) as uow:
            assert await uow.credits.balances(key, lock=True) == {"posts": 3}


async def test_queued_subscriptions_are_read_as_saved_and_written_once_at_commit(
    migrated_database: Callable[[Path], str],
) -> None:
    async with sessions_on(migrated_database(MIGRATIONS)) as sessions:
        await count_writes(sessions, "subscriptions")
        user, group = unique("user"), unique("group")
        key = MembershipKey(user, group)
        first = _subscription(unique("sub"), user, group, created=1_000)
        lapsed = replace(first, status="past_due", version=first.version + 1)
        newer = _subscription(unique("sub"), user, group, created=2_000)
        async with Unit(sessions) as uow:
            await uow.memberships.save_subscription(first)
            await uow.memberships.save_subscription(lapsed)
            assert (await uow.memberships.member_state(key))[0].subscriptions == [lapsed]
            found = await uow.memberships.sources(key)
            assert found is not None and found.subscriptions == [lapsed]
            related, state = await uow.memberships.save_subscription_reading(newer)
            assert sorted(related, key=lambda s: s.created) == [lapsed, newer]
            assert sorted(state[0].subscriptions, key=lambda s: s.created) == [lapsed, newer]
            await uow.commit()
        # newer's save, then the one queued (as last saved)
        assert await writes(sessions, "subscriptions") == {"INSERT": 2}
        async with Unit(sessions) as uow:
            assert await uow.memberships.subscription(first.id) == lapsed
            assert await uow.memberships.subscription(newer.id) == newer
