"""Saving a subscription reads back, in the same statement, what separate reads would see."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from membership.adapters import repository
from membership.domain import rules
from membership.domain.model import Grant, MembershipKey, SubscriptionRecord, Term
from membership.main import MIGRATIONS
from tollgate_shared.db import transaction
from tollgate_shared.testing import sessions_on, unique

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
        async with transaction(sessions) as session:
            for record in (older, elsewhere, stranger):
                await repository.save_subscription(session, record)
            await repository.add_term(session, term)
            await repository.save_grant(session, grant, granted_by="admin-1")
            before = await repository.member_state(session, key)
            entitlement = rules.entitlement(key, before[0], grace=timedelta(days=3), now=NOW)
            await repository.save_membership(session, entitlement)

        newer = _subscription(
            unique("sub"), user, group, created=2_000, previous_subscription_id=elsewhere.id
        )
        async with transaction(sessions) as session:
            await repository.save_subscription(session, replace(newer, status="incomplete"))
            related, state = await repository.save_subscription_reading(session, newer)
            read_after = await repository.member_state(session, key)

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
        async with transaction(sessions) as session:
            await repository.save_subscription(session, stored)

        key = MembershipKey(user, group)
        try_lock = text("SELECT pg_try_advisory_xact_lock(hashtextextended(:k, 0))")
        async with transaction(sessions) as session:
            await repository.lock_ahead(session, {key}, [stored.id, unknown])
            async with transaction(sessions) as other:  # another transaction: the member is taken
                assert await other.scalar(try_lock, {"k": f"{group}\x1f{user}"}) is False
            # Changed behind `subscription`'s back: the first read answers from what was read
            # ahead, the next from the database.
            await repository.save_subscription(session, replace(stored, status="past_due"))
            assert await repository.subscription(session, stored.id) == stored
            again = await repository.subscription(session, stored.id)
            assert again is not None and again.status == "past_due"
            assert await repository.subscription(session, unknown) is None
